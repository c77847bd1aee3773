// Where the time of one `calculator.add(a, b)` with numbers goes, step by step, on the runtime at
// hand (issue 18): each step is the one before plus one more part of the call, all in the loop
// shape of bench/floors.ts (1,000 calls, every result kept), so the cost of a part is the
// difference of two figures of the same run. The steps use the code the Calculator runs: the
// engine opened by src/runtime/open.ts over a buffer of its own, the generated encoder and the
// decoder of src/codec.ts, as CalculatorCore's `#binaryNumbers` calls them.
//
//   floor      a no-op crossing of the same path (bench/floors.ts)
//   engine     the engine's call with an `add` request already in the shared buffer, re-sent each
//              time, nothing read back: the crossing + the Rust engine decoding, adding, encoding
//   + encode, same operands   the same, the request first written by the TypeScript encoder (and
//              the length word), always for 123 + 456: the encoder's own cost
//   + encode   the same with the operands of the other loops (64 pairs in turn, 1- and 2-byte
//              varints): adds reading them and the engine's work varying with them
//   + decode   the same, the answer then decoded (decodeNumberResultFast)
//   add        the full `calculator.add(a, b)` (adds the checks and the Calculator's method)
//   pure TS    the pure-TypeScript BigInt saturating add (bench/baselines.ts)
import { FIELD, decodeNumberResultFast, Layout } from '../src/codec.js';
import {
  CalculatorRequestKey,
  encodeCalculatorRequestBinaryOpNumbers,
} from '../src/gen/nanocalc/v1/calculator_codec.js';
import type { Engine } from '../src/runtime/engine.js';
import { openEngine } from '../src/runtime/open.js';
import type { Calculator } from 'nanocalc';
import { saturatingAdd } from './baselines.js';
import type { Floor } from './floors.js';

/** The steps, in order; each figure is ns per call. */
export const SPLIT_STEPS = [
  'floor',
  'engine',
  '+ encode, same operands',
  '+ encode',
  '+ decode',
  'add',
  'pure TS',
] as const;
export type SplitStep = (typeof SPLIT_STEPS)[number];

/** One loop of 1,000 calls per step. */
export type SplitLoops = Record<SplitStep, () => void>;

const INNER = 1000;

/**
 * The loops of the split for `calc` (the Calculator under test, whose runtime the engine is opened
 * on), `floor` (a no-op crossing of the same path) and `kept` (where results go, as in the bench's
 * other loops). `close` frees the engine opened here.
 */
export function splitLoops(calc: Calculator, floor: Floor, kept: unknown[]): { loops: SplitLoops; close(): void } {
  // The same buffer size and limits as a Calculator's (64 KiB; the defaults).
  const u8 = new Uint8Array(64 * 1024);
  const u32 = new Uint32Array(u8.buffer);
  const engine: Engine = openEngine(
    u8,
    { maxRequestBytes: 64 * 1024 * 1024, maxBatchLength: 8_000_000, maxThreads: 1 },
    calc.runtime === 'node-api' ? 'node-api' : 'auto',
  );
  if (engine.kind !== calc.runtime) throw new Error(`split: opened ${engine.kind}, the calculator is ${calc.runtime}`);
  const run = engine.call;
  const numbers = Array.from({ length: 64 }, (_, i) => (i * 7919) % 1000);
  const bigints = numbers.map(BigInt);
  const overflow = 0; // saturate: the field is written, not counted (as #binaryNumbers does)
  const overflowLength = 0;
  let i = 0;
  // One request, left in the buffer for the `engine` step.
  const end = encodeCalculatorRequestBinaryOpNumbers(u8, Layout.REQUEST_OFFSET, FIELD.add, 123, 456);
  u32[Layout.REQUEST_LENGTH_WORD] = end - Layout.REQUEST_OFFSET;
  const encode = (a: number, b: number) => {
    const at = encodeCalculatorRequestBinaryOpNumbers(u8, Layout.REQUEST_OFFSET, FIELD.add, a, b);
    u8[at] = CalculatorRequestKey.overflow;
    u8[at + 1] = overflow;
    u32[Layout.REQUEST_LENGTH_WORD] = at + overflowLength - Layout.REQUEST_OFFSET;
  };
  const call = floor.call;
  const loops: SplitLoops = {
    floor: () => {
      for (let k = 0; k < INNER; k++) call();
    },
    engine: () => {
      u32[Layout.REQUEST_LENGTH_WORD] = end - Layout.REQUEST_OFFSET;
      encodeCalculatorRequestBinaryOpNumbers(u8, Layout.REQUEST_OFFSET, FIELD.add, 123, 456);
      for (let k = 0; k < INNER; k++) run();
    },
    '+ encode, same operands': () => {
      for (let k = 0; k < INNER; k++) {
        encode(123, 456);
        run();
      }
    },
    '+ encode': () => {
      for (let k = 0; k < INNER; k++, i++) {
        encode(numbers[i & 63]!, numbers[(i + 1) & 63]!);
        run();
      }
    },
    '+ decode': () => {
      for (let k = 0; k < INNER; k++, i++) {
        encode(numbers[i & 63]!, numbers[(i + 1) & 63]!);
        run();
        const start = u32[Layout.RESPONSE_START_WORD]!;
        kept[k & 63] = decodeNumberResultFast(u8, start, start + u32[Layout.RESPONSE_LENGTH_WORD]!);
      }
    },
    add: () => {
      for (let k = 0; k < INNER; k++, i++) kept[k & 63] = calc.add(numbers[i & 63]!, numbers[(i + 1) & 63]!);
    },
    'pure TS': () => {
      for (let k = 0; k < INNER; k++, i++) kept[k & 63] = saturatingAdd(bigints[i & 63]!, bigints[(i + 1) & 63]!);
    },
  };
  return { loops, close: () => engine.close() };
}
