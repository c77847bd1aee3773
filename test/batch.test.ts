// batch(): element-wise arithmetic over columns of every accepted kind, held to the reference model;
// failures, limits, ownership of results and untouched inputs.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Calculator } from 'nanocalc';
import { MAX, MIN, OPS, clamp, i64, referenceBatch, safeInt, type Op } from './models/reference.js';
import { assertCalculatorError, assertThrowsExactly, show } from './support/helpers.js';

const calc = new Calculator();

type Kind = 'BigInt64Array' | 'bigint[]' | 'number[]';
const KINDS: readonly Kind[] = ['BigInt64Array', 'bigint[]', 'number[]'];
type Column = BigInt64Array | bigint[] | number[];

/** The column as bigints, for the model. */
function bigints(column: Column): bigint[] {
  return Array.from(column as ArrayLike<number | bigint>, (x) => BigInt(x));
}

/** A copy of a column of the same kind, to check it was not mutated. */
function copy(column: Column): Column {
  return column instanceof BigInt64Array ? column.slice() : (column.slice() as Column);
}

function assertSameColumn(actual: Column, expected: Column, context: string): void {
  assert.equal(actual.constructor, expected.constructor, context);
  assert.deepEqual(Array.from(actual as ArrayLike<unknown>), Array.from(expected as ArrayLike<unknown>), context);
}

/** A column of `n` values of `kind`, without zeros when `nonZero`. */
function columnArb(kind: Kind, n: number, nonZero: boolean): fc.Arbitrary<Column> {
  if (kind === 'number[]') {
    const element = nonZero ? safeInt.filter((x) => x !== 0) : safeInt;
    return fc.array(element, { minLength: n, maxLength: n });
  }
  const element = nonZero ? i64.filter((x) => x !== 0n) : i64;
  const values = fc.array(element, { minLength: n, maxLength: n });
  return kind === 'BigInt64Array' ? values.map((v) => BigInt64Array.from(v)) : values;
}

function setZeros(column: Column, at: readonly number[]): Column {
  const result = copy(column);
  for (const i of at) {
    if (result instanceof BigInt64Array) result[i] = 0n;
    else if (typeof result[0] === 'number') (result as number[])[i] = 0;
    else (result as bigint[])[i] = 0n;
  }
  return result;
}

const lengthArb = fc.oneof(
  { weight: 2, arbitrary: fc.constantFrom(0, 1, 2) },
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 64 }) },
  { weight: 1, arbitrary: fc.integer({ min: 65, max: 2000 }) },
);

interface Case {
  a: Column;
  b: Column;
  out: BigInt64Array | undefined;
}

/** Columns of random kinds and one length; for divide/remainder b has zeros at a few random places, or none. */
function caseArb(op: Op): fc.Arbitrary<Case> {
  const canFail = op === 'divide' || op === 'remainder';
  return fc
    .record({ n: lengthArb, kindA: fc.constantFrom(...KINDS), kindB: fc.constantFrom(...KINDS), withOut: fc.boolean() })
    .chain(({ n, kindA, kindB, withOut }) =>
      fc.record({
        a: columnArb(kindA, n, false),
        b: canFail
          ? fc
              .tuple(columnArb(kindB, n, true), n === 0 ? fc.constant([]) : fc.array(fc.nat(n - 1), { maxLength: 3 }))
              .map(([b, zeros]) => setZeros(b, zeros))
          : columnArb(kindB, n, false),
        out: withOut ? fc.bigInt64Array({ minLength: n, maxLength: n }) : fc.constant(undefined),
      }),
    );
}

/** Runs one batch and checks it against the model, that inputs are untouched and `out` is honoured. */
function checkBatch(c: Calculator, op: Op, { a, b, out }: Case): void {
  const expected = referenceBatch(op, bigints(a), bigints(b));
  const aBefore = copy(a);
  const bBefore = copy(b);
  const context = `${op} over ${a.constructor.name}(${a.length}) and ${b.constructor.name}${out ? ' into out' : ''}`;
  if ('failsAt' in expected) {
    assertCalculatorError(() => c.batch(op, a, b, out), 'DIVISION_BY_ZERO', expected.failsAt, context);
  } else {
    const result = c.batch(op, a, b, out);
    assert.ok(result instanceof BigInt64Array, context);
    if (out !== undefined) assert.equal(result, out, `${context}: out is returned`);
    assert.equal(result.length, a.length, context);
    assert.deepEqual(Array.from(result), expected.values, context);
  }
  assertSameColumn(a, aBefore, `${context}: a is unchanged`);
  assertSameColumn(b, bBefore, `${context}: b is unchanged`);
}

describe('batch matches the reference model for every op and input kind', () => {
  for (const op of OPS) {
    test(op, () => {
      fc.assert(
        fc.property(caseArb(op), (c) => checkBatch(calc, op, c)),
        { numRuns: 300 },
      );
    });
  }

  test('lengths 0 and 1, every op, every pair of kinds, with and without out', () => {
    const make = (kind: Kind, values: bigint[]): Column =>
      kind === 'BigInt64Array' ? BigInt64Array.from(values) : kind === 'bigint[]' ? values : values.map(Number);
    for (const op of OPS) {
      for (const kindA of KINDS) {
        for (const kindB of KINDS) {
          for (const withOut of [false, true]) {
            checkBatch(calc, op, {
              a: make(kindA, []),
              b: make(kindB, []),
              out: withOut ? new BigInt64Array(0) : undefined,
            });
            checkBatch(calc, op, {
              a: make(kindA, [-7n]),
              b: make(kindB, [2n]),
              out: withOut ? new BigInt64Array(1) : undefined,
            });
            checkBatch(calc, op, {
              a: make(kindA, [7n]),
              b: make(kindB, [0n]),
              out: withOut ? new BigInt64Array(1) : undefined,
            });
          }
        }
      }
    }
  });

  test('an empty batch returns a new empty BigInt64Array', () => {
    const r1 = calc.batch('add', [], []);
    const r2 = calc.batch('add', new BigInt64Array(0), []);
    assert.ok(r1 instanceof BigInt64Array && r2 instanceof BigInt64Array);
    assert.equal(r1.length, 0);
    assert.notEqual(r1, r2);
  });

  test('saturation at the i64 edges in batches', () => {
    const a = [MAX, MIN, MIN, MIN, MAX, MIN];
    const b = [1n, -1n, -1n, -1n, 2n, 2n];
    assert.deepEqual(Array.from(calc.batch('add', a, b)), [MAX, MIN, MIN, MIN, MAX, MIN + 2n]);
    assert.deepEqual(Array.from(calc.batch('subtract', a, b)), [MAX - 1n, MIN + 1n, MIN + 1n, MIN + 1n, MAX - 2n, MIN]);
    assert.deepEqual(Array.from(calc.batch('multiply', a, b)), [MAX, MAX, MAX, MAX, MAX, MIN]);
    assert.deepEqual(Array.from(calc.batch('divide', a, b)), [MAX, MAX, MAX, MAX, MAX / 2n, MIN / 2n]);
    assert.deepEqual(Array.from(calc.batch('remainder', a, b)), [0n, 0n, 0n, 0n, 1n, 0n]);
  });

  test('a batch of 1,000,000 additions matches a plain loop', () => {
    const n = 1_000_000;
    const a = new BigInt64Array(n);
    const b = new BigInt64Array(n);
    // Fill both with pseudo-random 64-bit words (a linear congruential generator over 32-bit halves).
    const words = [new Uint32Array(a.buffer), new Uint32Array(b.buffer)];
    let x = 12345;
    for (const w of words) {
      for (let i = 0; i < w.length; i++) {
        x = (Math.imul(x, 1103515245) + 12345) >>> 0;
        w[i] = x ^ (x << 7);
      }
    }
    // Make some of them saturate for sure.
    for (let i = 0; i < n; i += 1000) {
      a[i] = MAX;
      b[i] = BigInt(1 + (i % 7));
      a[i + 1] = MIN;
      b[i + 1] = -1n;
    }
    const aBefore = a.slice();
    const bBefore = b.slice();
    const result = calc.batch('add', a, b);
    assert.equal(result.length, n);
    for (let i = 0; i < n; i++) {
      const expected = clamp(a[i]! + b[i]!);
      if (result[i] !== expected)
        assert.fail(`element ${i}: ${a[i]}n + ${b[i]}n gave ${result[i]}n, expected ${expected}n`);
    }
    assert.deepEqual(a, aBefore);
    assert.deepEqual(b, bBefore);
    // Into out, and as plain arrays of numbers.
    const out = new BigInt64Array(n);
    assert.equal(calc.batch('add', a, b, out), out);
    assert.deepEqual(out, result);
    const small = Array.from({ length: n }, (_, i) => (i % 2 === 0 ? i : -i));
    const doubled = calc.batch('add', small, small);
    for (let i = 0; i < n; i++) {
      if (doubled[i] !== BigInt(2 * small[i]!)) assert.fail(`element ${i} of number[] + number[]`);
    }
  });
});

describe('failing elements', () => {
  test('the first zero divisor fails the batch with its index, for every kind', () => {
    for (const op of ['divide', 'remainder'] as const) {
      const cases: [number[], number][] = [
        [[0], 0],
        [[0, 0, 0], 0],
        [[1, 2, 0, 3, 0], 2],
        [[5, 0], 1],
        [[...Array<number>(999).fill(3), 0], 999],
        [[...Array<number>(70).fill(-1), 0, ...Array<number>(70).fill(0)], 70],
      ];
      for (const [divisors, index] of cases) {
        const dividends = divisors.map((_, i) => i + 1);
        for (const column of [divisors, divisors.map(BigInt), BigInt64Array.from(divisors.map(BigInt))]) {
          const error = assertCalculatorError(
            () => calc.batch(op, dividends, column),
            'DIVISION_BY_ZERO',
            index,
            `${op}, b = ${column.constructor.name} with its first 0 at ${index}`,
          );
          assert.equal(typeof error.index, 'number');
        }
      }
    }
  });

  test('add, subtract and multiply never fail on zeros', () => {
    for (const op of ['add', 'subtract', 'multiply'] as const) {
      assert.deepEqual(Array.from(calc.batch(op, [0n, 5n, 0n], [0n, 0n, 7n])), [
        op === 'multiply' ? 0n : 0n,
        op === 'multiply' ? 0n : 5n,
        op === 'add' ? 7n : op === 'subtract' ? -7n : 0n,
      ]);
    }
  });

  test('a failed batch into out, then a good one: the calculator keeps working', () => {
    const out = new BigInt64Array(3);
    assertCalculatorError(() => calc.batch('divide', [1n, 2n, 3n], [1n, 0n, 1n], out), 'DIVISION_BY_ZERO', 1);
    assert.deepEqual(Array.from(calc.batch('divide', [1n, 2n, 3n], [1n, 1n, 1n], out)), [1n, 2n, 3n]);
  });
});

describe('argument checks of batch', () => {
  test('columns of unequal length are a RangeError, for every pair of kinds', () => {
    for (const [na, nb] of [
      [0, 1],
      [1, 0],
      [2, 3],
      [100, 99],
    ] as const) {
      const columns = (n: number): Column[] => [
        new BigInt64Array(n).fill(1n),
        Array<bigint>(n).fill(1n),
        Array<number>(n).fill(1),
      ];
      for (const a of columns(na)) {
        for (const b of columns(nb)) {
          assertThrowsExactly(() => calc.batch('add', a, b), RangeError, `lengths ${na} and ${nb}`);
          assertThrowsExactly(
            () => calc.batch('divide', a, b, new BigInt64Array(na)),
            RangeError,
            `lengths ${na} and ${nb}, out`,
          );
        }
      }
    }
    assert.deepEqual(Array.from(calc.batch('add', [1], [2])), [3n]);
  });

  test('an unknown operation is a TypeError', () => {
    for (const op of [
      'Add',
      'ADD',
      'pow',
      '',
      ' add',
      'toString',
      '__proto__',
      'constructor',
      'hasOwnProperty',
      'valueOf',
      1,
      0,
      null,
      undefined,
      {},
      Symbol('add'),
    ]) {
      assertThrowsExactly(() => calc.batch(op as Op, [1n], [2n]), TypeError, `op ${String(op)}`);
      assert.deepEqual(Array.from(calc.batch('add', [1n], [2n])), [3n]);
    }
  });

  test('an out that is not a BigInt64Array is a TypeError', () => {
    for (const out of [
      [0n, 0n],
      new BigUint64Array(2),
      new Int32Array(2),
      new Float64Array(2),
      new Uint8Array(16),
      null,
      'xx',
      2,
    ]) {
      assertThrowsExactly(
        () => calc.batch('add', [1n, 2n], [3n, 4n], out as unknown as BigInt64Array),
        TypeError,
        `out = ${Object.prototype.toString.call(out)}`,
      );
      // The same as the `out` of an options object (`{}` alone is one: no out, the default mode).
      if (out === null) continue;
      assertThrowsExactly(
        () => calc.batch('add', [1n, 2n], [3n, 4n], { out: out as unknown as BigInt64Array }),
        TypeError,
        `{ out: ${Object.prototype.toString.call(out)} }`,
      );
    }
    assert.deepEqual(Array.from(calc.batch('add', [1n, 2n], [3n, 4n], {})), [4n, 6n]);
    assert.deepEqual(Array.from(calc.batch('add', [1n, 2n], [3n, 4n])), [4n, 6n]);
  });

  test('an out of another length is a RangeError and is left untouched', () => {
    for (const length of [0, 1, 3, 100]) {
      const out = new BigInt64Array(length).fill(-5n);
      assertThrowsExactly(() => calc.batch('add', [1n, 2n], [3n, 4n], out), RangeError, `out of length ${length}`);
      assert.ok(
        out.every((x) => x === -5n),
        'out untouched',
      );
    }
    assert.deepEqual(Array.from(calc.batch('add', [1n, 2n], [3n, 4n])), [4n, 6n]);
  });

  test('out may be one of the input columns', () => {
    const a = new BigInt64Array([1n, 2n, 3n, MAX]);
    const b = new BigInt64Array([10n, 20n, 30n, 1n]);
    assert.equal(calc.batch('add', a, b, a), a);
    assert.deepEqual(Array.from(a), [11n, 22n, 33n, MAX]);
    assert.equal(calc.batch('multiply', a, b, b), b);
    assert.deepEqual(Array.from(b), [110n, 440n, 990n, MAX]);
    const c = new BigInt64Array([7n, -7n]);
    assert.equal(calc.batch('remainder', c, c, c), c);
    assert.deepEqual(Array.from(c), [0n, 0n]);
  });
});

describe('ownership', () => {
  test('a returned array is not changed by later calls', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom<Op>('add', 'subtract', 'multiply'), fc.array(i64, { maxLength: 40 })), {
          minLength: 2,
          maxLength: 8,
        }),
        (calls) => {
          const kept: [BigInt64Array, bigint[]][] = [];
          for (const [op, values] of calls) {
            const reversed = [...values].reverse();
            const result = calc.batch(op, values, reversed);
            kept.push([result, Array.from(result)]);
            calc.add(1n, 2n);
            calc.process(new Uint8Array([0x0a, 0x02, 0x08, 0x05]));
          }
          for (const [result, snapshot] of kept) assert.deepEqual(Array.from(result), snapshot);
          // All distinct objects, none sharing memory with the calculator.
          assert.equal(new Set(kept.map(([r]) => r)).size, kept.length);
        },
      ),
      { numRuns: 100 },
    );
  });

  test('results survive the calculator growing its buffer and a batch of the same length', () => {
    const first = calc.batch('add', [1n, 2n, 3n], [10n, 20n, 30n]);
    const big = new BigInt64Array(300_000).fill(7n);
    calc.batch('multiply', big, big); // larger than any buffer used so far
    const second = calc.batch('subtract', [1n, 2n, 3n], [10n, 20n, 30n]);
    assert.deepEqual(Array.from(first), [11n, 22n, 33n]);
    assert.deepEqual(Array.from(second), [-9n, -18n, -27n]);
  });

  test('a result the caller overwrites does not affect later results', () => {
    const r1 = calc.batch('add', [1n, 2n], [3n, 4n]);
    r1.fill(99n);
    const r2 = calc.batch('add', [1n, 2n], [3n, 4n]);
    assert.deepEqual(Array.from(r2), [4n, 6n]);
    assert.notEqual(r1, r2);
  });

  test('out is not touched by later calls', () => {
    const out = new BigInt64Array(2);
    calc.batch('add', [1n, 2n], [3n, 4n], out);
    calc.batch('add', [100n, 200n], [300n, 400n]);
    calc.batch('add', [100n, 200n], [300n, 400n], new BigInt64Array(2));
    assert.deepEqual(Array.from(out), [4n, 6n]);
  });
});

describe('limits', () => {
  test('maxBatchLength: 10 accepts 10 and refuses 11 with LIMIT_EXCEEDED, for every kind', () => {
    const small = new Calculator({ maxBatchLength: 10 });
    const columns = (n: number): Column[] => [
      new BigInt64Array(n).fill(3n),
      Array<bigint>(n).fill(3n),
      Array<number>(n).fill(3),
    ];
    for (const op of OPS) {
      for (const a of columns(11)) {
        for (const b of columns(11)) {
          assertCalculatorError(() => small.batch(op, a, b), 'LIMIT_EXCEEDED', 'none', `${op} of 11`);
          assertCalculatorError(() => small.batch(op, a, b, new BigInt64Array(11)), 'LIMIT_EXCEEDED', 'none');
        }
      }
      for (const a of columns(10)) {
        for (const b of columns(10)) {
          const expected = referenceBatch(op, bigints(a), bigints(b));
          assert.ok('values' in expected);
          assert.deepEqual(Array.from(small.batch(op, a, b)), expected.values);
        }
      }
    }
    // The limit is checked before the divisors: a batch of 11 zeros is a limit error, not a division by zero.
    assertCalculatorError(
      () => small.batch('divide', Array<number>(11).fill(1), Array<number>(11).fill(0)),
      'LIMIT_EXCEEDED',
    );
    assert.equal(small.add(1, 1), 2);
    assertCalculatorError(
      () => small.batch('add', Array<number>(1000).fill(1), Array<number>(1000).fill(1)),
      'LIMIT_EXCEEDED',
    );
    assert.deepEqual(Array.from(small.batch('add', [1], [1])), [2n]);
    small.close();
  });

  // Issue 16: maxRequestBytes bounds each request that crosses, not the columns a caller holds: a
  // batch larger than one request runs as several, for every path (new array, out, batchAsync).
  test('maxRequestBytes bounds each request: a longer batch runs as several, with the same answers', async () => {
    const small = new Calculator({ maxRequestBytes: 1000 });
    // 1,000 pairs of 64-bit values cannot be encoded in 1,000 bytes: about 60 a request.
    const n = 1000;
    const a = BigInt64Array.from({ length: n }, (_, i) => BigInt(i * 7919 - 500_000));
    const b = BigInt64Array.from({ length: n }, (_, i) => BigInt((i % 13) - 6) || 1n);
    for (const op of OPS) {
      const expected = referenceBatch(op, Array.from(a), Array.from(b));
      assert.ok('values' in expected);
      assert.deepEqual(Array.from(small.batch(op, a, b)), expected.values, `${op}, new array`);
      assert.deepEqual(Array.from(small.batch(op, a, b, new BigInt64Array(n))), expected.values, `${op}, into out`);
      assert.deepEqual(
        Array.from(small.batch(op, Array.from(a), Array.from(b))),
        expected.values,
        `${op}, plain arrays`,
      );
      assert.deepEqual(Array.from(await small.batchAsync(op, a, b)), expected.values, `${op}, batchAsync`);
    }
    // A failure in a later request: its index counts from the start, and out is left untouched.
    const zeros = b.slice();
    zeros[700] = 0n;
    const out = new BigInt64Array(n).fill(5n);
    assertCalculatorError(() => small.batch('divide', a, zeros, out), 'DIVISION_BY_ZERO', 700);
    assert.ok(
      out.every((x) => x === 5n),
      'out untouched by a failed batch of several requests',
    );
    // A limit too small for even one element's request names the option.
    const tiny = new Calculator({ maxRequestBytes: 20 });
    const error = assertCalculatorError(() => tiny.batch('add', [1n], [1n]), 'LIMIT_EXCEEDED', 'none');
    assert.match(error.message, /maxRequestBytes \(20\)/);
    tiny.close();
    small.close();
  });

  test('the default limits agree: a batch of maxBatchLength elements passes, one more names the option', async () => {
    // The case: 5,000,000 elements failed with a request of 80,000,024 bytes over 64 MiB.
    const n = 5_000_000;
    const a = new BigInt64Array(n).fill(3n);
    assert.equal(calc.batch('add', a, a)[n - 1], 6n);
    assert.equal(calc.batch('multiply', a, a, new BigInt64Array(n))[n - 1], 9n);
    assert.equal(calc.batch('divide', a, a, new BigInt64Array(n))[n - 1], 1n);
    assert.equal((await calc.batchAsync('subtract', a, a))[n - 1], 0n);
    const small = new Calculator({ maxBatchLength: 600_000 });
    const limit = new BigInt64Array(600_000).fill(1n);
    assert.equal(small.batch('add', limit, limit)[599_999], 2n);
    const over = new BigInt64Array(600_001);
    const error = assertCalculatorError(() => small.batch('add', over, over), 'LIMIT_EXCEEDED', 'none');
    assert.match(error.message, /maxBatchLength \(600000\)/);
    small.close();
  });

  test('the default limits accept large batches', () => {
    const n = 100_000;
    const r = calc.batch(
      'remainder',
      Array.from({ length: n }, (_, i) => i),
      Array<number>(n).fill(7),
    );
    assert.equal(r.length, n);
    assert.equal(r[n - 1], BigInt((n - 1) % 7));
    assert.equal(show(Array.from(r.subarray(0, 8))), show([0n, 1n, 2n, 3n, 4n, 5n, 6n, 0n]));
  });
});
