// The argument rules: what is a RangeError and what is a TypeError, for single operations and for
// batch columns; and that every such failure leaves the calculator working.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Calculator } from 'nanocalc';
import { MAX, MIN, OPS } from './models/reference.js';
import { assertThrowsExactly, show } from './support/helpers.js';

const calc = new Calculator();

/** A correct call of every kind, after a failure. */
function assertStillWorks(context: string): void {
  assert.equal(calc.add(2, 3), 5, `number call after ${context}`);
  assert.equal(calc.multiply(-4n, 5n), -20n, `bigint call after ${context}`);
  assert.deepEqual(Array.from(calc.batch('subtract', [10n, 20n], [1n, 2n])), [9n, 18n], `batch after ${context}`);
}

type AnyCall = (a: unknown, b: unknown) => unknown;
function call(op: (typeof OPS)[number], a: unknown, b: unknown): unknown {
  return (calc[op] as AnyCall).call(calc, a, b);
}

describe('single operations', () => {
  const unsafeNumbers = [
    2 ** 53,
    -(2 ** 53),
    2 ** 53 + 2,
    2 ** 64,
    NaN,
    Infinity,
    -Infinity,
    1.5,
    -0.5,
    1e-300,
    Number.MAX_VALUE,
    Number.EPSILON,
  ];
  for (const op of OPS) {
    test(`${op}: unsafe or non-integer numbers are RangeErrors, in either position`, () => {
      for (const bad of unsafeNumbers) {
        assertThrowsExactly(() => call(op, bad, 1), RangeError, `${op}(${bad}, 1)`);
        assertThrowsExactly(() => call(op, 1, bad), RangeError, `${op}(1, ${bad})`);
        assertThrowsExactly(() => call(op, bad, bad), RangeError, `${op}(${bad}, ${bad})`);
        assertStillWorks(`${op}(${bad}, 1)`);
      }
    });

    test(`${op}: bigints outside i64 are RangeErrors, in either position; the i64 bounds are accepted`, () => {
      for (const bad of [MAX + 1n, MIN - 1n, 2n ** 64n, -(2n ** 64n), 2n ** 100n]) {
        assertThrowsExactly(() => call(op, bad, 1n), RangeError, `${op}(${bad}n, 1n)`);
        assertThrowsExactly(() => call(op, 1n, bad), RangeError, `${op}(1n, ${bad}n)`);
        assertStillWorks(`${op}(${bad}n, 1n)`);
      }
      for (const a of [MIN, MAX]) for (const b of [MIN, MAX]) assert.equal(typeof call(op, a, b), 'bigint');
    });

    test(`${op}: mixed kinds and non-numeric operands are TypeErrors`, () => {
      const cases: [unknown, unknown][] = [
        [1, 1n],
        [1n, 1],
        [0, 0n],
        [0n, 0],
        ['1', 1],
        [1, '1'],
        ['1', '1'],
        ['1n', 1n],
        [undefined, 1],
        [1, undefined],
        [1n, undefined],
        [undefined, undefined],
        [null, 1],
        [1, null],
        [null, null],
        [{}, 1],
        [1, {}],
        [[1], 1],
        [1n, [1n]],
        [true, 1],
        [1, false],
        [Symbol('x'), 1],
        [new Number(1), 1], // a Number object is not a number
        [1, Object(1n)], // nor is a BigInt object a bigint
        [() => 1, 1],
      ];
      for (const [a, b] of cases) {
        assertThrowsExactly(() => call(op, a, b), TypeError, `${op}(${show(String(a))}, ${show(String(b))})`);
        assertStillWorks(`${op} with a TypeError`);
      }
      assertThrowsExactly(() => (calc[op] as () => unknown).call(calc), TypeError, `${op}() with no arguments`);
      assertThrowsExactly(() => (calc[op] as (a: unknown) => unknown).call(calc, 1), TypeError, `${op}(1)`);
      assertStillWorks(`${op} with missing arguments`);
    });
  }
});

describe('batch columns', () => {
  test('a plain array mixing numbers and bigints is a TypeError, wherever the odd one is', () => {
    const mixed: unknown[][] = [
      [1, 2n],
      [1n, 2],
      [1n, 2n, 3],
      [1, 2, 3n],
      [1, 2, 3, 4, 5, 6, 7, 8, 9n],
    ];
    for (const column of mixed) {
      const other = Array.from({ length: column.length }, () => 1n);
      assertThrowsExactly(() => calc.batch('add', column as bigint[], other), TypeError, `a = ${show(column)}`);
      assertThrowsExactly(() => calc.batch('add', other, column as bigint[]), TypeError, `b = ${show(column)}`);
      assertStillWorks(`mixed column ${show(column)}`);
    }
  });

  test('other kinds of element are TypeErrors', () => {
    for (const bad of ['1', null, undefined, {}, true, [1], Object(1n)]) {
      for (const column of [[bad, 1], [1, bad], [1n, bad], [bad]]) {
        const other = column.map(() => 1);
        assertThrowsExactly(
          () => calc.batch('add', column as number[], other),
          TypeError,
          `a = [${column.map(String)}]`,
        );
        assertThrowsExactly(
          () => calc.batch('add', other, column as number[]),
          TypeError,
          `b = [${column.map(String)}]`,
        );
      }
      assertStillWorks(`an element ${String(bad)}`);
    }
  });

  test('a sparse hole is a TypeError', () => {
    // biome-ignore lint/suspicious/noSparseArray: holes are what this test throws at the API
    const holes: unknown[][] = [[1, , 3], [, 2, 3], [1n, , 3n], [, 1n], new Array(3)];
    for (const column of holes) {
      const other = Array.from({ length: column.length }, () => 1);
      assertThrowsExactly(
        () => calc.batch('add', column as number[], other),
        TypeError,
        `a with a hole, length ${column.length}`,
      );
      assertThrowsExactly(
        () => calc.batch('multiply', other, column as number[]),
        TypeError,
        `b with a hole, length ${column.length}`,
      );
      assertStillWorks('a sparse column');
    }
  });

  test('an unsafe or non-integer number element is a RangeError', () => {
    for (const bad of [2 ** 53, -(2 ** 53), NaN, Infinity, -Infinity, 0.5, 1e20]) {
      for (const column of [[bad], [1, bad], [1, 2, 3, bad]]) {
        const other = column.map(() => 1);
        assertThrowsExactly(() => calc.batch('add', column, other), RangeError, `a = [${column}]`);
        assertThrowsExactly(() => calc.batch('divide', other, column), RangeError, `b = [${column}]`);
      }
      assertStillWorks(`an element ${bad}`);
    }
  });

  test('an out-of-range bigint element is a RangeError', () => {
    for (const bad of [MAX + 1n, MIN - 1n, 2n ** 64n]) {
      for (const column of [[bad], [1n, bad], [MIN, MAX, bad]]) {
        const other = column.map(() => 1n);
        assertThrowsExactly(() => calc.batch('add', column, other), RangeError, `a = [${column}]`);
        assertThrowsExactly(() => calc.batch('add', other, column), RangeError, `b = [${column}]`);
      }
      assertStillWorks(`an element ${bad}n`);
    }
  });

  test('columns of other types are TypeErrors', () => {
    const others: unknown[] = [
      new Int32Array([1, 2]),
      new BigUint64Array([1n, 2n]),
      new Float64Array([1, 2]),
      new Uint8Array([1, 2]),
      '12',
      { length: 2, 0: 1, 1: 2 },
      null,
      undefined,
      12,
      12n,
      new Set([1, 2]),
      new ArrayBuffer(16),
    ];
    for (const column of others) {
      const good = [1, 2];
      const name = Object.prototype.toString.call(column);
      assertThrowsExactly(() => calc.batch('add', column as number[], good), TypeError, `a = ${name}`);
      assertThrowsExactly(() => calc.batch('add', good, column as number[]), TypeError, `b = ${name}`);
      assertThrowsExactly(() => calc.batch('add', column as number[], column as number[]), TypeError, `both ${name}`);
      assertStillWorks(`a column ${name}`);
    }
  });

  test('the two columns may be of different accepted kinds', () => {
    const kinds = {
      i64: new BigInt64Array([5n, -6n, 7n]),
      bigints: [5n, -6n, 7n],
      numbers: [5, -6, 7],
    };
    for (const a of Object.values(kinds)) {
      for (const b of Object.values(kinds)) {
        const result = calc.batch('multiply', a, b);
        assert.ok(result instanceof BigInt64Array);
        assert.deepEqual(Array.from(result), [25n, 36n, 49n]);
      }
    }
  });

  test('an element getter that throws fails the batch with that error; the calculator keeps working', () => {
    const column = [1, 2, 3];
    const boom = new Error('boom');
    Object.defineProperty(column, 1, {
      get() {
        throw boom;
      },
    });
    assert.throws(
      () => calc.batch('add', column, [1, 1, 1]),
      (e) => e === boom,
    );
    assert.throws(
      () => calc.batch('add', [1, 1, 1], column),
      (e) => e === boom,
    );
    assertStillWorks('a throwing getter');
  });

  test('an element getter that calls the same calculator cannot corrupt the batch', () => {
    // Whether the nested call is refused or served, the batch must come out right.
    const a = [10n, 20n, 30n, 40n];
    const b = [1n, 2n, 3n, 4n];
    let nested = 0;
    Object.defineProperty(a, 2, {
      get() {
        try {
          const r = calc.batch('multiply', [7n, 7n, 7n, 7n, 7n, 7n], [9n, 9n, 9n, 9n, 9n, 9n]);
          assert.deepEqual(Array.from(r), [63n, 63n, 63n, 63n, 63n, 63n]);
          calc.add(1000n, 1000n);
          nested++;
        } catch {
          // refused: fine
        }
        return 30n;
      },
    });
    const result = calc.batch('subtract', a, b);
    assert.deepEqual(Array.from(result), [9n, 18n, 27n, 36n], `nested calls served: ${nested}`);
    assertStillWorks('a reentrant getter');
  });
});
