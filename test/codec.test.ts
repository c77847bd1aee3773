// The generated hot-path codec against protobuf-es, the reference: byte for byte where the codec
// writes canonical protobuf, message for message where it pads lengths for alignment. Also: the
// committed generated code is what the plugin makes from the schema today.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import fc from 'fast-check';
import { writePaddedVarint } from '../src/wire.js';
import { BinaryOpSchema, CalculatorRequestSchema, ColumnBatchSchema } from '../gen/nanocalc/v1/calculator_pb.js';
import {
  COLUMNS_A_OFFSET,
  FIELD,
  Layout,
  columnsBOffset,
  encodeBinaryBigints,
  encodeBinaryNumbers,
  encodeColumnsFrame,
} from '../src/codec.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
/** The files plugin/protoc-gen-nanocalc.ts generates: the TypeScript codec and the Rust wire constants. */
const GENERATED = ['src/gen/nanocalc/v1/calculator_codec.ts', 'crates/nanocalc-core/src/wire.rs'];
const i64 = fc.oneof(
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
  fc.bigInt({ min: -20000n, max: 20000n }),
  fc.constantFrom(0n, 1n, -1n, 127n, 128n, 16383n, 16384n, 2n ** 32n, -(2n ** 63n), 2n ** 63n - 1n),
);
const safe = fc.oneof(
  fc.integer({ min: -20000, max: 20000 }),
  fc.maxSafeInteger(),
  fc.constantFrom(0, 127, 128, 16383, 16384, 2 ** 32, -(2 ** 53) + 1, 2 ** 53 - 1),
);
const member = fc.constantFrom('add', 'subtract', 'multiply', 'divide', 'remainder') as fc.Arbitrary<
  'add' | 'subtract' | 'multiply' | 'divide' | 'remainder'
>;

function reference(op: 'add' | 'subtract' | 'multiply' | 'divide' | 'remainder', a: bigint, b: bigint): Uint8Array {
  const value = create(BinaryOpSchema, { a, b });
  return toBinary(CalculatorRequestSchema, create(CalculatorRequestSchema, { operation: { case: op, value } }));
}

// A check of the build, not of the runtime: it runs buf and the plugin, so only under Node
// (the Bun and Deno runs of this suite are sandboxed from writing files and spawning tools).
const onNode = !('Deno' in globalThis) && !('Bun' in globalThis);

test('the committed codec and its Rust twin are what the plugin generates from the schema', {
  skip: !onNode && 'a build check: Node only',
}, () => {
  const out = mkdtempSync(join(tmpdir(), 'nanocalc-codec-'));
  try {
    execFileSync('npx', ['buf', 'generate', '--template', 'buf.gen.codec.yaml', '-o', out], { cwd: root });
    for (const generated of GENERATED) {
      assert.equal(
        readFileSync(join(out, generated), 'utf8'),
        readFileSync(join(root, generated), 'utf8'),
        `${generated} is stale: run npm run gen:codec`,
      );
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('binary requests from bigints are byte for byte what protobuf-es writes', () => {
  const u8 = new Uint8Array(256);
  fc.assert(
    fc.property(member, i64, i64, (op, a, b) => {
      const length = encodeBinaryBigints(u8, FIELD[op], a, b);
      assert.deepEqual(u8.slice(Layout.REQUEST_OFFSET, Layout.REQUEST_OFFSET + length), reference(op, a, b));
    }),
    { numRuns: 2000 },
  );
});

test('binary requests from numbers are byte for byte what protobuf-es writes', () => {
  const u8 = new Uint8Array(256);
  fc.assert(
    fc.property(member, safe, safe, (op, a, b) => {
      const length = encodeBinaryNumbers(u8, FIELD[op], a, b);
      assert.deepEqual(
        u8.slice(Layout.REQUEST_OFFSET, Layout.REQUEST_OFFSET + length),
        reference(op, BigInt(a), BigInt(b)),
      );
    }),
    { numRuns: 2000 },
  );
});

test('column frames decode with protobuf-es to the same message, columns 8-byte aligned', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 5 }), fc.array(i64, { maxLength: 40 }), (operation, values) => {
      const n = values.length;
      const buffer = new ArrayBuffer(Layout.REQUEST_OFFSET + 64 + 16 * n);
      const u8 = new Uint8Array(buffer);
      const i64view = new BigInt64Array(buffer);
      const length = encodeColumnsFrame(u8, operation, n);
      assert.equal(COLUMNS_A_OFFSET % 8, 0);
      assert.equal(columnsBOffset(n) % 8, 0);
      const b = values.map((v) => (-v - 1n < -(2n ** 63n) ? v : -v - 1n));
      i64view.set(values, COLUMNS_A_OFFSET / 8);
      i64view.set(b, columnsBOffset(n) / 8);
      const decoded = fromBinary(
        CalculatorRequestSchema,
        u8.subarray(Layout.REQUEST_OFFSET, Layout.REQUEST_OFFSET + length),
      );
      assert.deepEqual(
        decoded,
        create(CalculatorRequestSchema, {
          operation: { case: 'columns', value: create(ColumnBatchSchema, { operation, a: values, b }) },
        }),
      );
    }),
    { numRuns: 500 },
  );
});

test('writePaddedVarint: every width from the value up to ten bytes reads back as the value', () => {
  fc.assert(
    fc.property(fc.maxSafeNat(), fc.nat(9), (value, extra) => {
      let minimal = 1;
      while (value >= 2 ** (7 * minimal)) minimal++;
      const width = Math.min(10, minimal + extra);
      const u8 = new Uint8Array(16).fill(0xee);
      assert.equal(writePaddedVarint(u8, 3, value, width), 3 + width);
      let decoded = 0;
      for (let i = 0; i < width; i++) {
        assert.equal(u8[3 + i]! >= 128, i < width - 1, `continuation bit of byte ${i}`);
        decoded += (u8[3 + i]! & 127) * 2 ** (7 * i);
      }
      assert.equal(decoded, value);
      assert.ok(u8[2] === 0xee && u8[3 + width] === 0xee, 'nothing written outside');
    }),
    { numRuns: 2000 },
  );
});
