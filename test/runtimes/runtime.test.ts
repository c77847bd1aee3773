// The runtime option, and the same answers on every path: run under Node, Bun and Deno (npm test
// runs it with each), where `'auto'` is the runtime's own FFI (bun:ffi, Deno.dlopen) and
// `'node-api'` the addon, so on Bun and Deno this compares the two paths call by call.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Calculator, CalculatorError } from 'nanocalc';
import { EDGES, OPS, i64 } from '../models/reference.js';
import { assertThrowsExactly } from '../support/helpers.js';

const g = globalThis as { Bun?: unknown; Deno?: unknown };
const expected = typeof g.Bun !== 'undefined' ? 'bun-ffi' : typeof g.Deno !== 'undefined' ? 'deno-ffi' : 'node-api';

type Outcome = { value: unknown } | { error: string; code?: string; index?: number | undefined; message: string };

function outcome(fn: () => unknown): Outcome {
  try {
    const value = fn();
    return {
      value:
        value instanceof BigInt64Array ? Array.from(value) : value instanceof Uint8Array ? Array.from(value) : value,
    };
  } catch (e) {
    if (e instanceof CalculatorError)
      return { error: 'CalculatorError', code: e.code, index: e.index, message: e.message };
    const error = e as Error;
    return { error: Object.getPrototypeOf(error).constructor.name, message: error.message };
  }
}

describe('runtime option', () => {
  test(`'auto' (the default) takes this runtime's fastest path: ${expected}`, () => {
    for (const options of [undefined, {}, { runtime: 'auto' as const }]) {
      const c = new Calculator(options);
      assert.equal(c.runtime, expected);
      assert.equal(c.add(2, 3), 5);
      c.close();
    }
  });

  test("'node-api' forces the Node-API addon", () => {
    const c = new Calculator({ runtime: 'node-api', maxBatchLength: 10 });
    assert.equal(c.runtime, 'node-api');
    assert.equal(c.multiply(6n, 7n), 42n);
    assert.deepEqual(Array.from(c.batch('add', [1n, 2n], [3n, 4n])), [4n, 6n]);
    c.close();
  });

  test('an unknown runtime is a RangeError', () => {
    for (const bad of ['bun', 'deno', 'node', 'ffi', '', null, 1, {}]) {
      assertThrowsExactly(() => new Calculator({ runtime: bad as 'auto' }), RangeError, `runtime: ${String(bad)}`);
    }
  });
});

describe(`${expected} and node-api give the same answers and errors`, () => {
  const auto = new Calculator({ maxBatchLength: 64, maxRequestBytes: 4096 });
  const addon = new Calculator({ runtime: 'node-api', maxBatchLength: 64, maxRequestBytes: 4096 });

  test('single operations, numbers and bigints, edges included', () => {
    const operand = fc.oneof(i64, fc.constantFrom(...EDGES));
    fc.assert(
      fc.property(fc.constantFrom(...OPS), operand, operand, (op, a, b) => {
        assert.deepEqual(
          outcome(() => auto[op](a, b)),
          outcome(() => addon[op](a, b)),
        );
        const [x, y] = [Number(a % 10_000_000n), Number(b % 1000n)];
        assert.deepEqual(
          outcome(() => auto[op](x, y)),
          outcome(() => addon[op](x, y)),
        );
      }),
      { numRuns: 2000 },
    );
  });

  test('batches, with division by zero, limits and growth', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...OPS),
        fc.array(fc.tuple(i64, fc.oneof(i64, fc.constant(0n))), { maxLength: 80 }),
        (op, pairs) => {
          const a = pairs.map(([x]) => x);
          const b = pairs.map(([, y]) => y);
          assert.deepEqual(
            outcome(() => auto.batch(op, a, b)),
            outcome(() => addon.batch(op, a, b)),
          );
        },
      ),
      { numRuns: 500 },
    );
    const big = new Calculator();
    const n = 300_000;
    const sums = big.batch('add', new BigInt64Array(n).fill(5n), new BigInt64Array(n).fill(-7n));
    assert.equal(sums.length, n);
    assert.ok(sums.every((v) => v === -2n));
    big.close();
  });

  test('process(): the same response bytes for any bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        assert.deepEqual(
          outcome(() => auto.process(bytes)),
          outcome(() => addon.process(bytes)),
        );
      }),
      { numRuns: 2000 },
    );
  });

  test('closed calculators throw CLOSED on both paths', () => {
    const [c, d] = [new Calculator(), new Calculator({ runtime: 'node-api' })];
    c.close();
    d.close();
    assert.deepEqual(
      outcome(() => c.add(1, 2)),
      outcome(() => d.add(1, 2)),
    );
    assert.equal((outcome(() => c.add(1, 2)) as { code?: string }).code, 'CLOSED');
  });
});
