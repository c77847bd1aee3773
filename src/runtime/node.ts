// The engine on Node: the Node-API addon built from crates/nanocalc-node (its typings are generated
// by napi-rs), loaded on first use (Bun and Deno use it only when asked to).
import { createRequire } from 'node:module';
import type * as Binding from '../../native/index.js';
import type { Engine, EngineLimits } from './engine.js';

export type NativeBinding = typeof Binding;

const require = createRequire(import.meta.url);
let addon: NativeBinding | undefined;

/** The Node-API addon (loaded on first use: Bun and Deno use it only when asked to). */
export function nodeAddon(): NativeBinding {
  // This file runs from dist/src/runtime/.
  if (addon === undefined) addon = require('../../../native/nanocalc.node') as NativeBinding;
  return addon;
}

export function openNodeEngine(u8: Uint8Array, limits: EngineLimits): Engine {
  const native = nodeAddon();
  const call = native.engineOpen(u8, limits.maxRequestBytes, limits.maxBatchLength, limits.maxThreads);
  return {
    kind: 'node-api',
    call,
    columns: native.engineColumns(call),
    sharesMemory: native.memoryOverlaps,
    // The task holds its own copy of the limits and `u8`: closing the engine meanwhile is safe.
    runAsync: (chunk) => native.engineRunAsync(call, chunk),
    attach: (next) => native.engineAttach(call, next),
    close: () => native.engineClose(call),
  };
}
