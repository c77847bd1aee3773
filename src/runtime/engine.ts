// The engine behind a Calculator, whichever runtime runs it: one function that runs the request
// in the shared buffer (see crates/nanocalc-core/src/shared_buffer.rs), plus the cold operations.

/** How a Calculator reaches the engine: the Rust engine three ways, or the TypeScript engine (`'js'`). */
export type EngineKind = 'node-api' | 'bun-ffi' | 'deno-ffi' | 'js';

/** The limits an engine holds requests to (already checked by the Calculator). */
export interface EngineLimits {
  maxRequestBytes: number;
  maxBatchLength: number;
  maxThreads: number;
}

/**
 * The `runtime` option: `'auto'` takes the fastest path of the runtime; `'node-api'` forces the
 * addon; `'js'` the engine in TypeScript (src/js-engine), which needs no native binary.
 */
export type RuntimeOption = 'auto' | 'node-api' | 'js';

export interface Engine {
  readonly kind: EngineKind;
  /**
   * Runs the request in the shared buffer and writes the response there. A plain function (no
   * `this`), so the Calculator can keep it in a field and call it directly on the hot path.
   * Throws an `Error` only on misuse of the protocol (never with the TypeScript layer's requests).
   */
  readonly call: () => void;
  /**
   * Runs the request in `u8`, a buffer laid out as the shared buffer but private to the caller,
   * off the JavaScript thread where the runtime allows (Node-API: the libuv pool; Deno: a
   * nonblocking FFI call; Bun: a later event-loop turn on this thread). The response is in `u8`
   * when the promise resolves; the caller must not touch `u8` until then.
   */
  runAsync(u8: Uint8Array): Promise<void>;
  /**
   * Runs a column batch whose frame (keys and lengths) is in the shared buffer, its lists read
   * where `a` and `b` (`BigInt64Array`s of the frame's length, at least one element) are, and
   * returns whether the answer is a batch result, whose values are then in `out` (of the same
   * length). Otherwise the error response is in the shared buffer and `out` is untouched.
   */
  readonly columns: (a: BigInt64Array, b: BigInt64Array, out: BigInt64Array) => boolean;
  /**
   * Whether two typed arrays share a byte of memory, by address: two views of one memory need not
   * share a buffer object (a `SharedArrayBuffer` received through a `MessagePort`, a shared
   * `WebAssembly.Memory` after `grow()`, foreign memory wrapped twice), so JavaScript cannot tell.
   */
  readonly sharesMemory: (x: BigInt64Array, y: BigInt64Array) => boolean;
  /** Replaces the shared buffer (after the Calculator grew it). */
  attach(u8: Uint8Array): void;
  /**
   * Frees the engine; `call` and `runAsync` must not be used afterwards (a `runAsync` still
   * running finishes first). Closing twice is harmless.
   */
  close(): void;
}
