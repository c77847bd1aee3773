// Variants of the engine's call on Bun (bun:ffi) and Deno (Deno.dlopen), measured in one process
// in alternating turns (issue 18): whether the symbol's signature or the way the call is made
// changes what a crossing costs. Every variant runs the same `add` request, already in a buffer,
// through the same library (nothing read back), in loops of 1,000 calls; the no-op floor of
// bench/floors.ts beside them.
//
//   bun dist/bench/ffi-variants.js
//   deno run -A dist/bench/ffi-variants.js
//   deno run -A --v8-flags=--no-turbo-fast-api-calls dist/bench/ffi-variants.js   (no fast calls)
//
// Variants:
//   engine.call     the Calculator's own: the closure of src/runtime/library.ts (status checked)
//   symbol          the symbol itself, called with the same arguments (no closure, no check)
//   void result     the symbol declared with no result (the status ignored)
//   Bun only: u64 args       the engine and buffer declared `u64_fast` instead of `ptr`
//   Deno only: buffer arg    the buffer passed as a `buffer` argument instead of its pointer
import { createRequire } from 'node:module';
import process from 'node:process';
import { measure } from 'mitata';
import { FIELD, Layout } from '../src/codec.js';
import { encodeCalculatorRequestBinaryOpNumbers } from '../src/gen/nanocalc/v1/calculator_codec.js';
import { ffiLibraryPath } from '../src/runtime/library.js';
import { openEngine } from '../src/runtime/open.js';
import { ffiFloor } from './floors.js';

type Fn = (...args: unknown[]) => number;
const INNER = 1000;
const limits = { maxRequestBytes: 64 * 1024 * 1024, maxBatchLength: 8_000_000, maxThreads: 1 };
const g = globalThis as {
  Bun?: unknown;
  Deno?: {
    dlopen(path: string, symbols: Record<string, unknown>): { symbols: Record<string, Fn> };
    UnsafePointer: { of(view: ArrayBufferView): unknown };
  };
};

const u8 = new Uint8Array(64 * 1024);
const u32 = new Uint32Array(u8.buffer);
u32[Layout.REQUEST_LENGTH_WORD] =
  encodeCalculatorRequestBinaryOpNumbers(u8, Layout.REQUEST_OFFSET, FIELD.add, 123, 456) - Layout.REQUEST_OFFSET;
const length = u8.length;
const engineNew = { args: ['u32', 'u32', 'u32'] };

// Every loop is a function literal of its own: closures of one literal share their call sites'
// feedback, and a site that has seen several targets is polymorphic (on Deno, no fast call).
const variants: [string, () => void][] = [];
const floor = ffiFloor();
if (floor === undefined) throw new Error('ffi-variants runs under Bun or Deno');
const floorCall = floor.call;
variants.push([
  'floor',
  () => {
    for (let k = 0; k < INNER; k++) floorCall();
  },
]);
const engine = openEngine(u8, limits, 'auto');
const engineCall = engine.call;
variants.push([
  'engine.call',
  () => {
    for (let k = 0; k < INNER; k++) engineCall();
  },
]);

/** Each runtime's symbols: the call as the Calculator declares it, with no result, and a third signature. */
interface Opened {
  own: unknown;
  pointer: unknown;
  call: Fn;
  callVoid: Fn;
  third: [string, Fn, unknown];
}

function openDeno(deno: NonNullable<typeof g.Deno>): Opened {
  const { symbols } = deno.dlopen(ffiLibraryPath(), {
    nanocalc_engine_new: { parameters: engineNew.args, result: 'pointer' },
    nanocalc_call: { parameters: ['pointer', 'pointer', 'u32'], result: 'i32' },
    call_void: { name: 'nanocalc_call', parameters: ['pointer', 'pointer', 'u32'], result: 'void' },
    call_buffer: { name: 'nanocalc_call', parameters: ['pointer', 'buffer', 'u32'], result: 'i32' },
  });
  const own = symbols.nanocalc_engine_new!(limits.maxRequestBytes, limits.maxBatchLength, 1);
  const pointer = deno.UnsafePointer.of(u8);
  return {
    own,
    pointer,
    call: symbols.nanocalc_call!,
    callVoid: symbols.call_void!,
    third: ['buffer arg', symbols.call_buffer!, u8],
  };
}

function openBun(): Opened {
  const ffi = createRequire(import.meta.url)('bun:ffi') as {
    dlopen(path: string, symbols: Record<string, unknown>): { symbols: Record<string, Fn> };
    ptr(view: ArrayBufferView): number;
  };
  const { symbols } = ffi.dlopen(ffiLibraryPath(), {
    nanocalc_engine_new: { args: engineNew.args, returns: 'ptr' },
    nanocalc_call: { args: ['ptr', 'ptr', 'u32'], returns: 'i32' },
  });
  // bun:ffi takes no `name` for a symbol: a second library handle for each other signature.
  const voidLib = ffi.dlopen(ffiLibraryPath(), { nanocalc_call: { args: ['ptr', 'ptr', 'u32'], returns: 'void' } });
  const u64Lib = ffi.dlopen(ffiLibraryPath(), {
    nanocalc_call: { args: ['u64_fast', 'u64_fast', 'u32'], returns: 'i32' },
  });
  const own = symbols.nanocalc_engine_new!(limits.maxRequestBytes, limits.maxBatchLength, 1);
  const pointer = ffi.ptr(u8);
  const callVoid = voidLib.symbols.nanocalc_call!;
  return {
    own,
    pointer,
    call: symbols.nanocalc_call!,
    callVoid,
    third: ['u64 args', u64Lib.symbols.nanocalc_call!, pointer],
  };
}

const { own, pointer, call, callVoid, third } = g.Deno !== undefined ? openDeno(g.Deno) : openBun();
const [thirdName, callThird, thirdBuffer] = third;
variants.push([
  'symbol',
  () => {
    for (let k = 0; k < INNER; k++) call(own, pointer, length);
  },
]);
variants.push([
  'void result',
  () => {
    for (let k = 0; k < INNER; k++) callVoid(own, pointer, length);
  },
]);
variants.push([
  thirdName,
  () => {
    for (let k = 0; k < INNER; k++) callThird(own, thirdBuffer, length);
  },
]);

let sink: unknown;
const samples = new Map<string, number[]>(variants.map(([name]) => [name, []]));
const sampled = variants.map(([name, fn]) => [name, () => (sink = fn())] as const);
for (const [, fn] of sampled) await measure(fn, { min_cpu_time: 100e6 });
for (let round = 0; round < 5; round++) {
  for (const [name, fn] of sampled) samples.get(name)!.push((await measure(fn, { min_cpu_time: 200e6 })).p50 / INNER);
}
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[xs.length >> 1]!;
const runtime = g.Deno !== undefined ? 'deno' : 'bun';
console.log(`${runtime}: ns per call, median of 5 alternating turns (${process.argv.slice(2).join(' ')})`);
for (const [name] of variants) console.log(`  ${name.padEnd(12)} ${median(samples.get(name)!).toFixed(2)}`);
engine.close();
void sink;
