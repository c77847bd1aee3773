// Panic containment through the Node-API addon: a copy of the addon built with the `test-panic`
// feature (`npm run build:test-panic`, into target/test-panic, never the shipped native/), in
// which the request TEST_PANIC_REQUEST (field 15 = "panic", otherwise an INVALID_REQUEST) panics
// inside the engine. This file's Calculators run on that copy: it is put in the require cache
// under the shipped addon's path before the first Calculator is made (node --test runs each file
// in its own process). Every answer must be INTERNAL, the process must live, and the same engine
// and Calculator must keep answering correctly.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { fromBinary } from '@bufbuild/protobuf';
import { Calculator } from 'nanocalc';
import { CalculatorResponseSchema, ErrorCode } from '../gen/nanocalc/v1/calculator_pb.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const panicAddonPath = `${root}target/test-panic/debug/libnanocalc_node.so`;
const shippedAddonPath = `${root}native/nanocalc.node`;
const TEST_PANIC_REQUEST = new Uint8Array([0x7a, 0x05, ...new TextEncoder().encode('panic')]);
const ADD_2_3 = new Uint8Array([0x0a, 0x04, 0x08, 0x02, 0x10, 0x03]);

interface RawAddon {
  engineOpen(buffer: Uint8Array, maxRequestBytes: number, maxBatchLength: number, maxThreads: number): () => void;
}

if (!existsSync(panicAddonPath)) {
  throw new Error(`${panicAddonPath} is missing: run \`npm run build:test-panic\` first`);
}
const panicModule = new Module(shippedAddonPath);
panicModule.filename = shippedAddonPath;
process.dlopen(panicModule, panicAddonPath);
panicModule.loaded = true;
const require = createRequire(import.meta.url);
require.cache[require.resolve(shippedAddonPath)] = panicModule;
const addon = panicModule.exports as RawAddon;

function codeOf(response: Uint8Array): ErrorCode | undefined {
  const decoded = fromBinary(CalculatorResponseSchema, response);
  return decoded.result.case === 'error' ? decoded.result.value.code : undefined;
}

describe('panic containment (test-panic build of the addon)', () => {
  test('the raw engine answers the forced panic with INTERNAL, then answers correctly', () => {
    const buffer = new ArrayBuffer(4096);
    const u8 = new Uint8Array(buffer);
    const u32 = new Uint32Array(buffer);
    const call = addon.engineOpen(u8, 1 << 20, 1000, 2);
    const run = (request: Uint8Array): Uint8Array => {
      u32[0] = request.length;
      u8.set(request, 16);
      call();
      return u8.slice(u32[1]!, u32[1]! + u32[2]!);
    };
    for (let round = 0; round < 20; round++) {
      const panicked = fromBinary(CalculatorResponseSchema, run(TEST_PANIC_REQUEST));
      assert.equal(panicked.result.case, 'error');
      if (panicked.result.case === 'error') {
        assert.equal(panicked.result.value.code, ErrorCode.INTERNAL);
        assert.match(panicked.result.value.message, /panicked/);
      }
      assert.deepEqual(Array.from(run(ADD_2_3)), [0x08, 0x05]);
    }
  });

  test('a Calculator on that addon answers INTERNAL in process() and keeps working', () => {
    const calc = new Calculator({ runtime: 'node-api' });
    for (let round = 0; round < 20; round++) {
      assert.equal(codeOf(calc.process(TEST_PANIC_REQUEST)), ErrorCode.INTERNAL);
      assert.equal(calc.add(round, 1), round + 1);
      assert.equal(calc.multiply(BigInt(round), -3n), BigInt(round) * -3n);
      assert.deepEqual(Array.from(calc.batch('subtract', [5n, 6n], [1n, BigInt(round)])), [4n, 6n - BigInt(round)]);
    }
    // The same bytes with one more byte are an ordinary invalid request: the hook is exact.
    assert.equal(codeOf(calc.process(new Uint8Array([...TEST_PANIC_REQUEST, 0x7a, 0x00]))), ErrorCode.INVALID_REQUEST);
    calc.close();
  });

  test('the Calculators of this file really run on the test-panic build', () => {
    // The shipped addon would answer INVALID_REQUEST here; INTERNAL proves the hook is live.
    const calc = new Calculator();
    assert.equal(codeOf(calc.process(TEST_PANIC_REQUEST)), ErrorCode.INTERNAL);
    calc.close();
  });
});
