// The overflow modes (`overflow: 'saturate' | 'wrap' | 'throw'`) held to the BigInt model of
// test/models: every entry point (single operations on bigints and numbers, batches of every input
// kind, into `out`, long batches whose failure is in a later chunk, batchAsync, evaluate and
// process), the calculator's mode and the per-call one. Runs on Node, Bun and Deno.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { Calculator, type OverflowMode } from 'nanocalc';
import { CalculatorRequestSchema, CalculatorResponseSchema } from '../gen/nanocalc/v1/calculator_pb.js';
import {
  EDGES,
  MAX,
  MIN,
  MODES,
  MODE_WIRE,
  OPS,
  type Op,
  exact,
  expectedResponse,
  i64,
  op,
  referenceBatch,
  request,
  summarize,
} from './models/reference.js';
import { expression, referenceEvaluate } from './models/expressions.js';
import { assertCalculatorError, outcome, outcomeAsync, show } from './support/helpers.js';

const calculators = Object.fromEntries(MODES.map((mode) => [mode, new Calculator({ overflow: mode })])) as Record<
  OverflowMode,
  Calculator
>;
const mode = fc.constantFrom(...MODES);

/** The model's answer to one operation, as `outcome` gives it. */
function expectedSingle(o: Op, a: bigint, b: bigint, m: OverflowMode) {
  const r = exact(o, a, b, m);
  return typeof r === 'bigint' ? r : { code: r, index: undefined };
}

/** The model's answer to a batch, as `outcome` gives it. */
function expectedBatch(o: Op, a: readonly bigint[], b: readonly bigint[], m: OverflowMode) {
  const r = referenceBatch(o, a, b, m);
  return 'values' in r ? r.values : { code: r.code, index: r.failsAt };
}

/** An operand that overflows often: the edges, and values near 2^62 and 2^32. */
const operand = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...EDGES) },
  { weight: 2, arbitrary: fc.bigInt({ min: -(2n ** 62n), max: 2n ** 62n - 1n }).map((x) => x * 2n) },
  { weight: 2, arbitrary: fc.bigInt({ min: -(2n ** 33n), max: 2n ** 33n }) },
  { weight: 2, arbitrary: i64 },
);

describe('single operations in every mode match the model', () => {
  test('bigint operands: the calculator mode', () => {
    fc.assert(
      fc.property(op, operand, operand, mode, (o, a, b, m) => {
        assert.deepEqual(
          outcome(() => calculators[m][o](a, b)),
          expectedSingle(o, a, b, m),
          show([o, a, b, m]),
        );
      }),
      { numRuns: 3000 },
    );
  });

  test('every pair of edges, named', () => {
    for (const m of MODES) {
      for (const o of OPS) {
        for (const a of EDGES) {
          for (const b of EDGES)
            assert.deepEqual(
              outcome(() => calculators[m][o](a, b)),
              expectedSingle(o, a, b, m),
            );
        }
      }
    }
    assert.equal(calculators.saturate.add(MAX, 1n), MAX);
    assert.equal(calculators.wrap.add(MAX, 1n), MIN);
    assertCalculatorError(() => calculators.throw.add(MAX, 1n), 'OVERFLOW');
    assert.equal(calculators.saturate.divide(MIN, -1n), MAX);
    assert.equal(calculators.wrap.divide(MIN, -1n), MIN);
    assertCalculatorError(() => calculators.throw.divide(MIN, -1n), 'OVERFLOW');
    for (const m of MODES) assert.equal(calculators[m].remainder(MIN, -1n), 0n, m);
    for (const m of MODES) assertCalculatorError(() => calculators[m].divide(1n, 0n), 'DIVISION_BY_ZERO');
  });

  test('the calculator reports its mode; a bad one is a RangeError naming the option', () => {
    for (const m of MODES) assert.equal(calculators[m].overflow, m);
    assert.equal(new Calculator().overflow, 'saturate');
    for (const bad of ['Wrap', 'checked', '', 2, null]) {
      assert.throws(() => new Calculator({ overflow: bad as OverflowMode }), RangeError);
    }
  });
});

describe('batches in every mode match the model', () => {
  const column = (n: number) => fc.array(operand, { minLength: n, maxLength: n });
  const columns = fc.integer({ min: 0, max: 40 }).chain((n) => fc.tuple(column(n), column(n)));

  test('typed arrays, plain arrays and into out, by calculator mode and per call', () => {
    const plain = new Calculator();
    fc.assert(
      fc.property(op, columns, mode, (o, [a, b], m) => {
        const expected = expectedBatch(o, a, b, m);
        const typedA = BigInt64Array.from(a);
        const typedB = BigInt64Array.from(b);
        const got = [
          outcome(() => Array.from(calculators[m].batch(o, typedA, typedB))),
          outcome(() => Array.from(calculators[m].batch(o, a, b))),
          outcome(() => Array.from(plain.batch(o, typedA, typedB, { overflow: m }))),
          outcome(() => Array.from(plain.batch(o, a, b, { overflow: m, out: new BigInt64Array(a.length) }))),
        ];
        for (const g of got) assert.deepEqual(g, expected, show([o, a, b, m]));
        // A failing batch leaves `out` untouched.
        const out = new BigInt64Array(a.length).fill(7n);
        const into = outcome(() => Array.from(calculators[m].batch(o, typedA, typedB, out)));
        assert.deepEqual(into, expected);
        if (!Array.isArray(expected))
          assert.ok(
            out.every((x) => x === 7n),
            'out untouched',
          );
      }),
      { numRuns: 600 },
    );
  });

  test('long batches: the first failure in any chunk, its index counted from the start', async () => {
    const n = (1 << 18) * 2 + 5; // three chunks
    for (const [o, a, b] of [
      ['add', MAX, 1n],
      ['multiply', MIN, 2n],
      ['divide', MIN, -1n],
      ['subtract', MIN, 1n],
    ] as const) {
      for (const at of [3, (1 << 18) + 1, n - 1]) {
        const x = new BigInt64Array(n).fill(1n);
        const y = new BigInt64Array(n).fill(2n);
        x[at] = a;
        y[at] = b;
        for (const m of MODES) {
          const expected = exact(o, a, b, m);
          const other = exact(o, 1n, 2n, m) as bigint;
          const check = (values: BigInt64Array | { code: string; index: number | undefined }) => {
            if (typeof expected === 'bigint') {
              assert.ok(values instanceof BigInt64Array, `${o} ${m}`);
              assert.equal(values[at], expected);
              assert.equal(values[at === 3 ? n - 1 : 3], other);
            } else {
              assert.deepEqual(values, { code: expected, index: at }, `${o} ${m} at ${at}`);
            }
          };
          check(outcome(() => calculators[m].batch(o, x, y)));
          const out = new BigInt64Array(n);
          check(outcome(() => calculators[m].batch(o, x, y, out)));
          if (typeof expected !== 'bigint')
            assert.ok(
              out.every((v) => v === 0n),
              'out untouched',
            );
          check(await outcomeAsync(() => calculators[m].batchAsync(o, x, y)));
        }
      }
    }
  });

  test('batchAsync takes the mode per call', async () => {
    const plain = new Calculator();
    for (const m of MODES) {
      const a = BigInt64Array.from([1n, MAX]);
      const b = BigInt64Array.from([1n, 1n]);
      const got = await outcomeAsync(async () => Array.from(await plain.batchAsync('add', a, b, { overflow: m })));
      assert.deepEqual(got, expectedBatch('add', [1n, MAX], [1n, 1n], m));
    }
    await assert.rejects(plain.batchAsync('add', [1n], [1n], { overflow: 'x' as OverflowMode }), RangeError);
    assert.throws(() => plain.batch('add', [1n], [1n], { overflow: 'x' as OverflowMode }), RangeError);
  });
});

describe('expressions in every mode match the model', () => {
  test('random expressions, by calculator mode and per call', () => {
    const plain = new Calculator();
    fc.assert(
      fc.property(expression, mode, (text, m) => {
        const model = referenceEvaluate(text, undefined, undefined, m);
        const expected = 'value' in model ? model.value : { code: model.code, index: model.index };
        assert.deepEqual(
          outcome(() => calculators[m].evaluate(text)),
          expected,
          show([text, m]),
        );
        assert.deepEqual(
          outcome(() => plain.evaluate(text, { overflow: m })),
          expected,
          show([text, m]),
        );
      }),
      { numRuns: 2000 },
    );
  });

  test('the operator that overflows, a unary minus included', () => {
    const t = calculators.throw;
    assert.deepEqual(
      outcome(() => t.evaluate('1 + 9223372036854775807 * 2')),
      { code: 'OVERFLOW', index: 24 },
    );
    assert.deepEqual(
      outcome(() => t.evaluate('- - -9223372036854775808')),
      { code: 'OVERFLOW', index: 2 },
    );
    assert.equal(t.evaluate('-9223372036854775808'), MIN);
    assert.equal(calculators.wrap.evaluate('9223372036854775807 + 1'), MIN);
    assert.equal(calculators.saturate.evaluate('9223372036854775807 + 1'), MAX);
  });
});

describe('process(): the overflow field of any request', () => {
  test('random requests with random overflow fields answer as the model', () => {
    const calc = new Calculator();
    fc.assert(
      fc.property(request, (req) => {
        const bytes = toBinary(CalculatorRequestSchema, req);
        const response = fromBinary(CalculatorResponseSchema, calc.process(bytes));
        const got = summarize(response);
        assert.deepEqual(got, expectedResponse(req, bytes.length), show(req));
      }),
      { numRuns: 2000 },
    );
  });

  test('MAX + 1 with each mode in the field, encoded by protobuf-es', () => {
    for (const m of MODES) {
      const req = toBinary(CalculatorRequestSchema, {
        $typeName: 'nanocalc.v1.CalculatorRequest',
        operation: { case: 'add', value: { $typeName: 'nanocalc.v1.BinaryOp', a: MAX, b: 1n } },
        overflow: MODE_WIRE[m],
      });
      const answer = summarize(fromBinary(CalculatorResponseSchema, new Calculator().process(req)));
      assert.deepEqual(answer, expectedResponse(fromBinary(CalculatorRequestSchema, req), req.length));
    }
  });
});
