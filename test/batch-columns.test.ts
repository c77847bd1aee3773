// nanocalc-test: node-only
// The Node-API column call (`engineColumns`): batches of BigInt64Arrays whose copies in and out run
// in Rust. Through the Calculator it must agree with the model and with the JavaScript copies it
// replaced (plain arrays still take those), whatever the arrays' placement and sharing; called
// directly with anything else, it must throw and leave the engine working.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { MessageChannel } from 'node:worker_threads';
import fc from 'fast-check';
import { Calculator } from 'nanocalc';
import { encodeColumnsFrame } from '../src/codec.js';
import { OPS, i64, referenceBatch } from './reference.js';
import { assertCalculatorError, assertThrowsExactly, show } from './helpers.js';

const calc = new Calculator();
const oneThread = new Calculator({ maxThreads: 1 });

/** The elements `fn` returns, or the error it throws as text. */
function outcome(fn: () => BigInt64Array): bigint[] | string {
  try {
    return Array.from(fn());
  } catch (error) {
    return String(error);
  }
}

describe('batch of BigInt64Arrays through the Rust copies', () => {
  test('agrees with the model and with the JavaScript copies, new array and out, any view offset', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...OPS),
        fc.array(fc.tuple(i64, i64), { maxLength: 300 }),
        fc.nat(5),
        fc.nat(5),
        (op, pairs, offsetA, offsetB) => {
          const n = pairs.length;
          // Views at element offsets into larger buffers, so the copies start at every alignment mod 32.
          const a = new BigInt64Array(n + offsetA).subarray(offsetA);
          const b = new BigInt64Array(n + offsetB).subarray(offsetB);
          pairs.forEach(([x, y], i) => ((a[i] = x), (b[i] = y)));
          const expected = referenceBatch(op, Array.from(a), Array.from(b));
          // The answer through the JavaScript copies: the same columns as plain bigint arrays.
          const plain = outcome(() => calc.batch(op, Array.from(a), Array.from(b)));
          const fresh = outcome(() => calc.batch(op, a, b));
          const out = new BigInt64Array(n + 3).subarray(3).fill(7n);
          const into = outcome(() => calc.batch(op, a, b, out));
          assert.deepEqual(fresh, plain, `${op} ${show(pairs)}`);
          assert.deepEqual(into, plain);
          if ('values' in expected) assert.deepEqual(fresh, expected.values);
          else assert.ok(Array.from(out).every((x) => x === 7n), 'a failed batch leaves out untouched');
        },
      ),
      { numRuns: 400 },
    );
  });

  test('out may be a, b, or both columns may be one array', () => {
    const values = BigInt64Array.from([5n, -3n, 2n ** 62n, -(2n ** 63n), 9n]);
    for (const op of ['add', 'subtract', 'multiply'] as const) {
      const same = values.slice();
      const expected = referenceBatch(op, Array.from(values), Array.from(values));
      assert.ok('values' in expected);
      assert.deepEqual(Array.from(calc.batch(op, same, same, same)), expected.values, op);
      const a = values.slice();
      const b = values.map((x) => x / 2n);
      const model = referenceBatch(op, Array.from(a), Array.from(b));
      assert.ok('values' in model);
      assert.deepEqual(Array.from(calc.batch(op, a, b, b)), model.values, `${op}, out = b`);
    }
  });

  test('out sharing memory with a or b at any shift: what the model answers, or out untouched', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...OPS),
        fc.array(fc.tuple(i64, i64), { maxLength: 200 }),
        fc.integer({ min: -6, max: 6 }),
        fc.boolean(),
        (op, pairs, shift, sharedIsA) => {
          const n = pairs.length;
          const memory = new BigInt64Array(n + 12);
          const shared = memory.subarray(6, 6 + n);
          pairs.forEach(([x], i) => (shared[i] = x));
          const other = BigInt64Array.from(pairs, ([, y]) => y);
          const [a, b] = sharedIsA ? [shared, other] : [other, shared];
          const expected = referenceBatch(op, Array.from(a), Array.from(b));
          const before = Array.from(memory);
          const out = memory.subarray(6 + shift, 6 + shift + n);
          const answer = outcome(() => calc.batch(op, a, b, out));
          if ('values' in expected) assert.deepEqual(answer, expected.values, `${op} shift ${shift} ${show(pairs)}`);
          else assert.deepEqual(Array.from(memory), before, 'a failed batch leaves the memory untouched');
        },
      ),
      { numRuns: 400 },
    );
  });

  test('new arrays are their own, whatever their length, though short ones share a slab', () => {
    const lengths = [1, 7, 8, 9, 1000, 2047, 2048, 2049, 5000];
    const results: [BigInt64Array, bigint][] = [];
    for (let k = 0; k < 200; k++) {
      const n = lengths[k % lengths.length]!;
      const column = new BigInt64Array(n).fill(BigInt(k));
      results.push([calc.batch('add', column, column), 2n * BigInt(k)]);
    }
    const check = () => {
      for (const [[result, value], k] of results.map((entry, k) => [entry, k] as const)) {
        assert.equal(result.length, lengths[k % lengths.length], `result ${k}`);
        assert.ok(result.every((x) => x === value), `result ${k} kept its values`);
      }
    };
    check();
    // Short results share their memory: transferring one clones it, and detaches no other.
    const [first] = results[4]!;
    const [second] = results[13]!;
    assert.equal(first.buffer, second.buffer, 'two results of 1000 from one slab');
    const clone = structuredClone(first, { transfer: [first.buffer as ArrayBuffer] });
    assert.deepEqual(Array.from(clone), Array.from(first));
    const { port1, port2 } = new MessageChannel();
    port1.postMessage(second, [second.buffer as ArrayBuffer]);
    port1.close();
    port2.close();
    check();
  });

  test('columns on a SharedArrayBuffer and a subclass of BigInt64Array', () => {
    const shared = new BigInt64Array(new SharedArrayBuffer(8 * 64));
    shared.forEach((_, i) => (shared[i] = BigInt(i * 3 - 50)));
    class Column extends BigInt64Array {}
    const b = Column.from(Array.from({ length: 64 }, (_, i) => BigInt(i)));
    const out = new BigInt64Array(new SharedArrayBuffer(8 * 64));
    assert.equal(calc.batch('multiply', shared, b, out), out);
    assert.deepEqual(Array.from(out), Array.from(shared, (x, i) => x * BigInt(i)));
  });

  test('a typed array that only claims to be a BigInt64Array is refused, not read as one', () => {
    const disguised = Object.setPrototypeOf(new Float64Array([1.5, 2.5]), BigInt64Array.prototype) as BigInt64Array;
    assertThrowsExactly(() => calc.batch('add', disguised, BigInt64Array.from([1n, 2n])), TypeError);
    assertThrowsExactly(() => calc.batch('add', BigInt64Array.from([1n, 2n]), disguised), TypeError);
    // As `out`: in one request, and in a long batch that would be written chunk by chunk.
    const ones = BigInt64Array.from([1n, 2n]);
    assertThrowsExactly(() => calc.batch('add', ones, ones, disguised), TypeError);
    assert.deepEqual(Array.from(disguised as unknown as Float64Array), [1.5, 2.5], 'out untouched');
    const n = (1 << 18) + 1;
    const long = new BigInt64Array(n);
    const longOut = Object.setPrototypeOf(new Float64Array(n), BigInt64Array.prototype) as BigInt64Array;
    assertThrowsExactly(() => calc.batch('add', long, long, longOut), TypeError);
    assert.deepEqual(Array.from(calc.batch('add', BigInt64Array.from([1n]), BigInt64Array.from([2n]))), [3n]);
  });

  test('errors keep their index, in one request and in a later chunk of a long batch, on 1 and 2 threads', () => {
    for (const c of [calc, oneThread]) {
      const n = (1 << 18) * 2 + 10;
      const a = new BigInt64Array(n).fill(6n);
      const b = new BigInt64Array(n).fill(3n);
      b[n - 4] = 0n;
      assertCalculatorError(() => c.batch('divide', a, b), 'DIVISION_BY_ZERO', n - 4);
      b[n - 4] = 3n;
      b[17] = 0n;
      assertCalculatorError(() => c.batch('remainder', a.subarray(0, 100), b.subarray(0, 100)), 'DIVISION_BY_ZERO', 17);
      b[17] = 3n;
      const result = c.batch('divide', a, b);
      assert.equal(result.length, n);
      assert.ok(result.every((x) => x === 2n));
    }
  });
});

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
    const frame = (n: number) => (u32[0] = encodeColumnsFrame(u8, 1, n));
    const misuse: [string, () => unknown][] = [
      ['no frame in the buffer', () => ((u32[0] = 0), columns(a, b, new BigInt64Array(3)))],
      ['a column of another length', () => (frame(2), columns(a, b, new BigInt64Array(2)))],
      ['an out of another length', () => (frame(3), columns(a, b, new BigInt64Array(4)))],
      ['one argument', () => (frame(3), columns(a))],
      ['a plain array', () => (frame(3), columns([1n, 2n, 3n], b))],
      ['an ArrayBuffer', () => (frame(3), columns(a.buffer, b))],
      ['a DataView', () => (frame(3), columns(a, new DataView(b.buffer)))],
      ['numbers', () => (frame(3), columns(1, 2, 3))],
      ['no out', () => (frame(3), columns(a, b))],
      ['a request running past the buffer', () => ((u32[0] = 1 << 20), columns(a, b, new BigInt64Array(3)))],
      ['out sharing memory with a, of another length', () => (frame(3), columns(a, b, a.subarray(1)))],
    ];
    for (const [what, fn] of misuse) {
      assert.throws(fn, (error: unknown) => error instanceof Error && /nanocalc/.test(error.message), what);
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
