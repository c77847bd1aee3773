// calc.evaluate: expressions of many steps in one crossing, against the BigInt reference of
// test/expr-reference.ts (a state machine and precedence climbing, independent of the engine).

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { Calculator } from 'nanocalc';
import {
  CalculatorRequestSchema,
  CalculatorResponseSchema,
  ErrorCode,
  ExpressionSchema,
} from '../gen/nanocalc/v1/calculator_pb.js';
import {
  MAX_EXPRESSION_BYTES,
  MAX_EXPRESSION_DEPTH,
  expression,
  expressionSoup,
  referenceEvaluate,
} from './models/expressions.js';
import { MAX, MIN } from './models/reference.js';
import { assertCalculatorError, assertThrowsExactly, show } from './support/helpers.js';

const calc = new Calculator();

/** Asserts `calc.evaluate(text)` gives what the reference says: the value, or the code and index. */
function agree(text: string): void {
  const expected = referenceEvaluate(text);
  if ('value' in expected) {
    assert.equal(calc.evaluate(text), expected.value, show(text));
  } else {
    const error = assertCalculatorError(() => calc.evaluate(text), expected.code, expected.index, show(text));
    assert.ok(error.message.length > 0);
  }
}

describe('evaluate: values', () => {
  test('the example of the issue, and 1 + 2 * 3', () => {
    assert.equal(calc.evaluate('2 * (3 + -4) % 5'), -2n);
    assert.equal(calc.evaluate('1 + 2 * 3'), 7n);
  });

  test('precedence and associativity', () => {
    const table: [string, bigint][] = [
      ['1 + 2 * 3', 7n],
      ['(1 + 2) * 3', 9n],
      ['10 - 4 - 3', 3n],
      ['10 - (4 - 3)', 9n],
      ['100 / 10 / 5', 2n],
      ['100 / (10 / 5)', 50n],
      ['7 % 4 * 3', 9n],
      ['7 * 4 % 3', 1n],
      ['2 + 3 % 2', 3n],
      ['-2 * -3', 6n],
      ['--5', 5n],
      ['- - -5', -5n],
      ['-(2 + 3) * 2', -10n],
      ['1 - -1', 2n],
      ['\t( 1\n+\r\n2 )  ', 3n],
      ['007', 7n],
    ];
    for (const [text, value] of table) {
      assert.equal(calc.evaluate(text), value, text);
      assert.deepEqual(referenceEvaluate(text), { value }, `the reference agrees on ${text}`);
    }
  });

  test('each step has the arithmetic of the five operations (saturating, truncating)', () => {
    const table: [string, bigint][] = [
      ['9223372036854775807 + 1', MAX],
      ['9223372036854775807 + 1 - 1', MAX - 1n], // saturates at the first step
      ['-9223372036854775808', MIN],
      ['-9223372036854775808 - 1', MIN],
      ['-9223372036854775808 / -1', MAX],
      ['-9223372036854775808 % -1', 0n],
      ['-(-9223372036854775808)', MAX],
      ['--9223372036854775808', MAX],
      ['-7 / 2', -3n],
      ['7 / -2', -3n],
      ['-7 % 2', -1n],
      ['7 % -2', 1n],
      ['4294967296 * 4294967296', MAX],
    ];
    for (const [text, value] of table) assert.equal(calc.evaluate(text), value, text);
  });

  test('random expressions agree with the reference', () => {
    fc.assert(
      fc.property(expression, (text) => agree(text)),
      { numRuns: 1500 },
    );
  });

  test('random strings over the alphabet (and outside it) agree with the reference', () => {
    fc.assert(
      fc.property(expressionSoup, (text) => agree(text)),
      { numRuns: 1500 },
    );
  });

  test('damaged expressions agree with the reference', () => {
    fc.assert(
      fc.property(expression, fc.nat(), fc.constantFrom('(', ')', '+', '*', 'x', '1', ' ', 'é'), (text, at, insert) => {
        const i = at % (text.length + 1);
        agree(text.slice(0, i) + insert + text.slice(i));
        agree(text.slice(0, i) + text.slice(i + 1));
      }),
      { numRuns: 1000 },
    );
  });
});

describe('evaluate: errors', () => {
  test('syntax errors point at the character at fault', () => {
    const table: [string, number, RegExp][] = [
      ['2 * (3 + 4', 10, /expected '\)' at 10/],
      ['2 * (3 + 4]', 10, /expected '\)' at 10, found '\]'/],
      ['1 +', 3, /expected a number or '\(' at 3/],
      ['1 + x', 4, /found 'x'/],
      ['1 2', 2, /unexpected '2' at 2/],
      ['(1))', 3, /unexpected '\)' at 3/],
      ['', 0, /at 0/],
      ['   ', 3, /at 3/],
      ['+1', 0, /at 0/],
      ['1 + é', 4, /non-ASCII/],
      ['(1) é', 4, /non-ASCII/],
      ['9223372036854775808', 0, /integer literal out of range at 0/],
      ['1 - 9223372036854775808', 4, /out of range at 4/],
      ['-(9223372036854775808)', 2, /out of range at 2/],
      ['99999999999999999999999999', 0, /out of range/],
      ['1 / 0 +', 7, /at 7/], // a syntax error anywhere is reported before a division by zero
    ];
    for (const [text, index, message] of table) {
      const error = assertCalculatorError(() => calc.evaluate(text), 'SYNTAX_ERROR', index, text);
      assert.match(error.message, message, text);
      assert.deepEqual(referenceEvaluate(text), { code: 'SYNTAX_ERROR', index }, `the reference agrees on ${text}`);
    }
  });

  test('for non-ASCII text the index counts characters before it (all ASCII), in UTF-16 units too', () => {
    const text = '12 + 3 😀 4';
    const error = assertCalculatorError(() => calc.evaluate(text), 'SYNTAX_ERROR', 7);
    assert.equal(text.codePointAt(error.index!), 0x1f600);
  });

  test('division by zero points at the operator, the first evaluated', () => {
    assertCalculatorError(() => calc.evaluate('1 / 0'), 'DIVISION_BY_ZERO', 2);
    assertCalculatorError(() => calc.evaluate('5 + 3 % (2 - 2)'), 'DIVISION_BY_ZERO', 6);
    assertCalculatorError(() => calc.evaluate('(1 % 0) + 2 / 0'), 'DIVISION_BY_ZERO', 3);
    assertCalculatorError(() => calc.evaluate('1 / (2 / 0)'), 'DIVISION_BY_ZERO', 7);
  });

  test('limits: 64 KiB of text, parentheses 256 deep (no stack overflow far beyond)', () => {
    const deep = (n: number) => `${'('.repeat(n)}1${')'.repeat(n)}`;
    assert.equal(calc.evaluate(deep(MAX_EXPRESSION_DEPTH)), 1n);
    assertCalculatorError(() => calc.evaluate(deep(MAX_EXPRESSION_DEPTH + 1)), 'LIMIT_EXCEEDED', MAX_EXPRESSION_DEPTH);
    assertCalculatorError(() => calc.evaluate('('.repeat(60_000)), 'LIMIT_EXCEEDED', MAX_EXPRESSION_DEPTH);
    assert.equal(calc.evaluate(`${'-'.repeat(60_000)}7`), 7n, 'unary minus does not nest');
    const fits = `${' '.repeat(MAX_EXPRESSION_BYTES - 1)}1`;
    assert.equal(calc.evaluate(fits), 1n);
    assertCalculatorError(() => calc.evaluate(`${fits} `), 'LIMIT_EXCEEDED', 0);
    // Counted in UTF-8 bytes: 21,846 three-byte characters are over the limit.
    assertCalculatorError(() => calc.evaluate('€'.repeat(21_846)), 'LIMIT_EXCEEDED', 0);
    assertCalculatorError(() => calc.evaluate('€'.repeat(21_845)), 'SYNTAX_ERROR', 0);
    const small = new Calculator({ maxRequestBytes: 100 });
    assertCalculatorError(() => small.evaluate(`${' '.repeat(200)}1`), 'LIMIT_EXCEEDED');
    assert.equal(small.evaluate('1 + 1'), 2n);
    small.close();
  });

  test('a non-string argument is a TypeError; the calculator keeps working after every error', () => {
    for (const bad of [undefined, null, 42, 42n, ['1'], { toString: () => '1' }]) {
      assertThrowsExactly(() => (calc.evaluate as (x: unknown) => bigint)(bad), TypeError, show(String(bad)));
    }
    for (const text of ['1 +', '1 / 0', '('.repeat(300), '€']) {
      assert.throws(() => calc.evaluate(text));
      assert.equal(calc.evaluate('6 * 7'), 42n);
      assert.equal(calc.add(2, 3), 5);
      assert.deepEqual([...calc.batch('add', [1n], [2n])], [3n]);
    }
  });

  test('a closed calculator throws CLOSED', () => {
    const closed = new Calculator();
    closed.close();
    assertCalculatorError(() => closed.evaluate('1'), 'CLOSED');
  });
});

describe('evaluate: the wire', () => {
  test('evaluate and process() of the protobuf-es encoding give the same answer', () => {
    fc.assert(
      fc.property(fc.oneof(expression, expressionSoup), (text) => {
        const request = toBinary(
          CalculatorRequestSchema,
          create(CalculatorRequestSchema, {
            operation: { case: 'expression', value: create(ExpressionSchema, { text }) },
          }),
        );
        const { result } = fromBinary(CalculatorResponseSchema, calc.process(request));
        const expected = referenceEvaluate(text);
        if ('value' in expected) {
          assert.deepEqual(result.case === 'value' && result.value, expected.value);
        } else {
          assert.equal(result.case, 'error');
          assert.equal(result.case === 'error' && result.value.code, ErrorCode[expected.code]);
          assert.equal(result.case === 'error' && result.value.index, BigInt(expected.index));
        }
      }),
      { numRuns: 300 },
    );
  });

  test('invalid UTF-8 in the text is INVALID_REQUEST, as prost says', () => {
    const { result } = fromBinary(
      CalculatorResponseSchema,
      calc.process(Uint8Array.from([0x42, 0x03, 0x0a, 0x01, 0xff])),
    );
    assert.equal(result.case === 'error' && result.value.code, ErrorCode.INVALID_REQUEST);
  });
});
