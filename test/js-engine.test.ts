// The TypeScript engine (`runtime: 'js'`) against the Rust one (this runtime's default path),
// differentially: the same request bytes must get the same response bytes, and the typed API the
// same values and the same errors (class, code, index, message). Requests of every form and
// overflow mode, mutations of them, random bytes, limits at their edges, expressions.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { create, toBinary } from '@bufbuild/protobuf';
import { Calculator, CalculatorError, type CalculatorOptions, type Operation } from 'nanocalc';
import { CalculatorRequestSchema, ExpressionSchema } from '../gen/nanocalc/v1/calculator_pb.js';
import { expression, expressionSoup } from './models/expressions.js';
import { EDGES, MAX, MIN, OPS, i64, request, safeInt } from './models/reference.js';
import { show } from './support/helpers.js';

/** The overflow modes a request may carry as field 9 (absent: undefined), unknown values included. */
const OVERFLOW_VALUES = [undefined, 0, 1, 2, 3, 4, -1, 2 ** 31 - 1];

/** A pair of calculators with the same options: the Rust engine and the TypeScript one. */
function pair(options: CalculatorOptions = {}): { native: Calculator; js: Calculator } {
  const js = new Calculator({ ...options, runtime: 'js' });
  assert.equal(js.runtime, 'js');
  return { native: new Calculator(options), js };
}

const engines = pair();

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

/** Asserts that both engines answer `bytes` with the same bytes. */
function assertSameResponse(bytes: Uint8Array, calculators = engines): void {
  const expected = hex(calculators.native.process(bytes));
  const got = hex(calculators.js.process(bytes));
  assert.equal(got, expected, `request ${hex(bytes)}`);
}

/** `bytes` with the `overflow` field (9, varint) appended, as protobuf encodes an int32. */
function withOverflow(bytes: Uint8Array, overflow: number | undefined): Uint8Array {
  if (overflow === undefined) return bytes;
  const tail = [0x48];
  let value = BigInt.asUintN(64, BigInt(overflow));
  while (value >= 0x80n) {
    tail.push(Number(value & 0x7fn) | 0x80);
    value >>= 7n;
  }
  tail.push(Number(value));
  return Uint8Array.from([...bytes, ...tail]);
}

const overflowValue = fc.constantFrom(...OVERFLOW_VALUES);

/** Valid requests of every form (protobuf-es encodings of the reference's arbitrary), with an overflow mode. */
const requestBytes: fc.Arbitrary<Uint8Array> = fc
  .tuple(request, overflowValue)
  .map(([r, overflow]) => withOverflow(toBinary(CalculatorRequestSchema, r), overflow));

const expressionBytes = (text: string) =>
  toBinary(
    CalculatorRequestSchema,
    create(CalculatorRequestSchema, {
      operation: { case: 'expression', value: create(ExpressionSchema, { text }) },
    }),
  );

/** A mutation of valid bytes: a byte changed, inserted or removed, or the bytes cut short. */
const mutated: fc.Arbitrary<Uint8Array> = fc
  .tuple(
    requestBytes,
    fc.array(
      fc.tuple(
        fc.constantFrom('set', 'insert', 'remove', 'cut'),
        fc.nat(),
        fc.oneof(
          fc.integer({ min: 0, max: 255 }),
          fc.constantFrom(0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x7f, 0x80, 0xff, 0x08, 0x0b, 0x0c, 0x48),
        ),
      ),
      { minLength: 1, maxLength: 4 },
    ),
  )
  .map(([valid, edits]) => {
    const bytes = Array.from(valid);
    for (const [kind, at, value] of edits) {
      const i = bytes.length === 0 ? 0 : at % (bytes.length + (kind === 'insert' ? 1 : 0));
      if (kind === 'set' && bytes.length > 0) bytes[i] = value;
      else if (kind === 'insert') bytes.splice(i, 0, value);
      else if (kind === 'remove') bytes.splice(i, 1);
      else bytes.length = i;
    }
    return Uint8Array.from(bytes);
  });

describe('process(bytes): the TypeScript engine answers byte for byte as the Rust one', () => {
  test('valid requests of every form and overflow mode', () => {
    fc.assert(
      fc.property(requestBytes, (bytes) => assertSameResponse(bytes)),
      { numRuns: 1500 },
    );
  });

  test('mutations of valid requests', () => {
    fc.assert(
      fc.property(mutated, (bytes) => assertSameResponse(bytes)),
      { numRuns: 3000 },
    );
  });

  test('random bytes, and random bytes after a valid key', () => {
    const key = fc.constantFrom(0x0a, 0x12, 0x1a, 0x22, 0x2a, 0x32, 0x3a, 0x42, 0x48, 0x0b, 0x4b, 0x7a);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), key, fc.boolean(), (bytes, first, keyed) =>
        assertSameResponse(keyed ? Uint8Array.from([first, ...bytes]) : bytes),
      ),
      { numRuns: 3000 },
    );
  });

  test('expressions, well formed and not, in every overflow mode', () => {
    fc.assert(
      fc.property(fc.oneof(expression, expressionSoup), overflowValue, (text, overflow) =>
        assertSameResponse(withOverflow(expressionBytes(text), overflow)),
      ),
      { numRuns: 1500 },
    );
  });

  test('named edges: varints, groups and nesting, UTF-8, overflow steps', () => {
    const nested = (depth: number) => [...Array(depth).fill(0x7b), ...Array(depth).fill(0x7c)]; // group 15
    const cases: number[][] = [
      [],
      [0x0a, 0x00],
      [0x0a, 0x0b, 0x08, ...Array(9).fill(0xff), 0x01], // a = -1 as ten bytes
      [0x0a, 0x0b, 0x08, ...Array(9).fill(0xff), 0x02], // a tenth byte above 1
      [0x0a, 0x0c, 0x08, ...Array(10).fill(0x80), 0x00], // eleven bytes
      [0x08, 0x01], // field 1 with the wrong wire type
      [0x00],
      [0x06],
      [0x0c],
      [0x7b, 0x7c],
      [0x7b, 0x84, 0x01],
      [...nested(99)],
      [...nested(100)],
      [...nested(101)],
      [0x0a, 202, 1, ...nested(99)],
      [0x0a, 204, 1, ...nested(100)],
      [0x42, 0x03, 0x0a, 0x01, 0xff], // text not UTF-8
      [0x42, 0x04, 0x0a, 0x02, 0xc3, 0xa9],
      [0x42, 0x05, 0x0a, 0x03, 0xed, 0xa0, 0x80], // a surrogate
      [0x3a, 0x0a, 0x08, 0x01, 0x11, 1, 0, 0, 0, 0, 0, 0, 0], // a as one fixed64
      [0x3a, 0x04, 0x08, 0x01, 0x12, 0x01, 0x00], // packed length not a multiple of 8
      [0x32, 0x06, 0x08, 0x04, 0x12, 0x02, 0x08, 0x01], // divide 1 by 0
      [0x32, 0x02, 0x08, 0x00],
      // Columns in several chunks, unaligned (a byte of an unknown field before them), single fixed64 values.
      [
        0x3a, 0x2a, 0x08, 0x03, 0x20, 0x00, 0x12, 0x08, 7, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x08, 9, 0, 0, 0, 0, 0, 0, 0x80,
        0x1a, 0x10, 2, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0,
      ],
      [
        0x3a, 0x27, 0x08, 0x01, 0x11, 7, 0, 0, 0, 0, 0, 0, 0, 0x11, 9, 0, 0, 0, 0, 0, 0, 0, 0x19, 1, 0, 0, 0, 0, 0, 0,
        0, 0x1a, 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
      ],
      [0x3a, 0x0c, 0x08, 0x04, 0x12, 0x00, 0x1a, 0x00, 0x12, 0x00, 0x1a, 0x00, 0x08, 0x02],
      [0x48, 0x03],
      [0x48, 0x05, 0x0a, 0x00],
      [0x4a, 0x00, 0x0a, 0x00], // overflow with the wrong wire type
    ];
    for (const bytes of cases) assertSameResponse(Uint8Array.from(bytes));
    const texts = [
      '9223372036854775807 + 1',
      '-9223372036854775808 - 1',
      '-(-9223372036854775808)',
      '--(-9223372036854775808)',
      '- -9223372036854775808',
      '-9223372036854775808 / -1',
      '-9223372036854775808 % -1',
      '3037000500 * 3037000500',
      '(1 / 0) + 9223372036854775807 * 2',
      '9223372036854775807 * 2 + 1 / 0',
      '000000000000000000000000000009223372036854775807',
      '-000000000000000000000009223372036854775808',
      `${'('.repeat(256)}1${')'.repeat(256)}`,
      `${'('.repeat(257)}1${')'.repeat(257)}`,
      '1 +\u0001',
      ' 1 ',
    ];
    for (const text of texts) {
      for (const overflow of OVERFLOW_VALUES) assertSameResponse(withOverflow(expressionBytes(text), overflow));
    }
  });

  test('limits at their edges: maxRequestBytes and maxBatchLength', () => {
    fc.assert(
      fc.property(
        requestBytes,
        fc.integer({ min: 1, max: 64 }),
        fc.integer({ min: 1, max: 8 }),
        (bytes, maxRequestBytes, maxBatchLength) => {
          const limited = pair({ maxRequestBytes, maxBatchLength });
          try {
            assertSameResponse(bytes, limited);
            // The request at exactly the limit, and one byte over it.
            const exact = pair({ maxRequestBytes: Math.max(1, bytes.length), maxBatchLength });
            try {
              assertSameResponse(bytes, exact);
              assertSameResponse(Uint8Array.from([...bytes, 0x48, 0x00]), exact);
            } finally {
              exact.native.close();
              exact.js.close();
            }
          } finally {
            limited.native.close();
            limited.js.close();
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  test('a long expression and a long batch at the default limits', () => {
    const long = `1${' + 1'.repeat(16383)}`; // 65,533 bytes
    assertSameResponse(expressionBytes(long));
    assertSameResponse(expressionBytes(`${long}    `));
    const n = 5000;
    const a = new BigInt64Array(n).map((_, i) => BigInt(i) * 3_000_000_000_000n - 7n);
    const b = new BigInt64Array(n).map((_, i) => BigInt((i % 13) - 6));
    const columns = create(CalculatorRequestSchema, {
      operation: { case: 'columns', value: { operation: 3, a: [...a], b: [...b] } },
    });
    const rows = create(CalculatorRequestSchema, {
      operation: {
        case: 'batch',
        value: { operation: 3, operations: Array.from(a, (x, k) => ({ a: x, b: b[k]! })) },
      },
    });
    for (const overflow of OVERFLOW_VALUES.slice(0, 5)) {
      assertSameResponse(withOverflow(toBinary(CalculatorRequestSchema, columns), overflow));
      assertSameResponse(withOverflow(toBinary(CalculatorRequestSchema, rows), overflow));
    }
  });
});

type Outcome = { value: unknown } | { error: string; code?: string; index?: number | undefined; message: string };

function outcome(fn: () => unknown): Outcome {
  try {
    const value = fn();
    return { value: value instanceof BigInt64Array ? Array.from(value) : value };
  } catch (e) {
    return describeError(e);
  }
}

async function asyncOutcome(fn: () => Promise<unknown>): Promise<Outcome> {
  try {
    const value = await fn();
    return { value: value instanceof BigInt64Array ? Array.from(value) : value };
  } catch (e) {
    return describeError(e);
  }
}

function describeError(e: unknown): Outcome {
  if (e instanceof CalculatorError)
    return { error: 'CalculatorError', code: e.code, index: e.index, message: e.message };
  const error = e as Error;
  return { error: Object.getPrototypeOf(error).constructor.name, message: error.message };
}

/** Columns drawn to hit zero divisors and every overflow now and then. */
const columnPair = fc
  .integer({ min: 0, max: 40 })
  .chain((n) =>
    fc.tuple(
      fc.array(fc.oneof(i64, fc.constantFrom(MIN, MAX, -1n, 0n)), { minLength: n, maxLength: n }),
      fc.array(fc.oneof(i64, fc.constantFrom(MIN, MAX, -1n, 0n, 1n, 2n)), { minLength: n, maxLength: n }),
    ),
  );

/** The API's overflow modes, and a pair of calculators for each (`undefined`: the default). */
const MODES = [undefined, 'saturate', 'wrap', 'throw'] as const;
type Mode = (typeof MODES)[number];
const pairs = new Map<Mode, { native: Calculator; js: Calculator }>(
  MODES.map((mode) => [mode, mode === undefined ? engines : pair({ overflow: mode })]),
);
const mode = fc.constantFrom(...MODES);

describe('the typed API: the same values and errors on both engines', () => {
  const { native, js } = engines;

  test('every overflow mode, per calculator and per call: single operations, batches, evaluate', async () => {
    await fc.assert(
      fc.asyncProperty(
        mode,
        mode,
        fc.constantFrom(...OPS),
        columnPair,
        fc.oneof(expression, expressionSoup),
        async (calculatorMode, callMode, op, [a, b], text) => {
          const calculators = pairs.get(calculatorMode)!;
          const options = callMode === undefined ? {} : { overflow: callMode };
          const same = (what: string, call: (c: Calculator) => unknown) =>
            assert.deepEqual(
              outcome(() => call(calculators.js)),
              outcome(() => call(calculators.native)),
              what,
            );
          if (a.length > 0) same(`${op}(${a[0]}, ${b[0]})`, (c) => c[op](a[0]!, b[0]!));
          same(`batch ${op}`, (c) => c.batch(op, BigInt64Array.from(a), BigInt64Array.from(b), options));
          same(`batch ${op} of plain arrays`, (c) => c.batch(op, a, b, options));
          const outs = [new BigInt64Array(a.length).fill(5n), new BigInt64Array(a.length).fill(5n)];
          const [jsOut, nativeOut] = outs as [BigInt64Array, BigInt64Array];
          assert.deepEqual(
            outcome(() =>
              calculators.js.batch(op, BigInt64Array.from(a), BigInt64Array.from(b), { ...options, out: jsOut }),
            ),
            outcome(() =>
              calculators.native.batch(op, BigInt64Array.from(a), BigInt64Array.from(b), {
                ...options,
                out: nativeOut,
              }),
            ),
          );
          assert.deepEqual(Array.from(jsOut), Array.from(nativeOut), 'out as each left it');
          same(`evaluate ${text}`, (c) => c.evaluate(text, options));
          assert.deepEqual(
            await asyncOutcome(() => calculators.js.batchAsync(op, a, b, options)),
            await asyncOutcome(() => calculators.native.batchAsync(op, a, b, options)),
          );
        },
      ),
      { numRuns: 600 },
    );
  });

  test('single operations on numbers and bigints', () => {
    fc.assert(
      fc.property(fc.constantFrom(...OPS), fc.oneof(i64, fc.constantFrom(...EDGES)), i64, (op, a, b) => {
        assert.deepEqual(
          outcome(() => js[op](a, b)),
          outcome(() => native[op](a, b)),
          show([op, a, b]),
        );
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.constantFrom(...OPS), safeInt, safeInt, (op, a, b) => {
        assert.deepEqual(
          outcome(() => js[op](a, b)),
          outcome(() => native[op](a, b)),
          show([op, a, b]),
        );
      }),
      { numRuns: 2000 },
    );
  });

  test('batch into a new array and into out, over typed and plain columns', () => {
    fc.assert(
      fc.property(fc.constantFrom(...OPS), columnPair, fc.integer({ min: 0, max: 3 }), (op, [a, b], form) => {
        const args = (): [Operation, BigInt64Array | bigint[], BigInt64Array | bigint[], BigInt64Array?] => {
          const typed = form !== 1;
          const x = typed ? BigInt64Array.from(a) : [...a];
          const y = typed ? BigInt64Array.from(b) : [...b];
          return form >= 2 ? [op, x, y, new BigInt64Array(a.length).fill(77n)] : [op, x, y];
        };
        const jsArgs = args();
        const nativeArgs = args();
        assert.deepEqual(
          outcome(() => js.batch(...jsArgs)),
          outcome(() => native.batch(...nativeArgs)),
          show([op, a, b, form]),
        );
        // `out` as it was left: written on success, untouched on failure.
        assert.deepEqual(Array.from(jsArgs[3] ?? []), Array.from(nativeArgs[3] ?? []));
      }),
      { numRuns: 1500 },
    );
  });

  test('batch into an out that overlaps an input at a shift', () => {
    fc.assert(
      fc.property(fc.constantFrom(...OPS), columnPair, fc.integer({ min: -3, max: 3 }), (op, [a, b], shift) => {
        const n = a.length;
        const run = (calc: Calculator) => {
          const memory = new BigInt64Array(n + 8);
          memory.set(a, 4);
          const x = memory.subarray(4, 4 + n);
          const out = memory.subarray(4 + shift, 4 + shift + n);
          return [outcome(() => Array.from(calc.batch(op, x, BigInt64Array.from(b), out))), Array.from(memory)];
        };
        assert.deepEqual(run(js), run(native), show([op, a, b, shift]));
      }),
      { numRuns: 500 },
    );
  });

  test('batchAsync, and batch errors from argument checks', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...OPS), columnPair, async (op, [a, b]) => {
        assert.deepEqual(
          await asyncOutcome(() => js.batchAsync(op, a, b)),
          await asyncOutcome(() => native.batchAsync(op, a, b)),
          show([op, a, b]),
        );
      }),
      { numRuns: 200 },
    );
    const bad: unknown[][] = [
      ['add', [1n], [1n, 2n]],
      ['add', [1n, 2], [1n, 2n]],
      ['pow', [1n], [1n]],
      ['add', [2n ** 63n], [1n]],
      ['divide', [1, 2, 3], [1, 0, 3]],
      ['add', [1], [2], new BigInt64Array(2)],
    ];
    for (const args of bad) {
      const call = (calc: Calculator) => outcome(() => (calc.batch as (...x: unknown[]) => unknown)(...args));
      assert.deepEqual(call(js), call(native), show(args));
    }
  });

  test('evaluate', () => {
    fc.assert(
      fc.property(fc.oneof(expression, expressionSoup), (text) => {
        assert.deepEqual(
          outcome(() => js.evaluate(text)),
          outcome(() => native.evaluate(text)),
          text,
        );
      }),
      { numRuns: 1500 },
    );
  });

  test('long batches in chunks, with limits that make the chunks small', () => {
    const small = pair({ maxRequestBytes: 2000, maxBatchLength: 5000 });
    try {
      const n = 3000;
      const a = new BigInt64Array(n).map((_, i) => BigInt(i * 1_000_003) * 4_000_000_000n);
      const b = new BigInt64Array(n).map((_, i) => BigInt((i % 7) - 3) || 5n);
      for (const op of OPS) {
        for (const calc of [small.js, small.native]) {
          assert.deepEqual(
            outcome(() => calc.batch(op, a, b)),
            outcome(() => small.native.batch(op, a, b)),
          );
        }
      }
      b[2500] = 0n;
      assert.deepEqual(
        outcome(() => small.js.batch('divide', a, b)),
        outcome(() => small.native.batch('divide', a, b)),
      );
      assert.deepEqual(
        outcome(() => small.js.batch('add', new BigInt64Array(5001), new BigInt64Array(5001))),
        outcome(() => small.native.batch('add', new BigInt64Array(5001), new BigInt64Array(5001))),
      );
    } finally {
      small.native.close();
      small.js.close();
    }
  });
});
