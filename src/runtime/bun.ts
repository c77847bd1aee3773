// The engine on Bun: bun:ffi over the C ABI library (crates/nanocalc-ffi), loaded on first use.
import { createRequire } from 'node:module';
import { ffiEngineOpener, ffiLibraryPath, ffiSymbolsIn } from './library.js';

/** bun:ffi's names of the types of FFI_SIGNATURES (./library.ts). */
const BUN_TYPES = { u32: 'u32', i32: 'i32', pointer: 'ptr', column: 'ptr', void: 'void' } as const;

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

export const openBunEngine = ffiEngineOpener('bun-ffi', () => {
  // bun:ffi exists only on Bun, and only this module asks for it, when a Calculator opens there.
  const ffi = createRequire(import.meta.url)('bun:ffi') as BunFfi;
  const { symbols } = ffi.dlopen(
    ffiLibraryPath(),
    ffiSymbolsIn(BUN_TYPES, (args, returns) => ({ args, returns })),
  );
  const access = {
    pointerOf: (view: ArrayBufferView) => ffi.ptr(view),
    columnOf: (view: BigInt64Array) => ffi.ptr(view),
    addressOf: (view: ArrayBufferView) => ffi.ptr(view),
    lastError: () => new ffi.CString(symbols.nanocalc_last_error_message()).toString(),
  };
  return { symbols, access };
});
