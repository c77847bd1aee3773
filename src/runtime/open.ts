// Opens the Rust engine on the runtime at hand: the Node-API addon on Node (./node.ts), or the C ABI
// library of crates/nanocalc-ffi through bun:ffi on Bun (./bun.ts) and Deno.dlopen on Deno
// (./deno.ts). Each is loaded on first use only. `runtime: 'js'` opens the engine in TypeScript
// (./js.ts), which a loader also opens when no native binary fits (openJsEngine).
import { openBunEngine } from './bun.js';
import { openDenoEngine } from './deno.js';
import type { Engine, EngineKind, EngineLimits, RuntimeOption } from './engine.js';
import { openJsEngine } from './js.js';
import { locateNative } from './locate.js';
import { openNodeEngine } from './node.js';

export { openJsEngine };

/** The engine kind `'auto'` picks on this runtime. */
export function autoEngineKind(): EngineKind {
  const g = globalThis as { Bun?: unknown; Deno?: { dlopen?: unknown } };
  if (typeof g.Bun !== 'undefined') return 'bun-ffi';
  if (typeof g.Deno !== 'undefined' && typeof g.Deno.dlopen === 'function') return 'deno-ffi';
  return 'node-api';
}

/** Opens an engine over the shared buffer `u8` with these limits (already checked). */
export function openEngine(u8: Uint8Array, limits: EngineLimits, runtime: RuntimeOption): Engine {
  if (runtime === 'js') return openJsEngine(u8, limits);
  const kind = runtime === 'node-api' ? 'node-api' : autoEngineKind();
  // No binary fits this machine (no platform package for it, or it was skipped): the TypeScript
  // engine, with the same answers. Asked for by name, a native runtime throws instead, naming the
  // platform and every path tried (./locate.ts).
  if (runtime === 'auto' && locateNative(kind === 'node-api' ? 'addon' : 'library') === undefined) {
    return openJsEngine(u8, limits);
  }
  if (kind === 'bun-ffi') return openBunEngine(u8, limits);
  if (kind === 'deno-ffi') return openDenoEngine(u8, limits);
  return openNodeEngine(u8, limits);
}
