// The engine in TypeScript (src/js-engine/, a module-by-module twin of crates/nanocalc-core): the
// same protocol over the same buffer, the same answers and errors byte for byte, on any runtime
// and platform. Chosen with `runtime: 'js'`, and by the loader when no native binary fits. No
// `node:` import: ./js.ts opens it on Node, Bun and Deno, src/browser.ts in a browser, each with its
// own way to wait for a later turn of the event loop.
import { DEFAULT_MAX_EXPRESSION_BYTES, DEFAULT_MAX_EXPRESSION_DEPTH, type Limits } from '../js-engine/process.js';
import { run, runColumns, runSmall, sharesMemory } from '../js-engine/shared-buffer.js';
import type { Engine, EngineLimits } from './engine.js';

/** Runs `task` in a later turn of the event loop (a macrotask: input and rendering go on meanwhile). */
export type NextTurn = (task: () => void) => void;

/**
 * Opens the TypeScript engine over the shared buffer `u8` with these limits (already checked);
 * `batchAsync`'s chunks run one per `nextTurn`.
 */
export function openJsEngineOn(u8: Uint8Array, engineLimits: EngineLimits, nextTurn: NextTurn): Engine {
  const limits: Limits = {
    maxRequestBytes: engineLimits.maxRequestBytes,
    maxBatchLength: engineLimits.maxBatchLength,
    maxExpressionBytes: DEFAULT_MAX_EXPRESSION_BYTES,
    maxExpressionDepth: DEFAULT_MAX_EXPRESSION_DEPTH,
  };
  let view = u8;
  let words = new Uint32Array(u8.buffer, u8.byteOffset, u8.length >>> 2);
  let closed = false;
  const call = () => {
    if (runSmall(view, words)) return; // a closed engine's buffer is empty: never small
    if (closed) throw new Error('nanocalc: the engine is closed');
    run(view, words, limits);
  };
  const columns = (a: BigInt64Array, b: BigInt64Array, out: BigInt64Array): boolean => {
    if (closed) throw new Error('nanocalc: the engine is closed');
    return runColumns(view, words, a, b, out, limits);
  };
  const runAsync = (chunk: Uint8Array): Promise<void> =>
    // A later turn of the event loop: the caller's other work goes on between chunks.
    new Promise((resolve, reject) =>
      nextTurn(() => {
        try {
          run(chunk, new Uint32Array(chunk.buffer, chunk.byteOffset, chunk.length >>> 2), limits);
          resolve();
        } catch (error) {
          reject(error);
        }
      }),
    );
  return {
    kind: 'js',
    call,
    columns,
    runAsync,
    sharesMemory,
    attach(next: Uint8Array) {
      view = next;
      words = new Uint32Array(next.buffer, next.byteOffset, next.length >>> 2);
    },
    close() {
      closed = true;
      view = new Uint8Array(0);
      words = new Uint32Array(0);
    },
  };
}
