// The engine on Deno: Deno.dlopen over the C ABI library (crates/nanocalc-ffi). Every parameter of
// nanocalc_call is a pointer or a u32, so V8 makes it a fast call.
import { ffiEngineOpener, ffiLibraryPath, ffiSymbolsIn } from './library.js';

/**
 * Deno's names of the types of FFI_SIGNATURES (./library.ts). The columns cross as `buffer`
 * arguments: Deno takes their addresses in native code during the call, where `UnsafePointer.of`
 * costs ~450 ns a column (ledger row 70).
 */
const DENO_TYPES = { u32: 'u32', i32: 'i32', pointer: 'pointer', column: 'buffer', void: 'void' } as const;

/** Deno's pointers are opaque values (or null). */
type Pointer = object | null;

interface Symbols {
  nanocalc_engine_new(maxRequestBytes: number, maxBatchLength: number, maxThreads: number): Pointer;
  nanocalc_engine_free(engine: Pointer): void;
  nanocalc_call(engine: Pointer, buffer: Pointer, length: number): number;
  nanocalc_call_nonblocking(engine: Pointer, buffer: Pointer, length: number): Promise<number>;
  nanocalc_columns(
    engine: Pointer,
    buffer: Pointer,
    length: number,
    a: BigInt64Array,
    b: BigInt64Array,
    out: BigInt64Array,
    count: number,
  ): number;
  nanocalc_last_error_message(): Pointer;
}

/** The parts of the Deno namespace used here. */
interface DenoFfi {
  dlopen(
    path: string,
    symbols: Record<string, { name?: string; parameters: string[]; result: string; nonblocking?: boolean }>,
  ): { symbols: Symbols };
  UnsafePointer: { of(view: ArrayBufferView): Pointer; value(pointer: Pointer): bigint | number };
  UnsafePointerView: { getCString(pointer: object): string };
}

export const openDenoEngine = ffiEngineOpener('deno-ffi', () => {
  const deno = (globalThis as unknown as { Deno: DenoFfi }).Deno;
  const signatures = ffiSymbolsIn(DENO_TYPES, (parameters, result) => ({ parameters, result }));
  const { symbols } = deno.dlopen(ffiLibraryPath(), {
    ...signatures,
    // The same function on a thread of Deno's: a promise of its status (for batchAsync).
    nanocalc_call_nonblocking: { ...signatures.nanocalc_call, name: 'nanocalc_call', nonblocking: true },
  });
  const access = {
    // A pointer argument is cheaper than a `buffer` one (docs/PERFORMANCE.md, Runtimes).
    pointerOf: (view: ArrayBufferView) => deno.UnsafePointer.of(view),
    columnOf: (view: BigInt64Array) => view,
    addressOf: (view: ArrayBufferView) => Number(deno.UnsafePointer.value(deno.UnsafePointer.of(view))),
    lastError: () => {
      const message = symbols.nanocalc_last_error_message();
      return message === null ? 'nanocalc: engine error' : deno.UnsafePointerView.getCString(message);
    },
  };
  return { symbols, access };
});
