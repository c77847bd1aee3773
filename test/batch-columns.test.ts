// The engine's column call (`Engine.columns`: the Node-API addon's `engineColumns`, the C ABI's
// `nanocalc_columns` on Bun and Deno): batches of BigInt64Arrays read and written in place by the
// engine. Through the Calculator it must agree with the model and with the JavaScript copies
// plain arrays still take, whatever the arrays' placement and sharing. The raw Node-API call is
// tested on its own in batch-columns-addon.test.ts.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MessageChannel } from 'node:worker_threads';
import fc from 'fast-check';
import { Calculator } from 'nanocalc';
import { OPS, i64, referenceBatch } from './models/reference.js';
import { assertCalculatorError, assertThrowsExactly, show } from './support/helpers.js';

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

describe("batch of BigInt64Arrays through the engine's column call", () => {
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
          pairs.forEach(([x, y], i) => {
            a[i] = x;
            b[i] = y;
          });
          const expected = referenceBatch(op, Array.from(a), Array.from(b));
          // The answer through the JavaScript copies: the same columns as plain bigint arrays.
          const plain = outcome(() => calc.batch(op, Array.from(a), Array.from(b)));
          const fresh = outcome(() => calc.batch(op, a, b));
          const out = new BigInt64Array(n + 3).subarray(3).fill(7n);
          const into = outcome(() => calc.batch(op, a, b, out));
          assert.deepEqual(fresh, plain, `${op} ${show(pairs)}`);
          assert.deepEqual(into, plain);
          if ('values' in expected) assert.deepEqual(fresh, expected.values);
          else
            assert.ok(
              Array.from(out).every((x) => x === 7n),
              'a failed batch leaves out untouched',
            );
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
          pairs.forEach(([x], i) => {
            shared[i] = x;
          });
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

  test('new arrays are their own, buffer included: detaching one, by any API, harms no other', async () => {
    const lengths = [1, 7, 8, 9, 16, 1000, 2047, 2048, 2049, 5000];
    const results: [BigInt64Array, bigint][] = [];
    for (let k = 0; k < 200; k++) {
      const n = lengths[k % lengths.length]!;
      const column = new BigInt64Array(n).fill(BigInt(k));
      results.push([calc.batch('add', column, column), 2n * BigInt(k)]);
    }
    const check = (detached: Set<BigInt64Array>) => {
      for (const [[result, value], k] of results.map((entry, k) => [entry, k] as const)) {
        if (detached.has(result)) continue;
        assert.equal(result.length, lengths[k % lengths.length], `result ${k}`);
        assert.ok(
          result.every((x) => x === value),
          `result ${k} kept its values`,
        );
      }
    };
    check(new Set());
    const buffers = new Set(results.map(([result]) => result.buffer));
    assert.equal(buffers.size, results.length, 'no two results share a buffer');
    for (const [result] of results)
      assert.equal(result.buffer.byteLength, result.byteLength, 'a buffer holds its result alone');
    // Every API that can detach a buffer, each given one result of 1,000 (issue 13: a BYOB read of
    // one result emptied every other result carved from the same 64 KiB slab).
    const thousands = results.map(([result]) => result).filter((result) => result.length === 1000);
    const detached = new Set<BigInt64Array>();
    const [cloned, posted, read] = [thousands[0]!, thousands[1]!, thousands[2]!];
    const values = Array.from(cloned);
    const clone = structuredClone(cloned, { transfer: [cloned.buffer as ArrayBuffer] });
    assert.deepEqual(Array.from(clone), values);
    detached.add(cloned);
    const { port1, port2 } = new MessageChannel();
    port1.postMessage(posted, [posted.buffer as ArrayBuffer]);
    detached.add(posted);
    port1.close();
    port2.close();
    const bytes = new ReadableStream({
      type: 'bytes',
      pull(controller) {
        (controller.byobRequest!.view as Uint8Array)[0] = 1;
        controller.byobRequest!.respond(1);
      },
    });
    await bytes.getReader({ mode: 'byob' }).read(new Uint8Array(read.buffer, read.byteOffset, read.byteLength));
    detached.add(read);
    for (const result of detached) assert.equal(result.length, 0, 'the detached result itself is empty');
    check(detached);
  });

  test('columns on a SharedArrayBuffer and a subclass of BigInt64Array', () => {
    const shared = new BigInt64Array(new SharedArrayBuffer(8 * 64));
    shared.forEach((_, i) => {
      shared[i] = BigInt(i * 3 - 50);
    });
    class Column extends BigInt64Array {}
    const b = Column.from(Array.from({ length: 64 }, (_, i) => BigInt(i)));
    const out = new BigInt64Array(new SharedArrayBuffer(8 * 64));
    assert.equal(calc.batch('multiply', shared, b, out), out);
    assert.deepEqual(
      Array.from(out),
      Array.from(shared, (x, i) => x * BigInt(i)),
    );
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
