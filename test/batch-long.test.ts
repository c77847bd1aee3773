// Long batches: into new arrays (and into a given `out` when nothing can fail) they go to the engine
// as several requests of 262,144 elements (src/chunks.ts, CHUNK_LENGTH), else as one. Both must
// give the same values and the same errors, with indexes counted from the start of the batch, on
// one thread and on every one.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Calculator } from 'nanocalc';
import { OPS, clamp, reference } from './models/reference.js';
import { assertCalculatorError, bytesOf, i64Column } from './support/helpers.js';

const CHUNK = 1 << 18;
const N = 2 * CHUNK + 5;

function thrown(run: () => unknown): Error {
  try {
    run();
  } catch (error) {
    return error as Error;
  }
  assert.fail('nothing was thrown');
}

describe('long batches', () => {
  const every = new Calculator();
  const one = new Calculator({ maxThreads: 1 });

  test('new arrays (several requests) equal out (one request) and the model, on every thread and one', () => {
    const a = i64Column(N, 1);
    const b = i64Column(N, 2, true);
    for (const op of OPS) {
      const chunked = every.batch(op, a, b);
      const out = every.batch(op, a, b, new BigInt64Array(N));
      assert.ok(bytesOf(chunked).equals(bytesOf(out)), op);
      assert.ok(bytesOf(one.batch(op, a, b)).equals(bytesOf(out)), `${op}, one thread`);
      assert.ok(bytesOf(one.batch(op, a, b, new BigInt64Array(N))).equals(bytesOf(out)), `${op}, one thread, out`);
      for (const i of [0, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, N - 1]) {
        assert.equal(chunked[i], reference(op, a[i]!, b[i]!), `${op} at ${i}`);
      }
    }
    // Plain arrays of numbers across chunks.
    const numbers = Array.from({ length: N }, (_, i) => i - CHUNK);
    const sums = every.batch('add', numbers, numbers);
    assert.equal(sums[0], BigInt(-2 * CHUNK));
    assert.equal(sums[N - 1], clamp(BigInt(2 * (N - 1 - CHUNK))));
  });

  test('the same errors: division by zero in a later chunk, a bad element in a later chunk', () => {
    const a = i64Column(N, 3);
    const b = i64Column(N, 4, true);
    b[2 * CHUNK + 3] = 0n;
    b[N - 1] = 0n;
    for (const op of ['divide', 'remainder'] as const) {
      const chunked = assertCalculatorError(() => every.batch(op, a, b), 'DIVISION_BY_ZERO', 2 * CHUNK + 3);
      const whole = assertCalculatorError(
        () => every.batch(op, a, b, new BigInt64Array(N)),
        'DIVISION_BY_ZERO',
        2 * CHUNK + 3,
      );
      assert.equal(chunked.message, whole.message);
    }
    const numbers: unknown[] = Array.from({ length: N }, (_, i) => i);
    numbers[CHUNK + 7] = 1.5;
    const ones = new Array<number>(N).fill(1);
    const chunked = thrown(() => every.batch('add', ones, numbers as number[]));
    const whole = thrown(() => every.batch('add', ones, numbers as number[], new BigInt64Array(N)));
    assert.ok(chunked instanceof RangeError && whole instanceof RangeError);
    assert.equal(chunked.message, whole.message);
    assert.match(chunked.message, new RegExp(`b\\[${CHUNK + 7}\\]`));
    assert.deepEqual(Array.from(every.batch('add', [1n], [2n])), [3n], 'still works');
  });

  test('a getter in a later chunk cannot call the calculator, and closing it there fails the batch', () => {
    const a = Array.from({ length: N }, (_, i) => i);
    let refused = 0;
    Object.defineProperty(a, CHUNK + 10, {
      get() {
        try {
          every.add(1, 1);
        } catch {
          refused++;
        }
        return CHUNK + 10;
      },
    });
    const sums = every.batch('add', a, a);
    assert.equal(refused, 2, 'the nested call is refused each time (read as a and as b) while the batch reads');
    assert.equal(sums[CHUNK + 10], BigInt(2 * (CHUNK + 10)));
    assert.equal(sums[N - 1], BigInt(2 * (N - 1)));

    const closing = new Calculator();
    const b = Array.from({ length: N }, (_, i) => i);
    Object.defineProperty(b, 2 * CHUNK + 1, {
      get() {
        closing.close();
        return 1;
      },
    });
    assertCalculatorError(() => closing.batch('add', b, b), 'CLOSED');
    assert.ok(every.add(2, 3) === 5);
  });

  test('into out: chunked where nothing can fail, whole where something could; out untouched by a failure', () => {
    const a = i64Column(N, 7);
    const b = i64Column(N, 8, true);
    for (const op of ['add', 'subtract', 'multiply'] as const) {
      const expected = one.batch(op, a, b, new BigInt64Array(N));
      const out = new BigInt64Array(N);
      assert.equal(every.batch(op, a, b, out), out);
      assert.ok(bytesOf(out).equals(bytesOf(expected)), op);
      // out over the inputs' memory: the same answer as from copies of the inputs.
      const shared = new BigInt64Array(N + 8);
      shared.set(a, 0);
      const shifted = new BigInt64Array(shared.buffer, 8 * 3, N);
      const inputs = shared.subarray(0, N);
      const fromCopies = every.batch(op, inputs.slice(), b);
      every.batch(op, inputs, b, shifted);
      assert.ok(bytesOf(shifted).equals(bytesOf(fromCopies)), `${op} into a shifted view of a`);
      const same = a.slice();
      every.batch(op, same, b, same);
      assert.ok(bytesOf(same).equals(bytesOf(expected)), `${op} into a itself`);
    }
    const zeroLate = b.slice();
    zeroLate[2 * CHUNK + 2] = 0n;
    const untouched = new BigInt64Array(N).fill(-5n);
    assertCalculatorError(() => every.batch('divide', a, zeroLate, untouched), 'DIVISION_BY_ZERO', 2 * CHUNK + 2);
    assert.ok(
      untouched.every((x) => x === -5n),
      'out untouched by a division by zero in a later chunk',
    );
    const numbers: number[] = Array.from({ length: N }, (_, i) => i);
    (numbers as unknown[])[2 * CHUNK] = 'x';
    assert.throws(() => every.batch('add', numbers, numbers, untouched), TypeError);
    assert.ok(
      untouched.every((x) => x === -5n),
      'out untouched by a bad element in a later chunk',
    );
  });

  test('after a long batch the calculator answers small calls and batches', () => {
    every.batch('multiply', i64Column(N, 5), i64Column(N, 6));
    assert.equal(every.add(2, 3), 5);
    assert.deepEqual(Array.from(every.batch('subtract', [5n, 6n], [1n, 1n])), [4n, 5n]);
  });
});
