// The arithmetic of single operations, held to the BigInt reference model of test/reference.ts.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Calculator } from 'nanocalc';
import { EDGES, MAX, MIN, OPS, SAFE_MAX, SAFE_MIN, i64, reference, safeInt, type Op } from './models/reference.js';
import { assertCalculatorError, assertThrowsExactly, show } from './support/helpers.js';

const calc = new Calculator();

function callBig(op: Op, a: bigint, b: bigint): bigint {
  return calc[op](a, b);
}
function callNum(op: Op, a: number, b: number): number {
  return calc[op](a, b);
}

/** Checks one bigint call against the model: the value, or DIVISION_BY_ZERO. */
function checkBig(op: Op, a: bigint, b: bigint): void {
  const expected = reference(op, a, b);
  const context = `${op}(${a}n, ${b}n)`;
  if (expected === null) {
    assertCalculatorError(() => callBig(op, a, b), 'DIVISION_BY_ZERO', 'none', context);
    return;
  }
  const actual = callBig(op, a, b);
  assert.equal(typeof actual, 'bigint', context);
  assert.equal(actual, expected, context);
}

/** Checks one number call against the model: the value, RangeError beyond the safe range, or DIVISION_BY_ZERO. */
function checkNum(op: Op, a: number, b: number): void {
  const expected = reference(op, BigInt(a), BigInt(b));
  const context = `${op}(${a}, ${b})`;
  if (expected === null) {
    assertCalculatorError(() => callNum(op, a, b), 'DIVISION_BY_ZERO', 'none', context);
  } else if (expected > BigInt(SAFE_MAX) || expected < BigInt(SAFE_MIN)) {
    assertThrowsExactly(() => callNum(op, a, b), RangeError, context);
  } else {
    const actual = callNum(op, a, b);
    assert.equal(typeof actual, 'number', context);
    assert.equal(actual, Number(expected), context);
  }
}

describe('bigint operands over the full i64 range match the reference model', () => {
  for (const op of OPS) {
    test(op, () => {
      fc.assert(
        fc.property(i64, i64, (a, b) => checkBig(op, a, b)),
        { numRuns: 1000 },
      );
    });
  }

  test('every op on every pair of edge values', () => {
    const edges = [...EDGES, MIN + 2n, -2n, 2n, -7n, 7n, -(2n ** 32n), 2n ** 32n, 2n ** 62n, -(2n ** 62n), MAX - 2n];
    for (const op of OPS) for (const a of edges) for (const b of edges) checkBig(op, a, b);
  });

  test('division and remainder by zero throw DIVISION_BY_ZERO for any dividend', () => {
    fc.assert(
      fc.property(i64, fc.constantFrom<Op>('divide', 'remainder'), (a, op) => {
        assertCalculatorError(() => callBig(op, a, 0n), 'DIVISION_BY_ZERO', 'none', `${op}(${a}n, 0n)`);
      }),
      { numRuns: 300 },
    );
  });

  test('the identity a = (a / b) * b + a % b holds wherever the quotient is exact', () => {
    fc.assert(
      fc.property(i64, i64, (a, b) => {
        fc.pre(b !== 0n && !(a === MIN && b === -1n));
        const q = calc.divide(a, b);
        const r = calc.remainder(a, b);
        assert.equal(q * b + r, a, `${a}n, ${b}n`);
        assert.ok(r === 0n || r < 0n === a < 0n, `the remainder takes the sign of the dividend: ${a}n % ${b}n = ${r}n`);
      }),
      { numRuns: 500 },
    );
  });
});

describe('number operands over the safe integers match the reference model', () => {
  for (const op of OPS) {
    test(op, () => {
      fc.assert(
        fc.property(safeInt, safeInt, (a, b) => checkNum(op, a, b)),
        { numRuns: 1000 },
      );
    });
  }

  test('every op on every pair of safe edge values', () => {
    const edges = [
      SAFE_MIN,
      SAFE_MIN + 1,
      -(2 ** 32),
      -7,
      -2,
      -1,
      0,
      1,
      2,
      7,
      2 ** 32,
      2 ** 31,
      SAFE_MAX - 1,
      SAFE_MAX,
    ];
    for (const op of OPS) for (const a of edges) for (const b of edges) checkNum(op, a, b);
  });

  test('results at the edge of the safe range: in range is a number, one past is a RangeError', () => {
    assert.equal(calc.add(SAFE_MAX - 1, 1), SAFE_MAX);
    assert.equal(calc.subtract(SAFE_MIN + 1, 1), SAFE_MIN);
    assertThrowsExactly(() => calc.add(SAFE_MAX, 1), RangeError, 'MAX_SAFE + 1');
    assertThrowsExactly(() => calc.subtract(SAFE_MIN, 1), RangeError, 'MIN_SAFE - 1');
    assertThrowsExactly(() => calc.add(SAFE_MAX, SAFE_MAX), RangeError, 'MAX_SAFE * 2');
    assertThrowsExactly(() => calc.multiply(2 ** 26, 2 ** 27), RangeError, '2^53');
    assert.equal(calc.multiply(-(2 ** 26), 2 ** 26), -(2 ** 52));
    assertThrowsExactly(() => calc.multiply(-(2 ** 27), 2 ** 26), RangeError, '-2^53');
    assertThrowsExactly(() => calc.multiply(SAFE_MAX, SAFE_MAX), RangeError, 'MAX_SAFE^2 (saturates in i64)');
    assertThrowsExactly(() => calc.subtract(SAFE_MIN, SAFE_MAX), RangeError, 'MIN_SAFE - MAX_SAFE');
    assert.equal(calc.divide(SAFE_MIN, -1), SAFE_MAX);
    assert.equal(calc.remainder(SAFE_MIN, -1), 0);
    // The calculator works after these RangeErrors.
    assert.equal(calc.add(2, 3), 5);
  });

  test('a number result is a number and a bigint result is a bigint', () => {
    assert.equal(calc.add(2, 3), 5);
    assert.equal(calc.add(2n, 3n), 5n);
    assert.equal(calc.add(-2, -3), -5);
    assert.equal(calc.add(-2n, -3n), -5n);
  });
});

describe('named edge cases', () => {
  const cases: [string, Op, bigint, bigint, bigint][] = [
    ['MAX + 1 saturates to MAX', 'add', MAX, 1n, MAX],
    ['MAX + MAX saturates to MAX', 'add', MAX, MAX, MAX],
    ['MIN - 1 saturates to MIN', 'subtract', MIN, 1n, MIN],
    ['MIN + -1 saturates to MIN', 'add', MIN, -1n, MIN],
    ['MIN + MIN saturates to MIN', 'add', MIN, MIN, MIN],
    ['MAX - -1 saturates to MAX', 'subtract', MAX, -1n, MAX],
    ['0 - MIN saturates to MAX', 'subtract', 0n, MIN, MAX],
    ['-1 - MIN = MAX exactly', 'subtract', -1n, MIN, MAX],
    ['MIN * -1 = MAX', 'multiply', MIN, -1n, MAX],
    ['MAX * 2 saturates to MAX', 'multiply', MAX, 2n, MAX],
    ['MIN * 2 saturates to MIN', 'multiply', MIN, 2n, MIN],
    ['MIN * MIN saturates to MAX', 'multiply', MIN, MIN, MAX],
    ['MAX * MIN saturates to MIN', 'multiply', MAX, MIN, MIN],
    ['2^32 * 2^32 saturates to MAX', 'multiply', 2n ** 32n, 2n ** 32n, MAX],
    ['MIN / -1 = MAX', 'divide', MIN, -1n, MAX],
    ['MIN / 1 = MIN', 'divide', MIN, 1n, MIN],
    ['MIN / MIN = 1', 'divide', MIN, MIN, 1n],
    ['MAX / MIN = 0', 'divide', MAX, MIN, 0n],
    ['-7 / 2 = -3', 'divide', -7n, 2n, -3n],
    ['7 / -2 = -3', 'divide', 7n, -2n, -3n],
    ['-7 / -2 = 3', 'divide', -7n, -2n, 3n],
    ['MIN % -1 = 0', 'remainder', MIN, -1n, 0n],
    ['MIN % MAX = -1', 'remainder', MIN, MAX, -1n],
    ['-7 % 2 = -1', 'remainder', -7n, 2n, -1n],
    ['7 % -2 = 1', 'remainder', 7n, -2n, 1n],
    ['-7 % -2 = -1', 'remainder', -7n, -2n, -1n],
  ];
  for (const [name, op, a, b, expected] of cases) {
    test(name, () => {
      assert.equal(reference(op, a, b), expected, 'the model agrees with the table');
      assert.equal(callBig(op, a, b), expected, show([op, a, b]));
    });
  }

  test('division and remainder by zero throw DIVISION_BY_ZERO (numbers and bigints)', () => {
    for (const op of ['divide', 'remainder'] as const) {
      for (const a of [0, 1, -1, SAFE_MAX]) assertCalculatorError(() => calc[op](a, 0), 'DIVISION_BY_ZERO', 'none');
      for (const a of [0n, MIN, MAX]) assertCalculatorError(() => calc[op](a, 0n), 'DIVISION_BY_ZERO', 'none');
      assertCalculatorError(() => calc[op](5, -0), 'DIVISION_BY_ZERO', 'none', 'a divisor of -0');
    }
    assert.equal(calc.divide(7, 2), 3, 'works after the errors');
  });

  test('the same small cases with numbers', () => {
    assert.equal(calc.divide(-7, 2), -3);
    assert.equal(calc.divide(7, -2), -3);
    assert.equal(calc.remainder(-7, 2), -1);
    assert.equal(calc.remainder(7, -2), 1);
    assert.equal(calc.subtract(3, 5), -2);
    assert.equal(calc.multiply(-3, 5), -15);
  });
});
