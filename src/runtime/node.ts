// The engine on Node: the Node-API addon built from crates/nanocalc-node, found by ./locate.ts and
// loaded on first use (Bun and Deno use it only when asked to).
import { createRequire } from 'node:module';
import type { Engine, EngineLimits } from './engine.js';
import { requireNative } from './locate.js';

/**
 * The addon's functions used here. Written out rather than imported from napi-rs's generated
 * typings, which are not in the package (test/packaging-types.test.ts checks the two agree).
 */
export interface NativeBinding {
  engineOpen(buffer: Uint8Array, maxRequestBytes: number, maxBatchLength: number, maxThreads: number): () => void;
  engineColumns(engine: unknown): (a: BigInt64Array, b: BigInt64Array, out: BigInt64Array) => boolean;
  engineRunAsync(engine: unknown, buffer: Uint8Array): Promise<void>;
  engineAttach(engine: unknown, buffer: Uint8Array): void;
  engineClose(engine: unknown): void;
  memoryOverlaps(x: unknown, y: unknown): boolean;
}

const require = createRequire(import.meta.url);
let addon: NativeBinding | undefined;

/** The Node-API addon (loaded on first use); throws a NativeNotFoundError when none fits this machine. */
export function nodeAddon(): NativeBinding {
  if (addon === undefined) addon = require(requireNative('addon')) as NativeBinding;
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
