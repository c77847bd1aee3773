// `out` sharing memory with `a` or `b` through views of *another buffer object* (issue 13): a
// SharedArrayBuffer cloned or sent through a MessagePort arrives as a new object over the same
// memory, and a shared WebAssembly.Memory gives a new one after grow(). A long batch runs in
// chunks; had the calculator compared buffer objects, chunk k's results would overwrite a later
// chunk's inputs (out[262144] was 431n where the model says 433n). Every batch here must give the
// model's answer for the inputs as they were before the call, whichever view reached the memory.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Calculator, type Operation } from 'nanocalc';
import { referenceBatch } from './models/reference.js';

const CHUNK_LENGTH = 1 << 18;

/** WebAssembly.Memory, whose types this project's TypeScript lib does not declare. */
const WasmMemory = (
  globalThis as unknown as {
    WebAssembly: {
      Memory: new (d: {
        initial: number;
        maximum: number;
        shared: boolean;
      }) => {
        readonly buffer: ArrayBufferLike;
        grow(pages: number): number;
      };
    };
  }
).WebAssembly.Memory;

/** Ways to reach one memory through two buffer objects: `[first, second]`, each of `bytes` or more. */
const aliasings: Record<string, (bytes: number) => [ArrayBufferLike, ArrayBufferLike]> = {
  'the same SharedArrayBuffer': (bytes) => {
    const sab = new SharedArrayBuffer(bytes);
    return [sab, sab];
  },
  'a structuredClone of the SharedArrayBuffer': (bytes) => {
    const sab = new SharedArrayBuffer(bytes);
    return [sab, structuredClone(sab)];
  },
  'a shared WebAssembly.Memory before and after grow()': (bytes) => {
    const pages = Math.ceil(bytes / 65536);
    const memory = new WasmMemory({ initial: pages, maximum: pages + 1, shared: true });
    const before = memory.buffer;
    memory.grow(1);
    return [before, memory.buffer];
  },
};

const calc = new Calculator();
const oneThread = new Calculator({ maxThreads: 1 });

/**
 * Runs `op` over `a` and `b` into an `out` that overlaps the chosen input at `shift` elements,
 * through the second buffer object, and checks it against the model on copies taken before.
 */
function checkAliased(
  calculator: Calculator,
  aliasing: string,
  op: Operation,
  n: number,
  overlapped: 'a' | 'b' | 'both',
  shift: number,
  seed: number,
): void {
  const pad = 8;
  const [first, second] = aliasings[aliasing]!(8 * (n + 2 * pad + 2));
  // `shared` lives in the memory that `out` overlaps; `own` in memory of its own. No zero in
  // either: a failing division is not what this tests (it never runs in chunks).
  const shared = new BigInt64Array(first, 8 * pad, n);
  const own = new BigInt64Array(n);
  for (let i = 0; i < n; i++) {
    shared[i] = BigInt(((i * 7919 + seed) % 2000) - 999) || 1n;
    own[i] = BigInt(((i * 104729 + seed) % 18) - 8) || 1n;
  }
  shared[n - 1] = 2n ** 63n - 1n; // saturates add and multiply
  const [a, b] = overlapped === 'a' ? [shared, own] : overlapped === 'b' ? [own, shared] : [shared, shared];
  const expected = referenceBatch(op, Array.from(a), Array.from(b));
  // `out` starts `shift` elements from `shared`, seen through the second object.
  const out = new BigInt64Array(second, 8 * (pad + shift), n);
  const context = `${aliasing}, ${op}, n = ${n}, out over ${overlapped} at ${shift}`;
  calculator.batch(op, a, b, out);
  assert.ok('values' in expected, context);
  for (let i = 0; i < n; i++) {
    if (out[i] !== expected.values[i])
      assert.fail(`${context}: out[${i}] is ${out[i]}, the model says ${expected.values[i]}`);
  }
}

describe('out over an input through another buffer object', () => {
  test("the issue's case: out one element after a, through a clone of the SharedArrayBuffer", () => {
    const n = CHUNK_LENGTH + 1;
    const sab = new SharedArrayBuffer(8 * (n + 1));
    const same = structuredClone(sab);
    const a = new BigInt64Array(sab, 0, n);
    for (let i = 0; i < n; i++) a[i] = BigInt(i % 1000) * 3n;
    const out = new BigInt64Array(same, 8, n);
    calc.batch('add', a, new BigInt64Array(n).fill(1n), out);
    assert.equal(out[CHUNK_LENGTH], 433n);
    assert.equal(out[0], 1n);
  });

  for (const aliasing of Object.keys(aliasings)) {
    test(`${aliasing}: every operation, every shift, in one request and in chunks`, () => {
      fc.assert(
        fc.property(
          fc.constantFrom<Operation>('add', 'subtract', 'multiply', 'divide', 'remainder'),
          fc.constantFrom(1_000, CHUNK_LENGTH + 1, 2 * CHUNK_LENGTH + 3),
          fc.constantFrom<'a' | 'b' | 'both'>('a', 'b', 'both'),
          fc.integer({ min: -6, max: 6 }),
          fc.boolean(),
          fc.nat(1_000),
          (op, n, overlapped, shift, single, seed) =>
            checkAliased(single ? oneThread : calc, aliasing, op, n, overlapped, shift, seed),
        ),
        { numRuns: 12 },
      );
    });
  }
});
