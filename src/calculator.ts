// The Calculator on Node, Bun and Deno: the body in ./calculator-core.ts, the engine opened for the
// runtime at hand by ./runtime/open.ts (the Rust engine, or the TypeScript one). A browser gets
// the same body on the TypeScript engine from ./browser.ts, which imports nothing of this file.
import { Buffer } from 'node:buffer';
import { availableParallelism } from 'node:os';
import { CalculatorCore, type CalculatorOptions, type EngineHost } from './calculator-core.js';
import { setAllocateBytes } from './result-arrays.js';
import { openEngine } from './runtime/open.js';

export { DEFAULT_MAX_BATCH_LENGTH, DEFAULT_MAX_REQUEST_BYTES } from './calculator-core.js';
export type * from './calculator-core.js';

// Result arrays in memory not zeroed first: the engine writes every element (./result-arrays.ts).
setAllocateBytes((bytes) => Buffer.allocUnsafeSlow(bytes));
const nodeHost: EngineHost = { open: openEngine, defaultThreads: availableParallelism };

/**
 * A 64-bit integer calculator whose engine is Rust, in this process. Each call crosses to Rust
 * as protobuf bytes (`nanocalc.v1.CalculatorRequest`) written into a buffer both sides share.
 * Not for sharing between threads: each worker creates its own.
 */
export class Calculator extends CalculatorCore {
  constructor(options: CalculatorOptions = {}) {
    super(options, nodeHost);
  }
}
