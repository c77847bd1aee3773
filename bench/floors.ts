// The floor of a crossing on each path: a call into native code that does nothing, so every
// single-call row can be read beside what the boundary alone costs on the same runtime, in the
// same run.
//
// - Node-API: `boundaryFloor()`, an empty raw callback with no arguments, in the bench addon
//   (nanocalc-node built with the cargo feature `bench-baselines`: bench/baseline-addon.ts). Bun and
//   Deno load that addon too, so it is also the floor of their forced `node-api` path.
// - bun:ffi and Deno's FFI: `nanocalc_engine_free(NULL)` from the C ABI library the package loads,
//   which returns at once on a null engine (include/nanocalc.h). One pointer argument, no result:
//   on Deno a V8 fast call, like `nanocalc_call`.
import { createRequire } from 'node:module';
import { ffiLibraryPath } from '../src/runtime/library.js';

/** A no-op crossing, and what it crosses. */
export interface Floor {
  /** Makes one no-op call. */
  call: () => void;
  /** What it is, for the table. */
  label: string;
}

// Each floor is made once per process: a second one (another dlopen, another function) through the
// same call site in this file would make that site polymorphic, and on Deno a polymorphic call of an
// FFI symbol is no longer a fast call (~95 ns instead of ~5: seen when bench:runtimes made two).
let napi: Floor | undefined;
let ffi: Floor | undefined;

/** The Node-API floor (`boundaryFloor` of the bench addon), on any runtime that loads addons. */
export function nodeApiFloor(): Floor {
  napi ??= openNodeApiFloor();
  return napi;
}

function openNodeApiFloor(): Floor {
  const addon = createRequire(import.meta.url)('../../target/bench-addon/nanocalc.node') as {
    boundaryFloor(): void;
  };
  const boundaryFloor = addon.boundaryFloor;
  return { call: () => boundaryFloor(), label: 'Node-API: boundaryFloor(), an empty raw callback' };
}

interface DenoFfi {
  dlopen(
    path: string,
    symbols: Record<string, { parameters: string[]; result: string }>,
  ): { symbols: { nanocalc_engine_free(engine: null): void } };
}

interface BunFfi {
  dlopen(
    path: string,
    symbols: Record<string, { args: string[]; returns: string }>,
  ): { symbols: { nanocalc_engine_free(engine: null): void } };
}

/** The FFI floor of this runtime (`bun:ffi` on Bun, a Deno fast call on Deno); undefined on Node. */
export function ffiFloor(): Floor | undefined {
  ffi ??= openFfiFloor();
  return ffi;
}

function openFfiFloor(): Floor | undefined {
  const g = globalThis as { Bun?: unknown; Deno?: DenoFfi };
  if (g.Deno !== undefined) {
    const { symbols } = g.Deno.dlopen(ffiLibraryPath(), {
      nanocalc_engine_free: { parameters: ['pointer'], result: 'void' },
    });
    const free = symbols.nanocalc_engine_free;
    return { call: () => free(null), label: 'Deno fast call: nanocalc_engine_free(NULL)' };
  }
  if (g.Bun !== undefined) {
    const ffi = createRequire(import.meta.url)('bun:ffi') as BunFfi;
    const { symbols } = ffi.dlopen(ffiLibraryPath(), { nanocalc_engine_free: { args: ['ptr'], returns: 'void' } });
    const free = symbols.nanocalc_engine_free;
    return { call: () => free(null), label: 'bun:ffi: nanocalc_engine_free(NULL)' };
  }
  return undefined;
}
