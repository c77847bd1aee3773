// processBuffer, the generic-path benchmark baseline (a Buffer argument, prost decode into owned
// messages, prost encode into a new Buffer; in the bench addon, bench/baseline-addon.ts), gives the
// same answers as the engine behind Calculator.process, so the benchmark compares two ways of doing
// the same work.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { Calculator } from 'nanocalc';
import {
  BatchOperationSchema,
  BinaryOpSchema,
  CalculatorRequestSchema,
  CalculatorResponseSchema,
  ErrorCode,
  Operation,
} from '../gen/nanocalc/v1/calculator_pb.js';
import { baselineAddon } from '../bench/baseline-addon.js';
import { request, summarize } from './models/reference.js';
import { show } from './support/helpers.js';

const { processBuffer } = baselineAddon();

const calc = new Calculator();

function bothAnswers(bytes: Uint8Array): { generic: Uint8Array; engine: Uint8Array } {
  const generic = processBuffer(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  assert.ok(generic instanceof Uint8Array, 'processBuffer returns a Buffer');
  return { generic, engine: calc.process(bytes) };
}

function summaryOf(bytes: Uint8Array) {
  return summarize(fromBinary(CalculatorResponseSchema, bytes));
}

describe('processBuffer answers as the engine does', () => {
  test('random requests encoded by protobuf-es: the same response bytes', () => {
    fc.assert(
      fc.property(request, (r) => {
        const bytes = toBinary(CalculatorRequestSchema, r);
        const { generic, engine } = bothAnswers(bytes);
        // Both encode canonically and use the same error texts for well-formed requests.
        assert.deepEqual(Buffer.from(generic), Buffer.from(engine), `request ${show(r.operation)}`);
      }),
      { numRuns: 1000 },
    );
  });

  test('arbitrary bytes: the same result, code and index (malformed-input texts differ)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 96 }), (bytes) => {
        const { generic, engine } = bothAnswers(bytes);
        assert.deepEqual(summaryOf(generic), summaryOf(engine), `bytes ${Buffer.from(bytes).toString('hex')}`);
      }),
      { numRuns: 2000 },
    );
  });

  test('malformed input is an INVALID_REQUEST response, not a throw', () => {
    for (const bytes of [[0x0a], [0x0a, 0x05, 0x08], [0xff, 0xff, 0xff], [0x07], []]) {
      const response = fromBinary(CalculatorResponseSchema, processBuffer(Buffer.from(bytes)));
      assert.equal(response.result.case, 'error', show(bytes));
      assert.equal(response.result.value.code, ErrorCode.INVALID_REQUEST, show(bytes));
    }
  });

  test('a row batch of 1000, as the benchmark sends it', () => {
    const operations = Array.from({ length: 1000 }, (_, k) =>
      create(BinaryOpSchema, { a: BigInt(k) - 500n, b: BigInt(k * 3) }),
    );
    const bytes = toBinary(
      CalculatorRequestSchema,
      create(CalculatorRequestSchema, {
        operation: { case: 'batch', value: create(BatchOperationSchema, { operation: Operation.ADD, operations }) },
      }),
    );
    const { generic, engine } = bothAnswers(bytes);
    assert.deepEqual(Buffer.from(generic), Buffer.from(engine));
    const summary = summaryOf(generic);
    assert.equal(summary.case, 'batch');
    assert.deepEqual(summary.case === 'batch' && summary.values.slice(0, 3), [-500n, -496n, -492n]);
  });
});
