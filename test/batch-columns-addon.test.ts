// nanocalc-test: node-only
// The Node-API addon's raw column call (`engineColumns`), called directly: given anything but a
// column frame and three typed arrays that fit it, it must throw and leave the engine working.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { encodeColumnsFrame } from '../src/codec.js';

describe('the raw column call', () => {
  type Addon = {
    engineOpen(buffer: Uint8Array, maxRequestBytes: number, maxBatchLength: number, maxThreads: number): () => void;
    engineColumns(engine: () => void): (...args: unknown[]) => boolean;
    engineClose(engine: () => void): void;
  };
  const addon = createRequire(import.meta.url)('../../native/nanocalc.node') as Addon;

  test('misuse throws an Error and the engine keeps answering', () => {
    const u8 = new Uint8Array(1 << 16);
    const u32 = new Uint32Array(u8.buffer);
    const engine = addon.engineOpen(u8, 1 << 20, 1000, 1);
    const columns = addon.engineColumns(engine);
    const a = BigInt64Array.from([1n, 2n, 3n]);
    const b = BigInt64Array.from([10n, 20n, 30n]);
    const frame = (n: number) => {
      u32[0] = encodeColumnsFrame(u8, 1, n);
    };
    /** A call of the column function after setting the request length word to `length`. */
    const withLength = (length: number, call: () => unknown) => () => {
      u32[0] = length;
      return call();
    };
    /** A call of the column function after writing the frame of `n` values. */
    const framed = (n: number, call: () => unknown) => () => {
      frame(n);
      return call();
    };
    const misuse: [string, () => unknown][] = [
      ['no frame in the buffer', withLength(0, () => columns(a, b, new BigInt64Array(3)))],
      ['a column of another length', framed(2, () => columns(a, b, new BigInt64Array(2)))],
      ['an out of another length', framed(3, () => columns(a, b, new BigInt64Array(4)))],
      ['one argument', framed(3, () => columns(a))],
      ['a plain array', framed(3, () => columns([1n, 2n, 3n], b))],
      ['an ArrayBuffer', framed(3, () => columns(a.buffer, b))],
      ['a DataView', framed(3, () => columns(a, new DataView(b.buffer)))],
      ['numbers', framed(3, () => columns(1, 2, 3))],
      ['no out', framed(3, () => columns(a, b))],
      ['a request running past the buffer', withLength(1 << 20, () => columns(a, b, new BigInt64Array(3)))],
      ['out sharing memory with a, of another length', framed(3, () => columns(a, b, a.subarray(1)))],
    ];
    // Arrays of another length than the frame's are what a caller who resized a column would
    // cause: a TypeError, as the Calculator documents.
    const typeErrors = new Set([
      'a column of another length',
      'an out of another length',
      'out sharing memory with a, of another length',
    ]);
    for (const [what, fn] of misuse) {
      assert.throws(fn, (error: unknown) => error instanceof Error && /nanocalc/.test(error.message), what);
      if (typeErrors.has(what)) assert.throws(fn, TypeError, what);
      frame(3);
      const out = new BigInt64Array(3);
      assert.equal(columns(a, b, out), true, `answers after ${what}`);
      assert.deepEqual(Array.from(out), [11n, 22n, 33n]);
    }
    // An error response is `false`, and out is left as it was.
    u32[0] = encodeColumnsFrame(u8, 4, 3);
    const untouched = BigInt64Array.from([7n, 7n, 7n]);
    assert.equal(columns(a, new BigInt64Array(3), untouched), false);
    assert.deepEqual(Array.from(untouched), [7n, 7n, 7n]);
    addon.engineClose(engine);
    frame(3);
    assert.throws(() => columns(a, b, new BigInt64Array(3)), /closed/);
  });
});
