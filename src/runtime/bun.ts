// The engine on Bun: bun:ffi over the C ABI library (crates/nanocalc-ffi), loaded on first use.
import { createRequire } from 'node:module';
import type { Engine, EngineLimits } from './engine.js';
import { ffiLibraryPath, openFfiEngine } from './library.js';

/** The parts of bun:ffi used here (Bun's pointers are plain numbers). */
interface BunFfi {
  dlopen(path: string, symbols: Record<string, { args: string[]; returns: string }>): { symbols: Symbols };
  ptr(view: ArrayBufferView): number;
  CString: new (pointer: number) => { toString(): string };
}

interface Symbols {
  nanocalc_engine_new(maxRequestBytes: number, maxBatchLength: number, maxThreads: number): number | null;
  nanocalc_engine_free(engine: number): void;
  nanocalc_call(engine: number | null, buffer: number, length: number): number;
  nanocalc_columns(
    engine: number | null,
    buffer: number,
    length: number,
    a: number,
    b: number,
    out: number,
    count: number,
  ): number;
  nanocalc_last_error_message(): number;
}

let loaded: { ffi: BunFfi; symbols: Symbols; registry: FinalizationRegistry<number> } | undefined;

function load() {
  if (loaded === undefined) {
    // bun:ffi exists only on Bun, and only this module asks for it, when a Calculator opens there.
    const ffi = createRequire(import.meta.url)('bun:ffi') as BunFfi;
    const { symbols } = ffi.dlopen(ffiLibraryPath(), {
      nanocalc_engine_new: { args: ['u32', 'u32', 'u32'], returns: 'ptr' },
      nanocalc_engine_free: { args: ['ptr'], returns: 'void' },
      nanocalc_call: { args: ['ptr', 'ptr', 'u32'], returns: 'i32' },
      nanocalc_columns: { args: ['ptr', 'ptr', 'u32', 'ptr', 'ptr', 'ptr', 'u32'], returns: 'i32' },
      nanocalc_last_error_message: { args: [], returns: 'ptr' },
    });
    // An engine whose Calculator was dropped without close() is freed with its call function.
    const registry = new FinalizationRegistry<number>((engine) => symbols.nanocalc_engine_free(engine));
    loaded = { ffi, symbols, registry };
  }
  return loaded;
}

export function openBunEngine(u8: Uint8Array, limits: EngineLimits): Engine {
  const { ffi, symbols, registry } = load();
  const access = {
    pointerOf: (view: ArrayBufferView) => ffi.ptr(view),
    columnOf: (view: BigInt64Array) => ffi.ptr(view),
    addressOf: (view: ArrayBufferView) => ffi.ptr(view),
    lastError: () => new ffi.CString(symbols.nanocalc_last_error_message()).toString(),
  };
  return openFfiEngine('bun-ffi', symbols, registry, access, u8, limits);
}
