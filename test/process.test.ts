// process(): encoded CalculatorRequest in, encoded CalculatorResponse out, driven by protobuf-es
// encodings and by arbitrary bytes, held to the reference model.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { create, equals, fromBinary, toBinary } from '@bufbuild/protobuf';
import { Calculator } from 'nanocalc';
import {
  BatchOperationSchema,
  BinaryOpSchema,
  CalculatorRequestSchema,
  CalculatorResponseSchema,
  ColumnBatchSchema,
  ErrorCode,
  Operation,
  type CalculatorRequest,
} from '../gen/nanocalc/v1/calculator_pb.js';
import {
  DEFAULT_LIMITS,
  MAX,
  MIN,
  decodeStrict,
  expectedResponse,
  i64,
  request,
  summarize,
  type ExpectedResponse,
  type ModelLimits,
} from './models/reference.js';
import { assertThrowsExactly, show } from './support/helpers.js';

const calc = new Calculator();

function answer(c: Calculator, bytes: Uint8Array) {
  const response = c.process(bytes);
  assert.ok(response instanceof Uint8Array, 'process returns a Uint8Array');
  return { bytes: response, summary: summarize(fromBinary(CalculatorResponseSchema, response)) };
}

function assertAnswer(c: Calculator, req: CalculatorRequest, limits: ModelLimits = DEFAULT_LIMITS): void {
  const bytes = toBinary(CalculatorRequestSchema, req);
  const expected = expectedResponse(req, bytes.length, limits);
  const { summary } = answer(c, bytes);
  assert.deepEqual(summary, expected, `request ${show(req.operation)}`);
}

const INVALID: ExpectedResponse = { case: 'error', code: ErrorCode.INVALID_REQUEST, index: 0n };
const LIMIT: ExpectedResponse = { case: 'error', code: ErrorCode.LIMIT_EXCEEDED, index: 0n };

function req(operation: CalculatorRequest['operation']): CalculatorRequest {
  return create(CalculatorRequestSchema, { operation });
}

describe('requests encoded by protobuf-es match the reference model', () => {
  test('random requests of every kind', () => {
    fc.assert(
      fc.property(request, (r) => assertAnswer(calc, r)),
      { numRuns: 1000 },
    );
  });

  test('random requests against a calculator with maxBatchLength 5', () => {
    const small = new Calculator({ maxBatchLength: 5 });
    const limits = { ...DEFAULT_LIMITS, maxBatchLength: 5 };
    fc.assert(
      fc.property(request, (r) => assertAnswer(small, r, limits)),
      { numRuns: 500 },
    );
    small.close();
  });

  test('random requests against a calculator with maxRequestBytes 100', () => {
    const small = new Calculator({ maxRequestBytes: 100 });
    const limits = { ...DEFAULT_LIMITS, maxRequestBytes: 100 };
    fc.assert(
      fc.property(request, (r) => assertAnswer(small, r, limits)),
      { numRuns: 500 },
    );
    small.close();
  });

  test('two requests concatenated merge as protobuf says (a repeated member merges, another replaces)', () => {
    fc.assert(
      fc.property(request, request, (r1, r2) => {
        const bytes = new Uint8Array([
          ...toBinary(CalculatorRequestSchema, r1),
          ...toBinary(CalculatorRequestSchema, r2),
        ]);
        const merged = fromBinary(CalculatorRequestSchema, bytes);
        assert.deepEqual(answer(calc, bytes).summary, expectedResponse(merged, bytes.length), show(merged.operation));
      }),
      { numRuns: 500 },
    );
  });

  test('an empty request (no operation) is INVALID_REQUEST', () => {
    assert.deepEqual(answer(calc, new Uint8Array(0)).summary, INVALID);
    assert.deepEqual(
      answer(calc, toBinary(CalculatorRequestSchema, create(CalculatorRequestSchema, {}))).summary,
      INVALID,
    );
    // Only unknown fields: still no operation.
    assert.deepEqual(answer(calc, new Uint8Array([0x50, 0x01, 0x5a, 0x00])).summary, INVALID);
  });

  test('batch operations unspecified or unknown are INVALID_REQUEST, in both forms', () => {
    for (const operation of [Operation.UNSPECIFIED, 6, 9, -1, 2 ** 31 - 1]) {
      const rows = create(BatchOperationSchema, { operation, operations: [create(BinaryOpSchema, { a: 1n, b: 2n })] });
      assert.deepEqual(
        answer(calc, toBinary(CalculatorRequestSchema, req({ case: 'batch', value: rows }))).summary,
        INVALID,
      );
      const columns = create(ColumnBatchSchema, { operation, a: [1n], b: [2n] });
      assert.deepEqual(
        answer(calc, toBinary(CalculatorRequestSchema, req({ case: 'columns', value: columns }))).summary,
        INVALID,
      );
      const empty = create(ColumnBatchSchema, { operation });
      assert.deepEqual(
        answer(calc, toBinary(CalculatorRequestSchema, req({ case: 'columns', value: empty }))).summary,
        INVALID,
      );
    }
  });

  test('column batches whose lengths differ are INVALID_REQUEST', () => {
    for (const [a, b] of [
      [[1n], []],
      [[], [1n]],
      [[1n, 2n], [1n]],
      [[1n], [0n, 0n]],
    ] as const) {
      for (const operation of [Operation.ADD, Operation.DIVIDE]) {
        const value = create(ColumnBatchSchema, { operation, a: [...a], b: [...b] });
        assert.deepEqual(
          answer(calc, toBinary(CalculatorRequestSchema, req({ case: 'columns', value }))).summary,
          INVALID,
        );
      }
    }
  });

  test('a division by zero in a row or column batch reports the first failing index', () => {
    const rows = create(BatchOperationSchema, {
      operation: Operation.REMAINDER,
      operations: [1n, 2n, 0n, 0n].map((b) => create(BinaryOpSchema, { a: 5n, b })),
    });
    assert.deepEqual(answer(calc, toBinary(CalculatorRequestSchema, req({ case: 'batch', value: rows }))).summary, {
      case: 'error',
      code: ErrorCode.DIVISION_BY_ZERO,
      index: 2n,
    });
    const columns = create(ColumnBatchSchema, { operation: Operation.DIVIDE, a: [1n, 2n, 3n], b: [0n, 1n, 0n] });
    assert.deepEqual(
      answer(calc, toBinary(CalculatorRequestSchema, req({ case: 'columns', value: columns }))).summary,
      {
        case: 'error',
        code: ErrorCode.DIVISION_BY_ZERO,
        index: 0n,
      },
    );
  });

  test('large requests and responses (the buffers grow)', () => {
    const n = 20_000;
    const operations = Array.from({ length: n }, (_, i) =>
      create(BinaryOpSchema, { a: BigInt(i) * 3n, b: MAX - BigInt(i) }),
    );
    const rows = req({ case: 'batch', value: create(BatchOperationSchema, { operation: Operation.ADD, operations }) });
    assertAnswer(calc, rows);
    const a = Array.from({ length: 5 * n }, (_, i) => BigInt(i) - MAX);
    const b = Array.from({ length: 5 * n }, (_, i) => BigInt(-i - 2));
    assertAnswer(
      calc,
      req({ case: 'columns', value: create(ColumnBatchSchema, { operation: Operation.SUBTRACT, a, b }) }),
    );
    assertAnswer(
      calc,
      req({ case: 'columns', value: create(ColumnBatchSchema, { operation: Operation.MULTIPLY, a, b }) }),
    );
    assertAnswer(calc, req({ case: 'add', value: create(BinaryOpSchema, { a: MIN, b: -1n }) }));
  });

  test('responses are canonical protobuf (re-encoding the decoded response gives the same bytes)', () => {
    fc.assert(
      fc.property(request, (r) => {
        const response = calc.process(toBinary(CalculatorRequestSchema, r));
        const again = toBinary(CalculatorResponseSchema, fromBinary(CalculatorResponseSchema, response));
        assert.deepEqual(Buffer.from(again).toString('hex'), Buffer.from(response).toString('hex'));
      }),
      { numRuns: 300 },
    );
  });
});

// ---- arbitrary bytes --------------------------------------------------------------------------

function varint(value: bigint): number[] {
  let v = BigInt.asUintN(64, value);
  const out: number[] = [];
  while (v > 127n) {
    out.push(Number(v & 127n) | 128);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}

const key = (field: number, wireType: number) => varint(BigInt(field * 8 + wireType));

/** Byte soup shaped like protobuf: fields 1..9 of every wire type, nested, mostly but not always well formed. */
const wireSoup: fc.Arbitrary<number[]> = fc.letrec<{ record: number[]; message: number[] }>((tie) => ({
  record: fc.oneof(
    { maxDepth: 4, depthSize: 'small' },
    // A varint, sometimes in a padded (non-minimal) or over-long encoding.
    fc.tuple(fc.integer({ min: 1, max: 9 }), i64, fc.integer({ min: 0, max: 3 })).map(([field, value, pad]) => {
      const bytes = varint(value);
      for (let i = 0; i < pad && bytes.length < 11; i++) {
        bytes[bytes.length - 1]! |= 0x80;
        bytes.push(0);
      }
      return [...key(field, 0), ...bytes];
    }),
    fc
      .tuple(fc.integer({ min: 1, max: 9 }), fc.uint8Array({ minLength: 8, maxLength: 8 }))
      .map(([f, b]) => [...key(f, 1), ...b]),
    fc
      .tuple(fc.integer({ min: 1, max: 9 }), fc.uint8Array({ minLength: 4, maxLength: 4 }))
      .map(([f, b]) => [...key(f, 5), ...b]),
    // Length-delimited: a nested message, packed values, or random bytes.
    fc
      .tuple(
        fc.integer({ min: 1, max: 9 }),
        fc.oneof(
          tie('message'),
          fc
            .array(fc.bigInt64Array({ maxLength: 3 }), { maxLength: 1 })
            .map((arrays) => Array.from(new Uint8Array(arrays[0]?.buffer ?? new ArrayBuffer(0)))),
          fc.uint8Array({ maxLength: 12 }).map((b) => Array.from(b)),
        ),
      )
      .map(([field, body]) => [...key(field, 2), ...varint(BigInt(body.length)), ...body]),
    // A group, usually closed with the matching end tag.
    fc
      .tuple(fc.integer({ min: 1, max: 9 }), tie('message'), fc.integer({ min: 0, max: 9 }))
      .map(([field, body, endField]) => [...key(field, 3), ...body, ...key(endField === 0 ? field : endField, 4)]),
    // A stray byte.
    fc.integer({ min: 0, max: 255 }).map((b) => [b]),
  ),
  message: fc.array(tie('record'), { maxLength: 4 }).map((records) => records.flat()),
})).message;

/** A valid encoding, damaged: truncated, a bit flipped, a byte set, inserted or deleted. */
const mutated: fc.Arbitrary<Uint8Array> = fc
  .tuple(request, fc.nat(), fc.nat(255), fc.constantFrom('truncate', 'flip', 'set', 'insert', 'delete'))
  .map(([r, i, v, kind]) => {
    const bytes = Array.from(toBinary(CalculatorRequestSchema, r));
    const at = bytes.length === 0 ? 0 : i % bytes.length;
    switch (kind) {
      case 'truncate':
        bytes.length = at;
        break;
      case 'flip':
        if (bytes.length > 0) bytes[at]! ^= 1 << (v % 8);
        break;
      case 'set':
        if (bytes.length > 0) bytes[at] = v;
        break;
      case 'insert':
        bytes.splice(at, 0, v);
        break;
      case 'delete':
        bytes.splice(at, 1);
        break;
    }
    return Uint8Array.from(bytes);
  });

interface Tally {
  bothDecode: number;
  onlyStrictRejects: number;
  onlyProtobufEsRejects: number;
  bothReject: number;
}

/**
 * Answers arbitrary bytes and checks the answer:
 * - it is always a response protobuf-es decodes, and the calculator keeps working;
 * - it is the model's answer for the request prost's rules decode (decodeStrict), or
 *   INVALID_REQUEST where they reject the bytes;
 * - where protobuf-es decodes the bytes too, it decodes the same request (so the answer is the
 *   model of what protobuf-es decoded);
 * - where protobuf-es rejects the bytes, the answer is INVALID_REQUEST, but for the two exotic
 *   encodings prost accepts and protobuf-es does not (see the tests of disagreements below).
 * protobuf-es decodes some malformed bytes prost rejects (a known field with the wrong wire type,
 * a nested message read past its end, over-long varints); those must be INVALID_REQUEST.
 */
function checkArbitraryBytes(c: Calculator, bytes: Uint8Array, tally: Tally): void {
  const context = `bytes ${Buffer.from(bytes).toString('hex')}`;
  const before = bytes.slice();
  const { summary } = answer(c, bytes);
  assert.deepEqual(bytes, before, 'the request bytes are not mutated');
  const strict = decodeStrict(bytes);
  const expected = 'error' in strict ? INVALID : expectedResponse(strict.request, bytes.length);
  assert.deepEqual(summary, expected, context);
  let decoded: CalculatorRequest | undefined;
  try {
    decoded = fromBinary(CalculatorRequestSchema, bytes);
  } catch {
    decoded = undefined;
  }
  if (decoded === undefined) {
    if ('error' in strict) tally.bothReject++;
    else {
      tally.onlyProtobufEsRejects++;
      assert.ok(
        strict.notes.longTag || strict.notes.minBudget <= 1,
        `protobuf-es rejects bytes that are neither a long tag nor nested 100 deep, yet were answered ${show(summary)}: ${context}`,
      );
    }
  } else if ('error' in strict) {
    tally.onlyStrictRejects++;
  } else {
    tally.bothDecode++;
    assert.ok(
      equals(CalculatorRequestSchema, decoded, strict.request),
      `protobuf-es decoded ${show(decoded.operation)}, the strict decoder ${show(strict.request.operation)}: ${context}`,
    );
  }
  assert.equal(c.add(2n, 3n), 5n, `the calculator works after ${context}`);
}

function newTally(): Tally {
  return { bothDecode: 0, onlyStrictRejects: 0, onlyProtobufEsRejects: 0, bothReject: 0 };
}

describe('arbitrary bytes never throw and are answered by the rules', () => {
  test('random bytes', () => {
    const tally = newTally();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), (bytes) => checkArbitraryBytes(calc, bytes, tally)),
      { numRuns: 1000 },
    );
    assert.ok(tally.bothReject > 0 && tally.bothDecode > 0, show(tally));
  });

  test('valid encodings, damaged', () => {
    const tally = newTally();
    fc.assert(
      fc.property(mutated, (bytes) => checkArbitraryBytes(calc, bytes, tally)),
      { numRuns: 1000 },
    );
    assert.ok(tally.bothReject > 50 && tally.bothDecode > 50, show(tally));
  });

  test('protobuf-shaped byte soup (unknown fields, groups, wrong wire types, padded varints)', () => {
    const tally = newTally();
    fc.assert(
      fc.property(wireSoup, (bytes) => checkArbitraryBytes(calc, Uint8Array.from(bytes), tally)),
      { numRuns: 1000 },
    );
    assert.ok(tally.bothReject > 50 && tally.bothDecode > 50, show(tally));
  });

  test('large buffers of random bytes', () => {
    const tally = newTally();
    let x = 0x9e3779b9;
    for (const size of [4096, 65_536, 1 << 20]) {
      for (let k = 0; k < 4; k++) {
        const bytes = new Uint8Array(size);
        for (let i = 0; i < size; i++) {
          x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
          bytes[i] = x >>> 24;
        }
        // Half of them start like a column batch whose body is the rest, so the decoder goes deep.
        if (k % 2 === 1) bytes.set([0x3a, ...varint(BigInt(size - 4)).slice(0, 3)]);
        checkArbitraryBytes(calc, bytes, tally);
      }
    }
  });

  test('a calculator with tight limits on random and damaged bytes', () => {
    const small = new Calculator({ maxRequestBytes: 40, maxBatchLength: 3 });
    const limits = { maxRequestBytes: 40, maxBatchLength: 3 };
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 80 }),
          mutated,
          wireSoup.map((b) => Uint8Array.from(b)),
        ),
        (bytes) => {
          const { summary } = answer(small, bytes);
          const strict = decodeStrict(bytes);
          const expected =
            bytes.length > limits.maxRequestBytes
              ? LIMIT
              : 'error' in strict
                ? INVALID
                : expectedResponse(strict.request, bytes.length, limits);
          assert.deepEqual(summary, expected, Buffer.from(bytes).toString('hex'));
        },
      ),
      { numRuns: 500 },
    );
    small.close();
  });

  test('malformed bytes of every kind are INVALID_REQUEST', () => {
    const cases: [string, number[]][] = [
      ['a truncated length', [0x0a, 0x05, 0x08, 0x01]],
      ['a truncated varint', [0x0a, 0x02, 0x08, 0x80]],
      ['a lone key', [0x0a]],
      ['field number 0', [0x02, 0x00]],
      ['wire type 6', [0x0e]],
      ['wire type 7', [0x0f]],
      ['an unmatched end group', [0x0a, 0x00, 0x54]],
      ['a group closed by another field', [0x53, 0x5c]],
      ['an unclosed group', [0x53, 0x08, 0x01]],
      ['a packed sfixed64 length not a multiple of 8', [0x3a, 0x08, 0x08, 0x01, 0x12, 0x04, 0x01, 0x00, 0x00, 0x00]],
      ['a key beyond 32 bits', [0x80, 0x80, 0x80, 0x80, 0x10, 0x00]],
    ];
    for (const [name, bytes] of cases) {
      assert.deepEqual(answer(calc, Uint8Array.from(bytes)).summary, INVALID, name);
      assert.throws(
        () => fromBinary(CalculatorRequestSchema, Uint8Array.from(bytes)),
        `protobuf-es rejects ${name} too`,
      );
      assert.equal(calc.subtract(2n, 3n), -1n);
    }
  });
});

describe('disagreements between protobuf-es and the engine (which follows prost) on malformed or exotic bytes', () => {
  // protobuf-es decodes these; prost, and so the engine, reject them as INVALID_REQUEST.
  const lenient: [string, string, string][] = [
    ['a known field with the wrong wire type (I64 for a message)', '1100', 'subtract {}'],
    ['a known field with the wrong wire type (end-group for a message)', '0c020805', 'add { a: 5 }'],
    ['a BinaryOp operand with the wrong wire type (LEN for int64)', '0a020a00', 'add {}'],
    ['a nested message read past its end', '0a01089601', 'add { a: 150 }'],
    ['a length varint beyond 32 bits', '0a8280808010' + '0805', 'add { a: 5 }'],
    ['a 10-byte varint whose last byte is above 1', '0a0b08ffffffffffffffffff02', 'add { a: MAX }'],
    ['an 11-byte varint in an unknown field', '50ffffffffffffffffffff01' + '0a020805', 'add { a: 5 }'],
  ];
  for (const [name, hex, what] of lenient) {
    test(`${name}: protobuf-es reads ${what}, the engine says INVALID_REQUEST`, () => {
      const bytes = Uint8Array.from(Buffer.from(hex, 'hex'));
      assert.doesNotThrow(() => fromBinary(CalculatorRequestSchema, bytes));
      assert.ok('error' in decodeStrict(bytes), 'prost rejects these bytes');
      assert.deepEqual(answer(calc, bytes).summary, INVALID);
    });
  }

  // prost, and so the engine, accept these; protobuf-es rejects them.
  test('a tag in 6 bytes (non-minimal): protobuf-es rejects it, the engine answers it', () => {
    const bytes = Uint8Array.from(Buffer.from('8a8080808000' + '020805', 'hex')); // add { a: 5 } with a padded key
    assert.throws(() => fromBinary(CalculatorRequestSchema, bytes));
    const strict = decodeStrict(bytes);
    assert.ok(!('error' in strict) && strict.notes.longTag);
    assert.deepEqual(answer(calc, bytes).summary, { case: 'value', value: 5n });
  });

  test('groups nested 100 deep in an unknown field: protobuf-es rejects them, the engine answers', () => {
    const groups = (depth: number) => [...Array<number>(depth).fill(0x53), ...Array<number>(depth).fill(0x54)];
    const bytes = Uint8Array.from([...groups(100), 0x0a, 0x02, 0x08, 0x05]);
    assert.throws(() => fromBinary(CalculatorRequestSchema, bytes));
    assert.deepEqual(answer(calc, bytes).summary, { case: 'value', value: 5n });
    // One level less, both accept; one more, both reject.
    const shallower = Uint8Array.from([...groups(99), 0x0a, 0x02, 0x08, 0x05]);
    assert.equal(fromBinary(CalculatorRequestSchema, shallower).operation.case, 'add');
    assert.deepEqual(answer(calc, shallower).summary, { case: 'value', value: 5n });
    const deeper = Uint8Array.from([...groups(101), 0x0a, 0x02, 0x08, 0x05]);
    assert.throws(() => fromBinary(CalculatorRequestSchema, deeper));
    assert.deepEqual(answer(calc, deeper).summary, INVALID);
  });
});

describe('limits and argument checks of process', () => {
  test('a request longer than maxRequestBytes is LIMIT_EXCEEDED; one of exactly the limit is answered', () => {
    const bytes = toBinary(
      CalculatorRequestSchema,
      req({ case: 'multiply', value: create(BinaryOpSchema, { a: -3n, b: -4n }) }),
    );
    const exact = new Calculator({ maxRequestBytes: bytes.length });
    assert.deepEqual(answer(exact, bytes).summary, { case: 'value', value: 12n });
    const under = new Calculator({ maxRequestBytes: bytes.length - 1 });
    assert.deepEqual(answer(under, bytes).summary, LIMIT);
    // Garbage over the limit is a limit error too; the calculator keeps working.
    assert.deepEqual(answer(under, new Uint8Array(bytes.length + 100).fill(0xff)).summary, LIMIT);
    assert.deepEqual(answer(under, new Uint8Array(0)).summary, INVALID);
    assert.equal(under.multiply(3n, 4n), 12n); // a shorter request is served
    const one = new Calculator({ maxRequestBytes: 1 });
    assert.deepEqual(answer(one, new Uint8Array([0x0a, 0x00])).summary, LIMIT);
    for (const c of [exact, under, one]) c.close();
  });

  test('a row batch longer than maxBatchLength is LIMIT_EXCEEDED', () => {
    const c = new Calculator({ maxBatchLength: 10 });
    const rows = (n: number) =>
      toBinary(
        CalculatorRequestSchema,
        req({
          case: 'batch',
          value: create(BatchOperationSchema, {
            operation: Operation.MULTIPLY,
            operations: Array.from({ length: n }, () => create(BinaryOpSchema, { a: 2n, b: 3n })),
          }),
        }),
      );
    assert.deepEqual(answer(c, rows(11)).summary, LIMIT);
    assert.deepEqual(answer(c, rows(10)).summary, { case: 'batch', values: Array<bigint>(10).fill(6n) });
    c.close();
  });

  test('a non-Uint8Array argument is a TypeError; the calculator keeps working', () => {
    const bad: unknown[] = [
      [0x0a, 0x00],
      new ArrayBuffer(2),
      new DataView(new ArrayBuffer(2)),
      new Int8Array(2),
      new Uint8ClampedArray(2),
      new Uint16Array(2),
      '\x0a\x00',
      null,
      undefined,
      {},
      7,
    ];
    for (const value of bad) {
      assertThrowsExactly(() => calc.process(value as Uint8Array), TypeError, Object.prototype.toString.call(value));
      assert.deepEqual(answer(calc, new Uint8Array([0x0a, 0x02, 0x08, 0x05])).summary, { case: 'value', value: 5n });
    }
    assertThrowsExactly(() => (calc.process as () => unknown).call(calc), TypeError, 'no argument');
  });

  test('a Buffer, and a Uint8Array view into a larger buffer, are read within their bounds', () => {
    const request = [0x12, 0x04, 0x08, 0x09, 0x10, 0x02]; // subtract { a: 9, b: 2 }
    assert.deepEqual(answer(calc, Buffer.from(request)).summary, { case: 'value', value: 7n });
    const backing = new Uint8Array([0x0a, 0x02, 0x08, 0x63, ...request, 0x0a, 0x02, 0x08, 0x63]);
    const view = backing.subarray(4, 4 + request.length);
    assert.deepEqual(answer(calc, view).summary, { case: 'value', value: 7n });
    // An empty view of a non-empty buffer is an empty request.
    assert.deepEqual(answer(calc, backing.subarray(4, 4)).summary, INVALID);
  });
});

describe('ownership of process results', () => {
  test('returned bytes are not changed by later calls', () => {
    fc.assert(
      fc.property(fc.array(request, { minLength: 2, maxLength: 8 }), (requests) => {
        const kept: [Uint8Array, Uint8Array][] = [];
        for (const r of requests) {
          const response = calc.process(toBinary(CalculatorRequestSchema, r));
          kept.push([response, response.slice()]);
          calc.batch('add', [1n, 2n, 3n], [4n, 5n, 6n]);
          calc.multiply(MIN, 3n);
        }
        for (const [response, snapshot] of kept) assert.deepEqual(response, snapshot);
        assert.equal(new Set(kept.map(([r]) => r)).size, kept.length);
      }),
      { numRuns: 100 },
    );
  });

  test('returned bytes survive a large request and the same request again', () => {
    const small = toBinary(
      CalculatorRequestSchema,
      req({ case: 'add', value: create(BinaryOpSchema, { a: 1n, b: 2n }) }),
    );
    const first = calc.process(small);
    const firstCopy = first.slice();
    const a = Array.from({ length: 200_000 }, (_, i) => BigInt(i));
    calc.process(
      toBinary(
        CalculatorRequestSchema,
        req({ case: 'columns', value: create(ColumnBatchSchema, { operation: 1, a, b: a }) }),
      ),
    );
    const other = toBinary(
      CalculatorRequestSchema,
      req({ case: 'add', value: create(BinaryOpSchema, { a: 100n, b: 200n }) }),
    );
    calc.process(other);
    assert.deepEqual(first, firstCopy);
    first.fill(0);
    assert.deepEqual(
      answer(calc, small).summary,
      { case: 'value', value: 3n },
      'overwriting a result changes nothing later',
    );
  });

  test('errors inside responses are never thrown', () => {
    const divideByZero = toBinary(
      CalculatorRequestSchema,
      req({ case: 'divide', value: create(BinaryOpSchema, { a: 1n, b: 0n }) }),
    );
    assert.deepEqual(answer(calc, divideByZero).summary, {
      case: 'error',
      code: ErrorCode.DIVISION_BY_ZERO,
      index: 0n,
    });
    const response = fromBinary(CalculatorResponseSchema, calc.process(divideByZero));
    assert.equal(response.result.case, 'error');
    assert.equal(typeof (response.result.value as { message: unknown }).message, 'string');
  });
});
