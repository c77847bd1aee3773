// The engine on Deno: Deno.dlopen over the C ABI library (crates/nanocalc-ffi). Every parameter of
// nanocalc_call is a pointer or a u32, so V8 makes it a fast call.
import type { Engine, EngineLimits } from './engine.js';
import { ffiLibraryPath, openFfiEngine } from './library.js';

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

let loaded: { deno: DenoFfi; symbols: Symbols; registry: FinalizationRegistry<object> } | undefined;

function load() {
  if (loaded === undefined) {
    const deno = (globalThis as unknown as { Deno: DenoFfi }).Deno;
    const { symbols } = deno.dlopen(ffiLibraryPath(), {
      nanocalc_engine_new: { parameters: ['u32', 'u32', 'u32'], result: 'pointer' },
      nanocalc_engine_free: { parameters: ['pointer'], result: 'void' },
      nanocalc_call: { parameters: ['pointer', 'pointer', 'u32'], result: 'i32' },
      // The same function on a thread of Deno's: a promise of its status (for batchAsync).
      nanocalc_call_nonblocking: {
        name: 'nanocalc_call',
        parameters: ['pointer', 'pointer', 'u32'],
        result: 'i32',
        nonblocking: true,
      },
      // The columns as `buffer` arguments: Deno takes their addresses in native code during the
      // call, where `UnsafePointer.of` costs ~450 ns a column (ledger row 70).
      nanocalc_columns: {
        parameters: ['pointer', 'pointer', 'u32', 'buffer', 'buffer', 'buffer', 'u32'],
        result: 'i32',
      },
      nanocalc_last_error_message: { parameters: [], result: 'pointer' },
    });
    // An engine whose Calculator was dropped without close() is freed with its call function.
    const registry = new FinalizationRegistry<object>((engine) => symbols.nanocalc_engine_free(engine));
    loaded = { deno, symbols, registry };
  }
  return loaded;
}

export function openDenoEngine(u8: Uint8Array, limits: EngineLimits): Engine {
  const { deno, symbols, registry } = load();
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
  return openFfiEngine('deno-ffi', symbols, registry, access, u8, limits);
}
