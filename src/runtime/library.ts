// The engine over the C ABI library of crates/nanocalc-ffi, shared by bun:ffi and Deno.dlopen; the
// library's path comes from ./locate.ts.
import { Layout } from '../codec.js';
import { typedArrayLength } from '../validate.js';
import type { Engine, EngineLimits } from './engine.js';
import { requireNative } from './locate.js';

/** The library's path (./locate.ts); throws a NativeNotFoundError when none fits this machine. */
export function ffiLibraryPath(): string {
  return requireNative('library');
}

/** `nanocalc_core::shared_buffer::COLUMN_LENGTH_DIFFERS`, raised as a TypeError as the Node-API addon does. */
const COLUMN_LENGTH_DIFFERS =
  "nanocalc: a batch column's length differs from its frame (detached or resized while it was being read)";

/**
 * The C ABI functions of include/nanocalc.h an FFI engine opens, in one table for both runtimes'
 * dlopen: a `column` parameter is a BigInt64Array's memory (bun:ffi `ptr`, Deno `buffer`).
 */
export const FFI_SIGNATURES = {
  nanocalc_engine_new: { parameters: ['u32', 'u32', 'u32'], result: 'pointer' },
  nanocalc_engine_free: { parameters: ['pointer'], result: 'void' },
  nanocalc_call: { parameters: ['pointer', 'pointer', 'u32'], result: 'i32' },
  nanocalc_columns: { parameters: ['pointer', 'pointer', 'u32', 'column', 'column', 'column', 'u32'], result: 'i32' },
  nanocalc_last_error_message: { parameters: [], result: 'pointer' },
} as const satisfies Record<string, { parameters: readonly FfiType[]; result: FfiType }>;

/** A parameter or result type of FFI_SIGNATURES. */
export type FfiType = 'u32' | 'i32' | 'pointer' | 'column' | 'void';

/** FFI_SIGNATURES in a runtime's dialect: each type renamed by `dialect`, the table reshaped by `entry`. */
export function ffiSymbolsIn<E>(
  dialect: Record<FfiType, string>,
  entry: (parameters: string[], result: string) => E,
): Record<keyof typeof FFI_SIGNATURES, E> {
  const table = {} as Record<keyof typeof FFI_SIGNATURES, E>;
  for (const [name, { parameters, result }] of Object.entries(FFI_SIGNATURES)) {
    table[name as keyof typeof FFI_SIGNATURES] = entry(
      parameters.map((type) => dialect[type]),
      dialect[result],
    );
  }
  return table;
}

/** The status codes of include/nanocalc.h that a binding checks for. */
export const NANOCALC_OK = 0;

/**
 * The C ABI functions an FFI engine uses, over the runtime's pointer type `P` and the type `C` in
 * which a column crosses (a pointer on Bun; on Deno the array itself, a `buffer` argument).
 */
export interface FfiSymbols<P, C = P> {
  nanocalc_engine_new(maxRequestBytes: number, maxBatchLength: number, maxThreads: number): P | null;
  nanocalc_engine_free(engine: P): void;
  nanocalc_call(engine: P | null, buffer: P, length: number): number;
  /**
   * `nanocalc_call` off the JavaScript thread, where the runtime can (Deno's nonblocking calls);
   * absent on Bun, where runAsync runs `nanocalc_call` in a later event-loop turn instead.
   */
  nanocalc_call_nonblocking?: (engine: P, buffer: P, length: number) => Promise<number>;
  /** A column batch over the caller's arrays, with no copies (include/nanocalc.h). */
  nanocalc_columns(engine: P | null, buffer: P, length: number, a: C, b: C, out: C, count: number): number;
}

/** How a runtime's FFI reaches memory and the library's last error. */
export interface FfiAccess<P, C = P> {
  /** The pointer argument for a view's first byte (views of at least one byte). */
  pointerOf(view: ArrayBufferView): P;
  /**
   * A column as `nanocalc_columns` takes it (arrays of at least one element). It must run none of
   * the caller's code, or it runs before the lengths are checked: on Bun `ptr(view)`; on Deno the
   * array itself, whose address Deno takes in native code during the call (`UnsafePointer.of`
   * costs ~450 ns a column there, ledger row 70).
   */
  columnOf(view: BigInt64Array): C;
  /** A view's first byte as a number (views of at least one byte). */
  addressOf(view: ArrayBufferView): number;
  /** The message of the library's last error on this thread. */
  lastError(): string;
}

/** The library opened by a runtime's FFI: its functions, and how that FFI reaches memory. */
export interface FfiLibrary<P, C = P> {
  symbols: FfiSymbols<P, C>;
  access: FfiAccess<P, C>;
}

/**
 * How a runtime opens engines over the library: `load` opens the library, once, when the first
 * engine opens (and only then, so the FFI module is asked for only on its runtime). An engine
 * whose Calculator was dropped without close() is freed through a FinalizationRegistry, with its
 * call function.
 */
export function ffiEngineOpener<P, C>(
  kind: 'bun-ffi' | 'deno-ffi',
  load: () => FfiLibrary<P, C>,
): (u8: Uint8Array, limits: EngineLimits) => Engine {
  let loaded: (FfiLibrary<P, C> & { registry: FinalizationRegistry<P> }) | undefined;
  return (u8, limits) => {
    if (loaded === undefined) {
      const { symbols, access } = load();
      const registry = new FinalizationRegistry<P>((engine) => symbols.nanocalc_engine_free(engine));
      loaded = { symbols, access, registry };
    }
    return openFfiEngine(kind, loaded.symbols, loaded.registry, loaded.access, u8, limits);
  };
}

/**
 * An Engine over the C ABI library, the same on Bun and on Deno: the runtimes differ only in how
 * they take a buffer's address and read the last error message (`access`). The buffer's address and length
 * are passed on each call and refreshed when the buffer is replaced (ArrayBuffer memory does not
 * move; `view` keeps the buffer alive while the engine may use it).
 */
function openFfiEngine<P, C>(
  kind: 'bun-ffi' | 'deno-ffi',
  symbols: FfiSymbols<P, C>,
  registry: FinalizationRegistry<P>,
  access: FfiAccess<P, C>,
  u8: Uint8Array,
  limits: EngineLimits,
): Engine {
  const { pointerOf, columnOf, addressOf, lastError } = access;
  let engine = symbols.nanocalc_engine_new(limits.maxRequestBytes, limits.maxBatchLength, limits.maxThreads);
  if (engine === null) throw new Error(lastError());
  const run = symbols.nanocalc_call;
  const nonblocking = symbols.nanocalc_call_nonblocking;
  // runAsync calls in flight: close() while one runs frees the engine only when the last ends.
  let running = 0;
  let closed = false;
  const free = () => {
    if (engine === null) return;
    symbols.nanocalc_engine_free(engine);
    engine = null;
  };
  let view = u8;
  let pointer = pointerOf(u8);
  let length = u8.length;
  let words = new Uint32Array(u8.buffer, u8.byteOffset, 4);
  const refused = () => new Error(engine === null ? 'nanocalc: the engine is closed' : lastError());
  const call = () => {
    if (run(engine, pointer, length) !== NANOCALC_OK) throw refused();
  };
  const runColumns = symbols.nanocalc_columns;
  // Arrays of at least one element only: a pointer to empty memory is refused by bun:ffi.
  const columns = (a: BigInt64Array, b: BigInt64Array, out: BigInt64Array): boolean => {
    // The library reads and writes `count` elements at each address. The columns' arguments are
    // taken first (in case taking one could run a caller's code), then the lengths checked, the
    // arrays' own (never a `length` property a caller defined), as the Node-API addon checks them:
    // nothing of the caller's runs between the check and the call (Deno reads a `buffer`
    // argument's address in native code).
    const pointerA = columnOf(a);
    const pointerB = columnOf(b);
    const pointerOut = columnOf(out);
    const count = typedArrayLength.call(out);
    if (typedArrayLength.call(a) !== count || typedArrayLength.call(b) !== count) {
      throw new TypeError(COLUMN_LENGTH_DIFFERS);
    }
    const status = runColumns(engine, pointer, length, pointerA, pointerB, pointerOut, count);
    if (status !== NANOCALC_OK) {
      const error = refused();
      // Three arrays resized alike disagree with the frame alone, which the library checks.
      throw error.message === COLUMN_LENGTH_DIFFERS ? new TypeError(error.message) : error;
    }
    // The response length word is 0 when the values are in `out`.
    return words[Layout.RESPONSE_LENGTH_WORD] === 0;
  };
  const runAsync = async (chunk: Uint8Array): Promise<void> => {
    if (engine === null || closed) throw new Error('nanocalc: the engine is closed');
    running++;
    try {
      const status =
        nonblocking !== undefined
          ? await nonblocking(engine, pointerOf(chunk), chunk.length)
          : await new Promise<number>((resolve) =>
              setImmediate(() => resolve(run(engine, pointerOf(chunk), chunk.length))),
            );
      if (status !== NANOCALC_OK) {
        // The message is kept per thread, and a nonblocking call ran on another one.
        throw new Error(
          nonblocking === undefined ? lastError() : `nanocalc: the engine refused the call (status ${status})`,
        );
      }
    } finally {
      running--;
      if (closed && running === 0) free();
    }
  };
  const token = {};
  registry.register(call, engine, token);
  const sharesMemory = (x: BigInt64Array, y: BigInt64Array): boolean => {
    const xBytes = 8 * typedArrayLength.call(x);
    const yBytes = 8 * typedArrayLength.call(y);
    if (xBytes === 0 || yBytes === 0) return false;
    const xStart = addressOf(x);
    const yStart = addressOf(y);
    return xStart < yStart + yBytes && yStart < xStart + xBytes;
  };
  return {
    kind,
    call,
    runAsync,
    columns,
    sharesMemory,
    attach(next: Uint8Array) {
      view = next;
      pointer = pointerOf(view);
      length = view.length;
      words = new Uint32Array(view.buffer, view.byteOffset, 4);
    },
    close() {
      if (closed) return;
      closed = true;
      registry.unregister(token);
      if (running === 0) free();
      view = new Uint8Array(0);
    },
  };
}
