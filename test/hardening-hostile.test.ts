// Hostile input from TypeScript: property tests throw every kind of wrong value at the API
// (strings, objects, sparse arrays, typed arrays of the wrong kind, detached buffers, proxies
// whose traps throw or lie about the length, subclasses that lie about it, huge claimed lengths).
// Each call must either throw a TypeError, RangeError or CalculatorError, or give the answer the
// model gives for the values it really holds — never a crash or a wrong answer — and the
// calculator must keep working afterwards.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Calculator, CalculatorError } from 'nanocalc';
import { OPS, type Op, i64, reference, referenceBatch } from './models/reference.js';

const calc = new Calculator({ maxBatchLength: 100_000 });
const figures = { single: 0, batch: 0, process: 0, threw: 0, answered: 0 };

function allowed(error: unknown): boolean {
  return error instanceof TypeError || error instanceof RangeError || error instanceof CalculatorError;
}

function stillWorks(): void {
  assert.equal(calc.add(2, 3), 5);
  assert.equal(calc.multiply(-4n, 5n), -20n);
  assert.deepEqual(Array.from(calc.batch('subtract', [10n, 20n], [1n, 2n])), [9n, 18n]);
}

function detached<T extends ArrayBufferView>(view: T): T {
  structuredClone(view.buffer, { transfer: [view.buffer as ArrayBuffer] });
  return view;
}

/** Something that claims to be a column, with the bigints it really holds (`values`). */
interface Hostile {
  value: unknown;
  /** What reading index i gives, for i below any length it reports; undefined if not a column of i64. */
  values: readonly bigint[] | undefined;
  label: string;
}

const plain = (label: string, value: unknown): Hostile => ({ value, values: undefined, label });

/** fc.anything() may give a real column (e.g. `[]`, or an array of safe integers): then its values. */
function anyColumn(value: unknown): Hostile {
  const column =
    Array.isArray(value) &&
    Object.keys(value).length === value.length &&
    (value.every((x) => typeof x === 'bigint' && BigInt.asIntN(64, x) === x) ||
      value.every((x) => Number.isSafeInteger(x)));
  return {
    value,
    values: column ? (value as (bigint | number)[]).map((x) => BigInt(x)) : undefined,
    label: 'anything',
  };
}

const hostileColumn: fc.Arbitrary<Hostile> = fc.oneof(
  fc
    .anything({
      withBigInt: true,
      withTypedArray: true,
      withSparseArray: true,
      withBoxedValues: true,
      withNullPrototype: true,
    })
    .map(anyColumn),
  fc.array(i64, { maxLength: 8 }).map((values) => ({ value: values, values, label: 'bigint[]' })),
  fc
    .array(i64, { maxLength: 8 })
    .map((values) => ({ value: BigInt64Array.from(values), values, label: 'BigInt64Array' })),
  fc
    .array(i64, { minLength: 1, maxLength: 8 })
    .map((values) => plain('sparse', Object.assign(values.slice(), { length: values.length + 2 }))),
  fc.array(i64, { minLength: 1, maxLength: 8 }).map((values) => plain('mixed kinds', [...values, 1])),
  fc.constantFrom(
    plain('Int32Array', new Int32Array([1, 2])),
    plain('BigUint64Array', new BigUint64Array([1n, 2n])),
    plain('Float64Array', new Float64Array([1, 2])),
    plain('Uint8Array', new Uint8Array([1, 2])),
    plain('DataView', new DataView(new ArrayBuffer(16))),
    plain('ArrayBuffer', new ArrayBuffer(16)),
    plain('string', '1,2'),
    plain('array-like', { length: 2, 0: 1n, 1: 2n }),
    plain('array-like of length 2^32', { length: 2 ** 32 }),
    plain('proxy of length 2^32', new Proxy([], { get: (_t, k) => (k === 'length' ? 2 ** 32 : 1n) })),
    plain('proxy of length 2^31', new Proxy([], { get: (_t, k) => (k === 'length' ? 2 ** 31 : 1n) })),
    plain('proxy of length -1', new Proxy([], { get: (_t, k) => (k === 'length' ? -1 : 1n) })),
    plain('proxy of length NaN', new Proxy([], { get: (_t, k) => (k === 'length' ? NaN : 1n) })),
    plain(
      'proxy whose get throws',
      new Proxy([1n], {
        get: () => {
          throw new RangeError('trap');
        },
      }),
    ),
    plain(
      'proxy whose element getter throws',
      new Proxy([1n, 2n], {
        get: (t, k) => {
          if (k === '1') throw new TypeError('trap');
          return Reflect.get(t, k);
        },
      }),
    ),
    plain('proxy of a BigInt64Array', new Proxy(new BigInt64Array([1n, 2n]), {})),
    plain(
      'revoked proxy',
      (() => {
        const p = Proxy.revocable([1n], {});
        p.revoke();
        return p.proxy;
      })(),
    ),
  ),
  fc.array(i64, { maxLength: 8 }).map(
    (values): Hostile => ({
      value: detached(BigInt64Array.from(values)),
      values: [],
      label: 'detached BigInt64Array',
    }),
  ),
  // Lies about its length: each read of `length` gives the next of `lengths`.
  fc
    .tuple(fc.array(i64, { maxLength: 8 }), fc.array(fc.nat(12), { minLength: 1, maxLength: 4 }))
    .map(([values, lengths]): Hostile => {
      let reads = 0;
      const value = new Proxy(values.slice(), {
        get: (t, k, r) => (k === 'length' ? lengths[Math.min(reads++, lengths.length - 1)] : Reflect.get(t, k, r)),
      });
      return { value, values, label: `proxy lying ${lengths}` };
    }),
  fc.tuple(fc.array(i64, { maxLength: 8 }), fc.nat(12)).map(([values, claimed]): Hostile => {
    class Liar extends BigInt64Array {
      override get length(): number {
        return claimed;
      }
    }
    return { value: Liar.from(values), values, label: `BigInt64Array subclass claiming ${claimed}` };
  }),
);

describe('hostile input', () => {
  test('single operations: any two values', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...OPS),
        fc.anything({ withBigInt: true, withTypedArray: true, withBoxedValues: true, withNullPrototype: true }),
        fc.oneof(fc.anything({ withBigInt: true, withBoxedValues: true }), i64, fc.double()),
        (op: Op, a, b) => {
          figures.single++;
          let result: unknown;
          try {
            result = (calc[op] as (x: unknown, y: unknown) => unknown)(a, b);
          } catch (error) {
            assert.ok(allowed(error), `${op}: ${String(error)}`);
            figures.threw++;
            return;
          }
          figures.answered++;
          // An answer only for two numbers or two bigints, and then the model's.
          assert.ok(
            typeof a === typeof b && (typeof a === 'number' || typeof a === 'bigint'),
            `${op} answered ${String(result)}`,
          );
          assert.equal(BigInt(result as bigint), reference(op, BigInt(a as bigint), BigInt(b as bigint)));
        },
      ),
      { numRuns: 3000 },
    );
    stillWorks();
  });

  test('batches: hostile columns, operations and out arrays', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.constantFrom<unknown>(...OPS), fc.anything()),
        hostileColumn,
        hostileColumn,
        fc.oneof(
          fc.constant(undefined),
          fc.nat(10).map((n) => new BigInt64Array(n)),
          fc.nat(4).map((n) => detached(new BigInt64Array(n))),
          fc.constantFrom<unknown>(new Int32Array(2), [0n, 0n], null, 'out', new Proxy(new BigInt64Array(2), {})),
        ),
        (op, a, b, out) => {
          figures.batch++;
          let result: BigInt64Array;
          try {
            result = (calc.batch as (...args: unknown[]) => BigInt64Array)(op, a.value, b.value, out);
          } catch (error) {
            assert.ok(allowed(error), `${a.label} / ${b.label}: ${String(error)}`);
            figures.threw++;
            return;
          }
          figures.answered++;
          // Generic array methods: a detached `out` of length 0 is a right answer to an empty batch,
          // and the typed array's own join and iterator would throw on it.
          const elements = Array.prototype.slice.call(result) as bigint[];
          const context = `batch(${String(op)}, ${a.label}, ${b.label}) = [${elements.join(',')}]`;
          assert.ok(a.values !== undefined && b.values !== undefined, `answered: ${context}`);
          const n = result.length;
          assert.ok(n <= a.values.length && n <= b.values.length, context);
          const expected = referenceBatch(op as Op, a.values.slice(0, n), b.values.slice(0, n));
          assert.ok('values' in expected, context);
          assert.deepEqual(elements, expected.values, context);
          if (out !== undefined) assert.equal(result, out);
        },
      ),
      { numRuns: 3000 },
    );
    stillWorks();
  });

  test('process(): anything that is not a Uint8Array is a TypeError; detached and lying ones are answered or refused', () => {
    const add = new Uint8Array([0x0a, 0x04, 0x08, 0x02, 0x10, 0x03]);
    class Liar extends Uint8Array {
      override get length(): number {
        return 2;
      }
    }
    fc.assert(
      fc.property(fc.anything({ withBigInt: true, withTypedArray: true, withBoxedValues: true }), (value) => {
        figures.process++;
        try {
          const response = (calc.process as (x: unknown) => Uint8Array)(value);
          assert.ok(value instanceof Uint8Array, `answered ${String(value)}`);
          assert.ok(response instanceof Uint8Array);
          figures.answered++;
        } catch (error) {
          assert.ok(allowed(error), String(error));
          figures.threw++;
        }
      }),
      { numRuns: 2000 },
    );
    // Detached: a TypeError (copying from a detached buffer), nothing sent to the engine.
    assert.throws(() => calc.process(detached(add.slice())), TypeError);
    // A subclass claiming a shorter length is read at its real length: the whole request, 2 + 3.
    assert.deepEqual(Array.from(calc.process(Liar.from(add))), [0x08, 0x05]);
    stillWorks();
  });

  // Issue 13: a column resized or detached from the caller's code after its length was read (a
  // proxy in another column's prototype chain, which `instanceof` would run) gave a plain Error.
  test('a column resized or detached by a prototype trap: the model answer or a documented error', () => {
    type Change = 'shrink' | 'grow' | 'detach';
    const ResizableArrayBuffer = ArrayBuffer as unknown as new (
      bytes: number,
      options: { maxByteLength: number },
    ) => ArrayBuffer & { resize(bytes: number): void };
    const change = (buffer: ArrayBuffer & { resize(bytes: number): void }, how: Change) => {
      if (how === 'shrink') buffer.resize(8 * 5);
      else if (how === 'grow') buffer.resize(8 * 200);
      else structuredClone(buffer, { transfer: [buffer] });
    };
    for (const how of ['shrink', 'grow', 'detach'] as const) {
      // 'all': a, b and out are one array over the resizable buffer, so all three change alike.
      for (const trapIn of ['b', 'out', 'all'] as const) {
        for (const op of OPS) {
          const n = 100;
          const buffer = new ResizableArrayBuffer(8 * n, { maxByteLength: 8 * 1000 });
          const a = new BigInt64Array(buffer); // tracks the buffer's length
          a.forEach((_, i) => {
            a[i] = BigInt(i - 50) || 1n;
          });
          const values = Array.from(a);
          const b = trapIn === 'all' ? a : BigInt64Array.from({ length: n }, (_, i) => BigInt((i % 7) + 1));
          const expected = referenceBatch(op, values, Array.from(b));
          const out = trapIn === 'all' ? a : new BigInt64Array(n);
          const trapped = trapIn === 'b' ? b : out;
          let changed = false;
          Object.setPrototypeOf(
            trapped,
            new Proxy(
              {},
              {
                getPrototypeOf() {
                  if (!changed) change(buffer, how); // once: a runtime may walk the chain more than once
                  changed = true;
                  return BigInt64Array.prototype;
                },
              },
            ),
          );
          const context = `${how} from a trap in ${trapIn}'s prototype, ${op}`;
          try {
            const result = calc.batch(op, a, b, out);
            assert.ok('values' in expected, context);
            // The elements through the intrinsic iterator: `result` may be `out`, whose prototype is the proxy.
            const typedArrayValues = (Object.getPrototypeOf(Int8Array.prototype) as { values: () => Iterable<bigint> })
              .values;
            assert.deepEqual(Array.from(typedArrayValues.call(result)), expected.values, context);
          } catch (error) {
            assert.ok(allowed(error), `${context}: ${String(error)}`);
          }
          stillWorks();
        }
      }
    }
  });

  test('after all of that the calculator still agrees with the model', () => {
    fc.assert(
      fc.property(fc.constantFrom(...OPS), i64, i64, (op, a, b) => {
        const expected = reference(op, a, b);
        if (expected === null) assert.throws(() => calc[op](a, b), CalculatorError);
        else assert.equal(calc[op](a, b), expected);
      }),
      { numRuns: 500 },
    );
    console.log(`hostile: ${JSON.stringify(figures)}`);
  });
});
