// The TypeScript engine (./js-core.ts) on Node, Bun and Deno: batchAsync's chunks one per
// setImmediate, so the caller's other work goes on between them.
import { setImmediate } from 'node:timers';
import type { Engine, EngineLimits } from './engine.js';
import { openJsEngineOn } from './js-core.js';

/** Opens the TypeScript engine over the shared buffer `u8` with these limits (already checked). */
export function openJsEngine(u8: Uint8Array, limits: EngineLimits): Engine {
  return openJsEngineOn(u8, limits, setImmediate);
}
