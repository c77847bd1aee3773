// The engine behind a Calculator, whichever runtime runs it: one function that runs the request
// in the shared buffer (see crates/nanocalc-core/src/shared_buffer.rs), plus the cold operations.

/** How a Calculator reaches the Rust engine. */
export type EngineKind = 'node-api' | 'bun-ffi' | 'deno-ffi';

/** The `runtime` option: `'auto'` takes the fastest path of the runtime; `'node-api'` forces the addon. */
export type RuntimeOption = 'auto' | 'node-api';

export interface Engine {
  readonly kind: EngineKind;
  /**
   * Runs the request in the shared buffer and writes the response there. A plain function (no
   * `this`), so the Calculator can keep it in a field and call it directly on the hot path.
   * Throws an `Error` only on misuse of the protocol (never with the TypeScript layer's requests).
   */
  readonly call: () => void;
  /** Replaces the shared buffer (after the Calculator grew it). */
  attach(u8: Uint8Array): void;
  /** Frees the engine; `call` must not be used afterwards. Closing twice is harmless. */
  close(): void;
}
