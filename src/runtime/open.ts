// Opens the Rust engine on the runtime at hand: the Node-API addon on Node (./node.ts), or the C ABI
// library of crates/nanocalc-ffi through bun:ffi on Bun (./bun.ts) and Deno.dlopen on Deno
// (./deno.ts). Each is loaded on first use only.
import { openBunEngine } from './bun.js';
import { openDenoEngine } from './deno.js';
import type { Engine, EngineKind, EngineLimits, RuntimeOption } from './engine.js';
import { locateNative, requireNative } from './locate.js';
import { openNodeEngine } from './node.js';

/** The engine kind `'auto'` picks on this runtime. */
export function autoEngineKind(): EngineKind {
  const g = globalThis as { Bun?: unknown; Deno?: { dlopen?: unknown } };
  if (typeof g.Bun !== 'undefined') return 'bun-ffi';
  if (typeof g.Deno !== 'undefined' && typeof g.Deno.dlopen === 'function') return 'deno-ffi';
  return 'node-api';
}

/** Opens an engine over the shared buffer `u8` with these limits (already checked). */
export function openEngine(u8: Uint8Array, limits: EngineLimits, runtime: RuntimeOption): Engine {
  const kind = runtime === 'node-api' ? 'node-api' : autoEngineKind();
  if (runtime === 'auto' && locateNative(kind === 'node-api' ? 'addon' : 'library') === undefined) {
    // FALLBACK HOOK (issue 15): no binary fits this machine (no platform package for it, or it
    // was skipped). Connect the pure-TypeScript engine here when it lands:
    //   return openJsEngine(u8, limits);
    // Until then, the error naming the platform and every path tried.
    requireNative(kind === 'node-api' ? 'addon' : 'library');
  }
  if (kind === 'bun-ffi') return openBunEngine(u8, limits);
  if (kind === 'deno-ffi') return openDenoEngine(u8, limits);
  return openNodeEngine(u8, limits);
}
