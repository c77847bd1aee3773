// nanocalc in a browser (the `browser` condition of package.json's exports): the same Calculator
// and CalculatorError as on Node, on the TypeScript engine (src/js-engine/), with no `node:` import
// anywhere in this file's graph (test/browser.test.ts checks the bundle). batchAsync runs on the
// page's thread in chunks of 262,144 elements, one per macrotask, so the page stays responsive.
import {
  CalculatorCore,
  type CalculatorOptions,
  DEFAULT_MAX_BATCH_LENGTH,
  DEFAULT_MAX_REQUEST_BYTES,
  type EngineHost,
} from './calculator-core.js';
import { CalculatorError } from './errors.js';
import type { Engine, EngineLimits, RuntimeOption } from './runtime/engine.js';
import { type NextTurn, openJsEngineOn } from './runtime/js-core.js';

export { CalculatorError, DEFAULT_MAX_BATCH_LENGTH, DEFAULT_MAX_REQUEST_BYTES };
// The API's types, as on Node (type-only: erased, nothing of the Node graph is imported).
export type * from './index.js';

/** The part of a browser's MessageChannel used here (@types/node's lacks `onmessage`). */
interface TaskChannel {
  port1: { onmessage: (() => void) | null; close(): void };
  port2: { postMessage(message: unknown): void };
}

// A macrotask through a MessageChannel: unlike setTimeout(0), not clamped to 4 ms once nested, and
// unlike a microtask, input and rendering run between two chunks. One channel per task, closed once
// it ran, so no open port is left behind.
const nextTurn: NextTurn = (task) => {
  const channel = new MessageChannel() as unknown as TaskChannel;
  channel.port1.onmessage = () => {
    channel.port1.close();
    task();
  };
  channel.port2.postMessage(undefined);
};

function openBrowserEngine(u8: Uint8Array, limits: EngineLimits, runtime: RuntimeOption): Engine {
  if (runtime === 'node-api') {
    throw new Error("nanocalc: runtime 'node-api' needs Node.js; in a browser the runtime is 'js' (or 'auto')");
  }
  return openJsEngineOn(u8, limits, nextTurn);
}

const browserHost: EngineHost = {
  open: openBrowserEngine,
  // The engine in TypeScript runs on the page's thread: maxThreads is checked, not used.
  defaultThreads: () =>
    (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency || 1,
};

/**
 * A 64-bit integer calculator in this page: the TypeScript engine, with the same answers and
 * errors as the Rust engine on Node. Each call goes as protobuf bytes
 * (`nanocalc.v1.CalculatorRequest`) through a buffer shared with the engine.
 */
export class Calculator extends CalculatorCore {
  constructor(options: CalculatorOptions = {}) {
    super(options, browserHost);
  }
}

/** `import nanocalc from 'nanocalc'`: the same exports as one object. */
export default { Calculator, CalculatorError, DEFAULT_MAX_BATCH_LENGTH, DEFAULT_MAX_REQUEST_BYTES };
