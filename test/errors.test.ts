// CalculatorError: its shape, its codes and its index.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import nanocalc, { Calculator, CalculatorError } from 'nanocalc';
import { MIN } from './models/reference.js';

const calc = new Calculator();

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  assert.fail('expected a throw');
}

function assertShape(error: unknown, code: string): CalculatorError {
  assert.ok(error instanceof CalculatorError, `a CalculatorError: ${String(error)}`);
  assert.ok(error instanceof Error, 'extends Error');
  assert.equal(error.name, 'CalculatorError');
  assert.equal(error.code, code);
  assert.equal(typeof error.message, 'string');
  assert.ok(error.message.length > 0, 'has a message');
  assert.match(error.message, /^nanocalc: /, "prefixed as the package's other errors are");
  assert.equal(typeof error.stack, 'string');
  assert.match(String(error), /^CalculatorError: /);
  return error;
}

describe('CalculatorError', () => {
  test('DIVISION_BY_ZERO on a single operation: no index', () => {
    for (const fn of [
      () => calc.divide(1, 0),
      () => calc.remainder(1, 0),
      () => calc.divide(MIN, 0n),
      () => calc.remainder(0n, 0n),
    ]) {
      const error = assertShape(catchError(fn), 'DIVISION_BY_ZERO');
      assert.equal(error.index, undefined);
      assert.ok(!('index' in error) || error.index === undefined);
    }
  });

  test('DIVISION_BY_ZERO in a batch: the index is a number, including 0', () => {
    for (const [b, index] of [
      [[0n, 1n], 0],
      [[1n, 0n], 1],
      [[1n, 1n, 1n, 1n, 1n, 1n, 1n, 1n, 1n, 1n, 0n], 10],
    ] as const) {
      for (const op of ['divide', 'remainder'] as const) {
        const a = b.map(() => 9n);
        const error = assertShape(
          catchError(() => calc.batch(op, a, [...b])),
          'DIVISION_BY_ZERO',
        );
        assert.equal(typeof error.index, 'number');
        assert.equal(error.index, index);
      }
    }
  });

  test('LIMIT_EXCEEDED and CLOSED are CalculatorErrors without an index', () => {
    const small = new Calculator({ maxBatchLength: 2 });
    const limit = assertShape(
      catchError(() => small.batch('add', [1, 2, 3], [1, 2, 3])),
      'LIMIT_EXCEEDED',
    );
    assert.equal(limit.index, undefined);
    small.close();
    const closed = assertShape(
      catchError(() => small.add(1, 2)),
      'CLOSED',
    );
    assert.equal(closed.index, undefined);
  });

  test('argument errors are plain TypeError and RangeError, not CalculatorError', () => {
    const range = catchError(() => calc.add(0.5, 1));
    assert.ok(range instanceof RangeError && !(range instanceof CalculatorError));
    const type = catchError(() => calc.add(1, 1n as unknown as number));
    assert.ok(type instanceof TypeError && !(type instanceof CalculatorError));
  });

  test('each failure is its own error object; an earlier one keeps its index', () => {
    const first = assertShape(
      catchError(() => calc.batch('divide', [1, 1, 1, 1], [1, 1, 1, 0])),
      'DIVISION_BY_ZERO',
    );
    const second = assertShape(
      catchError(() => calc.batch('divide', [1, 1], [1, 0])),
      'DIVISION_BY_ZERO',
    );
    assert.notEqual(first, second);
    assert.equal(first.index, 3);
    assert.equal(second.index, 1);
  });

  test('the calculator keeps working after each kind of error', () => {
    catchError(() => calc.divide(1n, 0n));
    assert.equal(calc.divide(9n, 3n), 3n);
    catchError(() => calc.batch('remainder', [1], [0]));
    assert.deepEqual(Array.from(calc.batch('remainder', [10], [4])), [2n]);
    catchError(() => calc.add(2 ** 53, 1));
    assert.equal(calc.add(2, 1), 3);
  });

  test('CalculatorError can be recognised by name and code without instanceof', () => {
    const error = catchError(() => calc.divide(5, 0)) as { name: string; code: string };
    assert.deepEqual({ name: error.name, code: error.code }, { name: 'CalculatorError', code: 'DIVISION_BY_ZERO' });
  });
});

describe('the package as a user imports it', () => {
  test('the default export holds the same exports', () => {
    assert.equal(nanocalc.Calculator, Calculator);
    assert.equal(nanocalc.CalculatorError, CalculatorError);
    const c = new nanocalc.Calculator();
    assert.equal(c.add(2, 3), 5);
    c.close();
  });

  test('a column of another typed array is named in the TypeError', () => {
    assert.throws(() => calc.batch('add', new Int32Array(2) as never, [1n, 2n]), {
      name: 'TypeError',
      message: /got an Int32Array/,
    });
    assert.throws(() => calc.batch('add', [1n], [2n], new Float64Array(1) as never), {
      name: 'TypeError',
      message: /got a Float64Array/,
    });
  });
});
