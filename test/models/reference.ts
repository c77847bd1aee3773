// An independent model of nanocalc's arithmetic and of its answers to protobuf requests, written
// with plain BigInt (exact, unbounded) and clamped to the signed 64-bit range afterwards. It shares
// no code with src/ or the engine; tests compare the real thing against it.

import fc from 'fast-check';
import { type Mode, referenceEvaluate } from './expressions.js';
import { create } from '@bufbuild/protobuf';
import {
  BatchOperationSchema,
  BinaryOpSchema,
  CalculatorRequestSchema,
  ColumnBatchSchema,
  ErrorCode,
  ExpressionSchema,
  type CalculatorRequest,
  type CalculatorResponse,
} from '../../gen/nanocalc/v1/calculator_pb.js';

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export const MIN = -(2n ** 63n);
export const MAX = 2n ** 63n - 1n;
export const EDGES: readonly bigint[] = [MIN, MIN + 1n, -1n, 0n, 1n, MAX - 1n, MAX];

export type Op = 'add' | 'subtract' | 'multiply' | 'divide' | 'remainder';
export const OPS: readonly Op[] = ['add', 'subtract', 'multiply', 'divide', 'remainder'];
/** The schema's Operation enum value of each op. */
export const OP_WIRE: Readonly<Record<Op, number>> = { add: 1, subtract: 2, multiply: 3, divide: 4, remainder: 5 };

export function clamp(x: bigint): bigint {
  return x < MIN ? MIN : x > MAX ? MAX : x;
}

export type { Mode } from './expressions.js';
export const MODES: readonly Mode[] = ['saturate', 'wrap', 'throw'];
/** The schema's Overflow enum value of each mode (saturate is the default, 0). */
export const MODE_WIRE: Readonly<Record<Mode, number>> = { saturate: 0, wrap: 2, throw: 3 };

/** Why an operation has no value in the model. */
export type Failure = 'DIVISION_BY_ZERO' | 'OVERFLOW';

/**
 * The exact result of `a op b` (BigInt division truncates toward zero; `%` takes the dividend's
 * sign), brought into i64 as `mode` says: clamped, wrapped modulo 2^64, or an OVERFLOW failure.
 */
export function exact(op: Op, a: bigint, b: bigint, mode: Mode = 'saturate'): bigint | Failure {
  if ((op === 'divide' || op === 'remainder') && b === 0n) return 'DIVISION_BY_ZERO';
  const x =
    op === 'add' ? a + b : op === 'subtract' ? a - b : op === 'multiply' ? a * b : op === 'divide' ? a / b : a % b;
  if (x >= MIN && x <= MAX) return x;
  return mode === 'throw' ? 'OVERFLOW' : mode === 'wrap' ? BigInt.asIntN(64, x) : clamp(x);
}

/** `a op b` by the contract, saturating: the exact result clamped to i64; null for a division by zero. */
export function reference(op: Op, a: bigint, b: bigint): bigint | null {
  const r = exact(op, a, b);
  return typeof r === 'bigint' ? r : null;
}

export type BatchOutcome = { values: bigint[] } | { failsAt: number; code: Failure };

/** Element-wise `exact`; the first failing element fails the whole batch. */
export function referenceBatch(
  op: Op,
  a: readonly bigint[],
  b: readonly bigint[],
  mode: Mode = 'saturate',
): BatchOutcome {
  if (a.length !== b.length) throw new Error('referenceBatch: columns differ in length');
  const values: bigint[] = [];
  for (let i = 0; i < a.length; i++) {
    const r = exact(op, a[i]!, b[i]!, mode);
    if (typeof r !== 'bigint') return { failsAt: i, code: r };
    values.push(r);
  }
  return { values };
}

// ---- arbitraries ----------------------------------------------------------------------------

/** Any i64, with the edge values and small numbers (where division is interesting) well represented. */
export const i64: fc.Arbitrary<bigint> = fc.oneof(
  { weight: 4, arbitrary: fc.bigInt({ min: MIN, max: MAX }) },
  { weight: 2, arbitrary: fc.constantFrom(...EDGES) },
  { weight: 2, arbitrary: fc.bigInt({ min: -100n, max: 100n }) },
  { weight: 1, arbitrary: fc.bigInt({ min: -(2n ** 32n), max: 2n ** 32n }) },
);

export const SAFE_MIN = Number.MIN_SAFE_INTEGER;
export const SAFE_MAX = Number.MAX_SAFE_INTEGER;
export const SAFE_EDGES: readonly number[] = [SAFE_MIN, SAFE_MIN + 1, -1, 0, 1, SAFE_MAX - 1, SAFE_MAX];

/** Any safe integer, edges and small values well represented. */
export const safeInt: fc.Arbitrary<number> = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: SAFE_MIN, max: SAFE_MAX }) },
  { weight: 2, arbitrary: fc.constantFrom(...SAFE_EDGES) },
  { weight: 2, arbitrary: fc.integer({ min: -100, max: 100 }) },
  { weight: 1, arbitrary: fc.integer({ min: -(2 ** 32), max: 2 ** 32 }) },
  { weight: 1, arbitrary: fc.integer({ min: -(2 ** 26), max: 2 ** 26 }) }, // products near the safe edge
);

export const op: fc.Arbitrary<Op> = fc.constantFrom(...OPS);

/** Values of the Operation enum as they may arrive on the wire: valid, unspecified and unknown. */
export const wireOperation: fc.Arbitrary<number> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(1, 2, 3, 4, 5) },
  { weight: 1, arbitrary: fc.constantFrom(0, 6, 9, -1, 2 ** 31 - 1, -(2 ** 31)) },
  { weight: 1, arbitrary: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }) },
);

// ---- the model of process() -----------------------------------------------------------------

/** What a CalculatorResponse should say, in the terms tests compare. */
export type ExpectedResponse =
  | { case: 'value'; value: bigint }
  | { case: 'batch'; values: bigint[] }
  | { case: 'error'; code: ErrorCode; index: bigint };

export interface ModelLimits {
  maxRequestBytes: number;
  maxBatchLength: number;
}
export const DEFAULT_LIMITS: ModelLimits = { maxRequestBytes: 64 * 1024 * 1024, maxBatchLength: 8_000_000 };

function errorOf(code: ErrorCode, index = 0n): ExpectedResponse {
  return { case: 'error', code, index };
}

function wireOp(value: number): Op | undefined {
  return OPS.find((o) => OP_WIRE[o] === value);
}

function batchResponse(op: Op, a: readonly bigint[], b: readonly bigint[], mode: Mode): ExpectedResponse {
  const outcome = referenceBatch(op, a, b, mode);
  return 'failsAt' in outcome
    ? errorOf(ErrorCode[outcome.code], BigInt(outcome.failsAt))
    : { case: 'batch', values: outcome.values };
}

/**
 * The answer the contract gives to a (decoded) request of `byteLength` bytes: the request-size
 * limit first, then no operation / unknown batch operation / unequal columns (INVALID_REQUEST),
 * then the batch-length limit, then the arithmetic.
 */
export function expectedResponse(
  request: CalculatorRequest,
  byteLength: number,
  limits: ModelLimits = DEFAULT_LIMITS,
): ExpectedResponse {
  if (byteLength > limits.maxRequestBytes) return errorOf(ErrorCode.LIMIT_EXCEEDED);
  const { operation } = request;
  const mode = (['saturate', 'saturate', 'wrap', 'throw'] as const)[request.overflow];
  if (mode === undefined) return errorOf(ErrorCode.INVALID_REQUEST); // an unknown overflow mode
  switch (operation.case) {
    case undefined:
      return errorOf(ErrorCode.INVALID_REQUEST);
    case 'add':
    case 'subtract':
    case 'multiply':
    case 'divide':
    case 'remainder': {
      const r = exact(operation.case, operation.value.a, operation.value.b, mode);
      return typeof r === 'bigint' ? { case: 'value', value: r } : errorOf(ErrorCode[r]);
    }
    case 'batch': {
      const op = wireOp(operation.value.operation);
      if (op === undefined) return errorOf(ErrorCode.INVALID_REQUEST);
      const rows = operation.value.operations;
      if (rows.length > limits.maxBatchLength) return errorOf(ErrorCode.LIMIT_EXCEEDED);
      return batchResponse(
        op,
        rows.map((r) => r.a),
        rows.map((r) => r.b),
        mode,
      );
    }
    case 'columns': {
      const { a, b } = operation.value;
      if (a.length !== b.length) return errorOf(ErrorCode.INVALID_REQUEST);
      const op = wireOp(operation.value.operation);
      if (op === undefined) return errorOf(ErrorCode.INVALID_REQUEST);
      if (a.length > limits.maxBatchLength) return errorOf(ErrorCode.LIMIT_EXCEEDED);
      return batchResponse(op, a, b, mode);
    }
    case 'expression': {
      const outcome = referenceEvaluate(operation.value.text, undefined, undefined, mode);
      return 'value' in outcome
        ? { case: 'value', value: outcome.value }
        : errorOf(ErrorCode[outcome.code], BigInt(outcome.index));
    }
  }
}

/** A decoded response in the terms of {@link ExpectedResponse} (the message text is dropped). */
export function summarize(response: CalculatorResponse): ExpectedResponse | { case: undefined } {
  const { result } = response;
  switch (result.case) {
    case 'value':
      return { case: 'value', value: result.value };
    case 'batch':
      return { case: 'batch', values: [...result.value.values] };
    case 'error':
      return { case: 'error', code: result.value.code, index: result.value.index };
    case undefined:
      return { case: undefined };
  }
}

// ---- request arbitraries --------------------------------------------------------------------

const binaryOp = fc.record({ a: i64, b: i64 }).map((v) => create(BinaryOpSchema, v));
/** Operands with zeros common, so divisions by zero happen. */
const operand = fc.oneof({ weight: 5, arbitrary: i64 }, { weight: 1, arbitrary: fc.constant(0n) });
const row = fc.record({ a: operand, b: operand }).map((v) => create(BinaryOpSchema, v));

const column = (maxLength: number) => fc.array(operand, { maxLength });
const exactly = (n: number) => fc.array(operand, { minLength: n, maxLength: n });

const columnBatch = fc
  .oneof(
    // Equal lengths (the usual case).
    fc.integer({ min: 0, max: 40 }).chain((n) => fc.record({ operation: wireOperation, a: exactly(n), b: exactly(n) })),
    // Lengths that may differ.
    fc.record({ operation: wireOperation, a: column(20), b: column(20) }),
  )
  .map((v) => create(ColumnBatchSchema, v));

const rowBatch = fc
  .record({ operation: wireOperation, operations: fc.array(row, { maxLength: 40 }) })
  .map((v) => create(BatchOperationSchema, v));

/** The `overflow` field: mostly a mode, now and then an unknown value. */
const overflowField = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 0, max: 3 }) },
  { weight: 1, arbitrary: fc.integer({ min: -2, max: 200 }) },
);

/** Any CalculatorRequest: every oneof case, and none; any overflow field. */
export const request: fc.Arbitrary<CalculatorRequest> = fc
  .tuple(
    fc.oneof(
      fc.constant(create(CalculatorRequestSchema, {})),
      ...(['add', 'subtract', 'multiply', 'divide', 'remainder'] as const).map((c) =>
        fc.oneof(binaryOp, row).map((value) => create(CalculatorRequestSchema, { operation: { case: c, value } })),
      ),
      rowBatch.map((value) => create(CalculatorRequestSchema, { operation: { case: 'batch', value } })),
      columnBatch.map((value) => create(CalculatorRequestSchema, { operation: { case: 'columns', value } })),
    ),
    overflowField,
  )
  .map(([request, overflow]) => {
    request.overflow = overflow;
    return request;
  });

// ---- a strict decoder of CalculatorRequest: the wire rules of prost -------------------------
//
// The engine documents that it accepts exactly what prost accepts. protobuf-es is more lenient on
// malformed wire data (it reads a known field whatever its wire type, lets a nested message read
// past its end, and keeps the low bits of over-long varints), and stricter on two exotic points
// (tags longer than 5 bytes, nesting at exactly depth 100). This decoder, written from the
// protobuf encoding spec and prost's documented checks, is the oracle for arbitrary bytes; the
// tests cross-check it against protobuf-es wherever both accept the bytes.

export class WireError extends Error {}

/** What the strict decoder noticed beyond the decoded message. */
export interface WireNotes {
  /** A tag was encoded in more than 5 bytes (valid for prost, rejected by protobuf-es). */
  longTag: boolean;
  /** The lowest recursion budget anything was read with (prost starts at 100). */
  minBudget: number;
}

const VARINT = 0;
const I64 = 1;
const LEN = 2;
const SGROUP = 3;
const EGROUP = 4;
const I32 = 5;
const RECURSION_LIMIT = 100;

class Wire {
  pos = 0;
  constructor(
    readonly buf: Uint8Array,
    readonly notes: WireNotes,
  ) {}

  get done(): boolean {
    return this.pos >= this.buf.length;
  }

  varint(): bigint {
    let value = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.buf.length) throw new WireError('truncated varint');
      const byte = this.buf[this.pos++]!;
      if (i === 9 && byte > 1) throw new WireError('varint overflows 64 bits');
      value |= BigInt(byte & 0x7f) << BigInt(7 * i);
      if (byte < 0x80) return value;
    }
    throw new WireError('varint longer than 10 bytes');
  }

  key(): [field: number, wireType: number] {
    const start = this.pos;
    const key = this.varint();
    if (this.pos - start > 5) this.notes.longTag = true;
    if (key > 0xffffffffn) throw new WireError('key overflows 32 bits');
    const wireType = Number(key & 7n);
    if (wireType > I32) throw new WireError(`invalid wire type ${wireType}`);
    const field = Number(key >> 3n);
    if (field === 0) throw new WireError('field number 0');
    return [field, wireType];
  }

  take(length: bigint): Uint8Array {
    if (length > BigInt(this.buf.length - this.pos)) throw new WireError('length past the end');
    const n = Number(length);
    const bytes = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return bytes;
  }

  delimited(): Uint8Array {
    return this.take(this.varint());
  }

  /** Skips an unknown field with `budget` levels of recursion left (prost's skip_field). */
  skip(wireType: number, field: number, budget: number): void {
    if (budget <= 0) throw new WireError('recursion limit reached');
    this.notes.minBudget = Math.min(this.notes.minBudget, budget);
    switch (wireType) {
      case VARINT:
        this.varint();
        return;
      case I64:
        this.take(8n);
        return;
      case LEN:
        this.delimited();
        return;
      case I32:
        this.take(4n);
        return;
      case SGROUP:
        for (;;) {
          const [inner, innerType] = this.key();
          if (innerType === EGROUP) {
            if (inner !== field) throw new WireError('end group tag does not match');
            return;
          }
          this.skip(innerType, inner, budget - 1);
        }
      default:
        throw new WireError('unexpected end group tag');
    }
  }

  /** The body of a nested message field, entered as prost does (spending one level of budget). */
  message(wireType: number, budget: number): { body: Wire; budget: number } {
    if (wireType !== LEN) throw new WireError('message field with a wrong wire type');
    if (budget <= 0) throw new WireError('recursion limit reached');
    this.notes.minBudget = Math.min(this.notes.minBudget, budget);
    return { body: new Wire(this.delimited(), this.notes), budget: budget - 1 };
  }

  int64(wireType: number): bigint {
    if (wireType !== VARINT) throw new WireError('varint field with a wrong wire type');
    return BigInt.asIntN(64, this.varint());
  }

  sfixed64s(wireType: number, into: bigint[]): void {
    const bytes = wireType === LEN ? this.delimited() : wireType === I64 ? this.take(8n) : undefined;
    if (bytes === undefined) throw new WireError('sfixed64 field with a wrong wire type');
    if (bytes.length % 8 !== 0) throw new WireError('packed sfixed64 length not a multiple of 8');
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let at = 0; at < bytes.length; at += 8) into.push(view.getBigInt64(at, true));
  }
}

function mergeBinaryOp(wire: Wire, budget: number, into: { a: bigint; b: bigint }): void {
  while (!wire.done) {
    const [field, wireType] = wire.key();
    if (field === 1) into.a = wire.int64(wireType);
    else if (field === 2) into.b = wire.int64(wireType);
    else wire.skip(wireType, field, budget);
  }
}

const BINARY_CASES = ['add', 'subtract', 'multiply', 'divide', 'remainder'] as const;

/**
 * Decodes `bytes` as a CalculatorRequest by prost's rules (merge semantics included: a oneof member
 * repeated merges, another member in between starts over), or says why prost would reject them.
 */
export function decodeStrict(bytes: Uint8Array): { request: CalculatorRequest; notes: WireNotes } | { error: string } {
  const notes: WireNotes = { longTag: false, minBudget: RECURSION_LIMIT };
  const wire = new Wire(bytes, notes);
  const budget = RECURSION_LIMIT;
  let request = create(CalculatorRequestSchema, {});
  let overflow = 0;
  try {
    while (!wire.done) {
      const [field, wireType] = wire.key();
      if (field === 9) {
        // `Overflow overflow = 9`, an open enum: the varint's low 32 bits, the last one wins.
        overflow = Number(BigInt.asIntN(32, wire.int64(wireType)));
        continue;
      }
      if (field < 1 || field > 8) {
        wire.skip(wireType, field, budget);
        continue;
      }
      const { body, budget: inner } = wire.message(wireType, budget);
      const op = request.operation;
      if (field <= 5) {
        const c = BINARY_CASES[field - 1]!;
        const value = op.case === c ? op.value : create(BinaryOpSchema, {});
        mergeBinaryOp(body, inner, value);
        request = create(CalculatorRequestSchema, { operation: { case: c, value } });
      } else if (field === 6) {
        const value = op.case === 'batch' ? op.value : create(BatchOperationSchema, {});
        while (!body.done) {
          const [f, t] = body.key();
          if (f === 1) value.operation = Number(BigInt.asIntN(32, body.int64(t)));
          else if (f === 2) {
            const row = body.message(t, inner);
            const operands = create(BinaryOpSchema, {});
            mergeBinaryOp(row.body, row.budget, operands);
            value.operations.push(operands);
          } else body.skip(t, f, inner);
        }
        request = create(CalculatorRequestSchema, { operation: { case: 'batch', value } });
      } else if (field === 8) {
        const value = op.case === 'expression' ? op.value : create(ExpressionSchema, {});
        while (!body.done) {
          const [f, t] = body.key();
          if (f === 1) {
            if (t !== LEN) throw new WireError('string field with a wrong wire type');
            const bytes = body.delimited();
            try {
              value.text = strictUtf8.decode(bytes);
            } catch {
              throw new WireError('invalid string value: data is not UTF-8 encoded');
            }
          } else body.skip(t, f, inner);
        }
        request = create(CalculatorRequestSchema, { operation: { case: 'expression', value } });
      } else {
        const value = op.case === 'columns' ? op.value : create(ColumnBatchSchema, {});
        while (!body.done) {
          const [f, t] = body.key();
          if (f === 1) value.operation = Number(BigInt.asIntN(32, body.int64(t)));
          else if (f === 2) body.sfixed64s(t, value.a);
          else if (f === 3) body.sfixed64s(t, value.b);
          else body.skip(t, f, inner);
        }
        request = create(CalculatorRequestSchema, { operation: { case: 'columns', value } });
      }
    }
  } catch (e) {
    if (e instanceof WireError) return { error: e.message };
    throw e;
  }
  request.overflow = overflow;
  return { request, notes };
}
