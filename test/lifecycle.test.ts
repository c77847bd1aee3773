// close(), options, and many calculators side by side.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Calculator, CalculatorError } from 'nanocalc';
import { OPS, i64, reference, referenceBatch } from './models/reference.js';
import { assertCalculatorError, assertThrowsExactly } from './support/helpers.js';

const ADD_5 = new Uint8Array([0x0a, 0x02, 0x08, 0x05]);

/** Every method, called correctly. */
const everyCall: [string, (c: Calculator) => unknown][] = [
  ...OPS.flatMap((op): [string, (c: Calculator) => unknown][] => [
    [`${op}(numbers)`, (c) => c[op](7, 2)],
    [`${op}(bigints)`, (c) => c[op](7n, 2n)],
    [`${op}(numbers that would fail)`, (c) => c[op](7, 0)],
  ]),
  ...OPS.map((op): [string, (c: Calculator) => unknown] => [`batch('${op}')`, (c) => c.batch(op, [1n, 2n], [3n, 4n])]),
  ['batch into out', (c) => c.batch('add', new BigInt64Array([1n]), [2], new BigInt64Array(1))],
  ['batch of nothing', (c) => c.batch('add', [], [])],
  ['process', (c) => c.process(ADD_5)],
  ['process(empty)', (c) => c.process(new Uint8Array(0))],
];

describe('close', () => {
  test('after close() every method throws CalculatorError CLOSED', () => {
    const c = new Calculator();
    for (const [name, call] of everyCall) {
      // While open, nothing is CLOSED (the division by zero fails for its own reason).
      try {
        call(c);
      } catch (e) {
        assert.equal((e as { code?: string }).code, 'DIVISION_BY_ZERO', name);
      }
    }
    c.close();
    for (const [name, call] of everyCall) assertCalculatorError(() => call(c), 'CLOSED', 'none', name);
    // Still CLOSED on a second round (the first CLOSED did not reopen anything).
    for (const [name, call] of everyCall) assertCalculatorError(() => call(c), 'CLOSED', 'none', `${name}, again`);
  });

  test('a calculator declared with `using` is closed when its block ends', () => {
    let kept: Calculator | undefined;
    {
      using scoped = new Calculator();
      assert.equal(scoped.add(2, 3), 5);
      kept = scoped;
    }
    assertCalculatorError(() => kept.add(1, 1), 'CLOSED');
  });

  test('closing twice, or many times, is harmless', () => {
    const c = new Calculator();
    assert.equal(c.add(1, 2), 3);
    c.close();
    assert.doesNotThrow(() => c.close());
    assert.doesNotThrow(() => c.close());
    assertCalculatorError(() => c.add(1, 2), 'CLOSED');
    const never = new Calculator();
    never.close();
    never.close();
    assertCalculatorError(() => never.process(ADD_5), 'CLOSED');
  });

  test('closing one calculator leaves the others working', () => {
    const [a, b, c] = [new Calculator(), new Calculator(), new Calculator()];
    b.close();
    assert.equal(a.add(1n, 2n), 3n);
    assert.equal(c.multiply(3, 4), 12);
    assert.deepEqual(Array.from(c.batch('add', [1n], [1n])), [2n]);
    assertCalculatorError(() => b.add(1n, 2n), 'CLOSED');
    a.close();
    assert.equal(c.subtract(1n, 2n), -1n);
    c.close();
  });

  test('results obtained before close stay with the caller', () => {
    const c = new Calculator();
    const batch = c.batch('multiply', [2n, 3n], [5n, 7n]);
    const bytes = c.process(ADD_5);
    const bytesCopy = bytes.slice();
    c.close();
    assert.deepEqual(Array.from(batch), [10n, 21n]);
    assert.deepEqual(bytes, bytesCopy);
  });

  test('close() from inside a column getter during a batch: the batch throws CLOSED, nothing crashes', () => {
    const c = new Calculator();
    const a = [1n, 2n, 3n];
    Object.defineProperty(a, 1, {
      get() {
        c.close();
        return 2n;
      },
    });
    assertCalculatorError(() => c.batch('add', a, [1n, 1n, 1n]), 'CLOSED');
    assertCalculatorError(() => c.add(1n, 1n), 'CLOSED');
    // Others are unaffected.
    const d = new Calculator();
    assert.deepEqual(Array.from(d.batch('add', [1n, 2n, 3n], [1n, 1n, 1n])), [2n, 3n, 4n]);
    d.close();
  });
});

// Issue 13: close() while a batch is pending, or from the caller's code a batch runs (a proxy's
// length trap, an element getter), must give CalculatorError CLOSED, never another error or an answer.
describe('close() while a batch is under way', () => {
  const CHUNK_LENGTH = 1 << 18;

  /** The error a promise rejects with (it must reject). */
  async function rejection(promise: Promise<unknown>): Promise<unknown> {
    try {
      await promise;
    } catch (error) {
      return error;
    }
    return assert.fail('the promise resolved');
  }

  function assertClosed(error: unknown, context: string): void {
    assert.ok(error instanceof CalculatorError, `${context}: ${String(error)}`);
    assert.equal(error.code, 'CLOSED', context);
  }

  test('close() right after batchAsync() rejects it with CLOSED, for one chunk and for two', async () => {
    for (const n of [1, 1_000, CHUNK_LENGTH, 2 * CHUNK_LENGTH]) {
      const c = new Calculator();
      const column = new BigInt64Array(n).fill(2n);
      const pending = c.batchAsync('add', column, column);
      c.close();
      assertClosed(await rejection(pending), `n = ${n}`);
    }
    const c = new Calculator();
    const pending = c.batchAsync('add', [1n], [2n]);
    c.close();
    assertClosed(await rejection(pending), 'plain arrays');
  });

  test("close() from a proxy's length trap in batch() and batchAsync() gives CLOSED", async () => {
    for (const length of [3, CHUNK_LENGTH + 1]) {
      for (const call of ['batch', 'batchAsync'] as const) {
        const c = new Calculator();
        const values = new Array<bigint>(length).fill(1n);
        const a = new Proxy(values, {
          get(target, key, receiver) {
            if (key === 'length') c.close();
            return Reflect.get(target, key, receiver) as unknown;
          },
        });
        const context = `${call}, ${length} elements`;
        if (call === 'batch') assertCalculatorError(() => c.batch('add', a, values), 'CLOSED', undefined, context);
        else assertClosed(await rejection(c.batchAsync('add', a, values)), context);
      }
    }
  });

  test('close() from an element getter in batchAsync(), in the first chunk or a later one, gives CLOSED', async () => {
    for (const at of [1, CHUNK_LENGTH + 5, 2 * CHUNK_LENGTH + 1]) {
      const c = new Calculator();
      const a = new Array<bigint>(2 * CHUNK_LENGTH + 2).fill(3n);
      const b = a.slice();
      Object.defineProperty(a, at, {
        get() {
          c.close();
          return 3n;
        },
      });
      assertClosed(await rejection(c.batchAsync('multiply', a, b)), `getter at ${at}`);
      assertCalculatorError(() => c.add(1, 1), 'CLOSED');
    }
  });
});

describe('options', () => {
  test('invalid limits are RangeErrors', () => {
    for (const bad of [0, -1, 1.5, 'x', NaN, Infinity, -Infinity, '10', 10n, null, {}]) {
      assertThrowsExactly(
        () => new Calculator({ maxRequestBytes: bad as number }),
        RangeError,
        `maxRequestBytes: ${String(bad)}`,
      );
      assertThrowsExactly(
        () => new Calculator({ maxBatchLength: bad as number }),
        RangeError,
        `maxBatchLength: ${String(bad)}`,
      );
    }
  });

  test('valid limits are accepted, and absent ones take the defaults', () => {
    for (const options of [
      undefined,
      {},
      { maxRequestBytes: 64 },
      { maxBatchLength: 1 },
      { maxRequestBytes: 4096, maxBatchLength: 100 },
    ]) {
      const c = new Calculator(options);
      assert.equal(c.add(20n, 22n), 42n);
      c.close();
    }
    const c = new Calculator({ maxRequestBytes: undefined as unknown as number });
    assert.equal(c.batch('add', new BigInt64Array(100_000), new BigInt64Array(100_000)).length, 100_000);
    c.close();
  });

  test('maxBatchLength 1 allows batches of 0 and 1 only', () => {
    const c = new Calculator({ maxBatchLength: 1 });
    assert.equal(c.batch('add', [], []).length, 0);
    assert.deepEqual(Array.from(c.batch('add', [1], [2])), [3n]);
    assertCalculatorError(() => c.batch('add', [1, 1], [2, 2]), 'LIMIT_EXCEEDED');
    c.close();
  });
});

describe('many calculators', () => {
  test('interleaved calls on many calculators give independent, correct results', () => {
    const calcs = Array.from({ length: 40 }, (_, i) => new Calculator(i % 2 === 0 ? {} : { maxBatchLength: 1000 }));
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.nat(calcs.length - 1),
            fc.constantFrom(...OPS),
            fc.array(fc.tuple(i64, i64), { minLength: 1, maxLength: 20 }),
          ),
          { minLength: 1, maxLength: 30 },
        ),
        (steps) => {
          const results: [BigInt64Array, bigint[] | number][] = [];
          for (const [which, op, pairs] of steps) {
            const c = calcs[which]!;
            const a = pairs.map(([x]) => x);
            const b = pairs.map(([, y]) => y);
            const expected = referenceBatch(op, a, b);
            if ('failsAt' in expected) {
              assertCalculatorError(() => c.batch(op, a, b), 'DIVISION_BY_ZERO', expected.failsAt);
            } else {
              results.push([c.batch(op, a, b), expected.values]);
            }
            const single = reference(op, a[0]!, b[0]!);
            if (single !== null) assert.equal(c[op](a[0]!, b[0]!), single);
          }
          for (const [result, expected] of results) assert.deepEqual(Array.from(result), expected);
        },
      ),
      { numRuns: 100 },
    );
    for (const c of calcs) c.close();
  });

  test('a calculator whose buffer grew does not disturb the others', () => {
    const big = new Calculator();
    const small = new Calculator();
    const before = small.batch('add', [1n, 2n], [3n, 4n]);
    const n = 500_000;
    const r = big.batch('subtract', new BigInt64Array(n).fill(5n), new BigInt64Array(n).fill(7n));
    assert.ok(r.every((x) => x === -2n));
    assert.deepEqual(Array.from(before), [4n, 6n]);
    assert.deepEqual(Array.from(small.batch('add', [1n, 2n], [3n, 4n])), [4n, 6n]);
    big.close();
    small.close();
  });

  test('creating and dropping many calculators without close keeps working', () => {
    for (let i = 0; i < 2000; i++) {
      const c = new Calculator();
      if (c.add(i, 1) !== i + 1) assert.fail(`calculator ${i}`);
    }
    const c = new Calculator();
    assert.equal(c.add(1n, 1n), 2n);
    c.close();
  });
});
