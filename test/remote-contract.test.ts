// The in-process Calculator's contract, held against RemoteCalculator over a real nanocalc-server:
// the reference model for arithmetic, and the in-process Calculator itself as the oracle for
// every answer and every error (same value, or same error class, code and index).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import fc from 'fast-check';
import { toBinary } from '@bufbuild/protobuf';
import { Calculator, CalculatorError } from 'nanocalc';
import { RemoteCalculator, RemoteError } from 'nanocalc/remote';
import { CalculatorRequestSchema } from '../gen/nanocalc/v1/calculator_pb.js';
import {
  EDGES,
  MAX,
  MIN,
  OPS,
  SAFE_EDGES,
  i64,
  op,
  reference,
  referenceBatch,
  request,
  safeInt,
} from './models/reference.js';
import { pseudoRandomI64, show } from './support/helpers.js';
import { type Server, startServer, stopAll } from './support/servers.js';
import { expression, expressionSoup } from './models/expressions.js';

let server: Server;
let remote: RemoteCalculator;
const local = new Calculator();

before(async () => {
  server = await startServer();
  remote = new RemoteCalculator(server.address, { timeoutMs: 10_000 });
});
after(async () => {
  remote?.close();
  local.close();
  await stopAll();
});

type Outcome = { value: unknown } | { error: { kind: string; code?: string; index?: number | undefined } };

function errorOutcome(e: unknown): Outcome {
  if (e instanceof CalculatorError) return { error: { kind: 'CalculatorError', code: e.code, index: e.index } };
  if (e instanceof Error) return { error: { kind: Object.getPrototypeOf(e).constructor.name } };
  return { error: { kind: typeof e } };
}

function localOutcome(fn: () => unknown): Outcome {
  try {
    return { value: fn() };
  } catch (e) {
    return errorOutcome(e);
  }
}

async function remoteOutcome(fn: () => Promise<unknown>): Promise<Outcome> {
  try {
    return { value: await fn() };
  } catch (e) {
    if (e instanceof RemoteError) throw e; // a transport failure is never an expected outcome here
    return errorOutcome(e);
  }
}

/** The remote call answers (or fails) exactly as the in-process one. */
async function same(context: string, remoteCall: () => Promise<unknown>, localCall: () => unknown): Promise<void> {
  const expected = localOutcome(localCall);
  const actual = await remoteOutcome(remoteCall);
  assert.deepEqual(actual, expected, context);
}

type AnyCalc = Record<string, (...args: unknown[]) => unknown>;
const r = () => remote as unknown as AnyCalc;
const l = () => local as unknown as AnyCalc;

describe('arithmetic matches the reference model and the in-process Calculator', () => {
  test('bigint operands over the full i64 range, every op', async () => {
    await fc.assert(
      fc.asyncProperty(op, i64, i64, async (o, a, b) => {
        const expected = reference(o, a, b);
        if (expected === null) {
          await assert.rejects(
            remote[o](a, b),
            (e: unknown) => e instanceof CalculatorError && e.code === 'DIVISION_BY_ZERO' && e.index === undefined,
          );
        } else {
          assert.equal(await remote[o](a, b), expected, show([o, a, b]));
        }
      }),
      { numRuns: 600 },
    );
  });

  test('number operands over the safe integers, every op (RangeError past the safe range)', async () => {
    await fc.assert(
      fc.asyncProperty(op, safeInt, safeInt, async (o, a, b) => {
        await same(
          `${o}(${a}, ${b})`,
          () => r()[o]!(a, b) as Promise<unknown>,
          () => l()[o]!(a, b),
        );
      }),
      { numRuns: 600 },
    );
  });

  test('every op on every pair of edge values, bigints and numbers', async () => {
    const calls: Promise<void>[] = [];
    for (const o of OPS) {
      for (const a of EDGES)
        for (const b of EDGES)
          calls.push(
            same(
              `${o}(${a}n, ${b}n)`,
              () => r()[o]!(a, b) as Promise<unknown>,
              () => l()[o]!(a, b),
            ),
          );
      for (const a of SAFE_EDGES)
        for (const b of SAFE_EDGES)
          calls.push(
            same(
              `${o}(${a}, ${b})`,
              () => r()[o]!(a, b) as Promise<unknown>,
              () => l()[o]!(a, b),
            ),
          );
    }
    await Promise.all(calls);
  });

  test('named edge cases', async () => {
    assert.equal(await remote.add(MAX, 1n), MAX);
    assert.equal(await remote.subtract(MIN, 1n), MIN);
    assert.equal(await remote.multiply(MIN, -1n), MAX);
    assert.equal(await remote.divide(MIN, -1n), MAX);
    assert.equal(await remote.remainder(MIN, -1n), 0n);
    assert.equal(await remote.divide(-7, 2), -3);
    assert.equal(await remote.remainder(-7, 2), -1);
    assert.equal(await remote.add(0, 0), 0);
    assert.equal(await remote.add(0n, 0n), 0n);
    assert.equal(typeof (await remote.add(2, 3)), 'number');
    assert.equal(typeof (await remote.add(2n, 3n)), 'bigint');
  });
});

describe('argument errors are the in-process ones', () => {
  const bad: [string, unknown, unknown][] = [
    ['a fraction', 1.5, 2],
    ['NaN', Number.NaN, 1],
    ['Infinity', 1, Number.POSITIVE_INFINITY],
    ['beyond the safe range', 2 ** 53, 1],
    ['a bigint above i64', MAX + 1n, 1n],
    ['a bigint below i64', 1n, MIN - 1n],
    ['number and bigint', 1, 1n],
    ['bigint and number', 1n, 1],
    ['a string', '1', 2],
    ['null', null, 2],
    ['undefined', undefined, undefined],
    ['an array', [1], 2],
  ];
  for (const [name, a, b] of bad) {
    test(name, async () => {
      for (const o of OPS)
        await same(
          `${o}(${show(a)}, ${show(b)})`,
          () => r()[o]!(a, b) as Promise<unknown>,
          () => l()[o]!(a, b),
        );
    });
  }

  test('batch arguments: operation, columns, out', async () => {
    const cases: [string, unknown[]][] = [
      ['unknown op', ['power', [1n], [2n]]],
      ['op as a number', [1, [1n], [2n]]],
      ['inherited op name', ['toString', [1n], [2n]]],
      ['columns of different lengths', ['add', [1n, 2n], [1n]]],
      ['a column that is a string', ['add', 'ab', [1n, 2n]]],
      ['a typed array of another kind', ['add', new Int32Array(2), [1n, 2n]]],
      ['mixed kinds in a column', ['add', [1n, 2], [1n, 2n]]],
      ['a number column with a fraction', ['add', [1, 2.5], [1, 2]]],
      ['a bigint column beyond i64', ['add', [1n, MAX + 1n], [1n, 2n]]],
      ['out of another length', ['add', [1n], [2n], new BigInt64Array(2)]],
      ['out not a BigInt64Array', ['add', [1n], [2n], [0n]]],
      ['division by zero at 2', ['divide', [1n, 2n, 3n, 4n], [1n, 1n, 0n, 0n]]],
      ['remainder by zero at 0 (numbers)', ['remainder', [1, 2], [0, 1]]],
      ['empty columns', ['add', [], []]],
      ['number columns', ['multiply', [3, -4, SAFE_EDGES[0]!], [5, 6, 1]]],
    ];
    for (const [name, args] of cases) {
      await same(
        name,
        () => remote.batch(...(args as Parameters<Calculator['batch']>)),
        () => local.batch(...(args as Parameters<Calculator['batch']>)),
      );
    }
  });
});

describe('batches', () => {
  test('random column batches match the reference model, element for element', async () => {
    await fc.assert(
      fc.asyncProperty(
        op,
        fc.array(fc.tuple(i64, fc.oneof({ weight: 9, arbitrary: i64 }, { weight: 1, arbitrary: fc.constant(0n) })), {
          maxLength: 60,
        }),
        async (o, pairs) => {
          const a = pairs.map((p) => p[0]);
          const b = pairs.map((p) => p[1]);
          const expected = referenceBatch(o, a, b);
          if ('failsAt' in expected) {
            await assert.rejects(
              remote.batch(o, a, b),
              (e: unknown) =>
                e instanceof CalculatorError && e.code === 'DIVISION_BY_ZERO' && e.index === expected.failsAt,
            );
          } else {
            assert.deepEqual(
              [...(await remote.batch(o, BigInt64Array.from(a), BigInt64Array.from(b)))],
              expected.values,
            );
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  test('a batch split into many column requests: results in order, the lowest failing index reported', async () => {
    const chunked = new RemoteCalculator(server.address, { batchChunkLength: 1000, batchParallelism: 3 });
    try {
      const n = 10_007;
      const gen = pseudoRandomI64(7n);
      const a = BigInt64Array.from({ length: n }, () => gen.next().value as bigint);
      const b = BigInt64Array.from({ length: n }, () => gen.next().value as bigint);
      for (const o of OPS) assert.deepEqual(await chunked.batch(o, a, b), local.batch(o, a, b), o);
      const out = new BigInt64Array(n);
      assert.equal(await chunked.batch('add', a, b, out), out);
      assert.deepEqual(out, local.batch('add', a, b));
      // Zeros in several chunks: the first one, across chunk boundaries, is the one reported.
      for (const zeros of [[9_999], [5_432, 8_001], [1_000, 1_001, 10_006], [0, 5_000]]) {
        const divisors = BigInt64Array.from(b, (x) => (x === 0n ? 1n : x));
        for (const z of zeros) divisors[z] = 0n;
        const untouched = new BigInt64Array(n).fill(42n);
        await assert.rejects(
          chunked.batch('divide', a, divisors, untouched),
          (e: unknown) =>
            e instanceof CalculatorError &&
            e.code === 'DIVISION_BY_ZERO' &&
            e.index === zeros[0] &&
            e.message.includes(`index ${zeros[0]}`),
          show(zeros),
        );
        assert.ok(
          untouched.every((x) => x === 42n),
          'out is left unchanged by a failed batch',
        );
      }
    } finally {
      chunked.close();
    }
  });

  test('returned arrays belong to the caller and inputs are not mutated', async () => {
    const a = BigInt64Array.of(1n, 2n, 3n);
    const b = BigInt64Array.of(4n, 5n, 6n);
    const first = await remote.batch('add', a, b);
    const second = await remote.batch('add', a, b);
    first[0] = 99n;
    assert.deepEqual([...second], [5n, 7n, 9n]);
    assert.deepEqual([...a], [1n, 2n, 3n]);
    assert.deepEqual([...b], [4n, 5n, 6n]);
  });
});

describe('process()', () => {
  test('answers every request with the in-process bytes', async () => {
    await fc.assert(
      fc.asyncProperty(request, async (message) => {
        const bytes = toBinary(CalculatorRequestSchema, message);
        assert.deepEqual(await remote.process(bytes), local.process(bytes));
      }),
      { numRuns: 300 },
    );
  });

  test('arbitrary bytes, malformed ones included, are answered as in-process (never a transport error)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 64 }), async (bytes) => {
        assert.deepEqual(await remote.process(bytes), local.process(bytes));
      }),
      { numRuns: 300 },
    );
  });

  test('a non-Uint8Array is a TypeError', async () => {
    await same(
      'process([1])',
      () => remote.process([1] as unknown as Uint8Array),
      () => local.process([1] as unknown as Uint8Array),
    );
  });
});

describe('evaluate()', () => {
  test('expressions are answered as in-process: values, and errors with code and index', async () => {
    for (const text of [
      '1 + 2 * 3',
      '2 * (3 + 4',
      '1 / 0',
      '-9223372036854775808',
      '1 + é',
      '('.repeat(300),
      '',
      'x'.repeat(70_000),
    ]) {
      await same(
        show(text.slice(0, 20)),
        () => remote.evaluate(text),
        () => local.evaluate(text),
      );
    }
    await fc.assert(
      fc.asyncProperty(fc.oneof(expression, expressionSoup), async (text) => {
        await same(
          show(text),
          () => remote.evaluate(text),
          () => local.evaluate(text),
        );
      }),
      { numRuns: 200 },
    );
    await same(
      'evaluate(42)',
      () => r().evaluate!(42) as Promise<unknown>,
      () => l().evaluate!(42),
    );
  });
});

describe('the pipelined stream', () => {
  test('many calls in flight on one stream are answered in order, errors in place', async () => {
    const stream = remote.stream();
    const gen = pseudoRandomI64(11n);
    const calls: [string, bigint, bigint][] = Array.from({ length: 3000 }, (_, k) => [
      OPS[k % 5]!,
      gen.next().value as bigint,
      k % 97 === 0 ? 0n : (gen.next().value as bigint),
    ]);
    const answers = calls.map(([o, a, b]) =>
      remoteOutcome(() => (stream as unknown as AnyCalc)[o]!(a, b) as Promise<unknown>),
    );
    const batch = stream.batch('add', [1n, 2n], [3n, 4n]);
    const processed = stream.process(new Uint8Array([0xff]));
    assert.ok(stream.pending > 0);
    const outcomes = await Promise.all(answers);
    for (let k = 0; k < calls.length; k++) {
      const [o, a, b] = calls[k]!;
      assert.deepEqual(
        outcomes[k],
        localOutcome(() => l()[o]!(a, b)),
        show(calls[k]),
      );
    }
    assert.deepEqual([...(await batch)], [4n, 6n]);
    assert.deepEqual(await processed, local.process(new Uint8Array([0xff])));
    await stream.end();
    await assert.rejects(stream.add(1, 2), (e: unknown) => e instanceof CalculatorError && e.code === 'CLOSED');
  });
});

describe('deadlines, cancellation and close', () => {
  // A loopback listener that accepts connections and never answers: calls to it can only end by
  // their deadline or their AbortSignal.
  let silent: net.Server;
  let silentAddress: string;
  const sockets = new Set<net.Socket>();
  before(async () => {
    silent = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    silentAddress = `127.0.0.1:${(silent.address() as net.AddressInfo).port}`;
  });
  after(() => {
    for (const socket of sockets) socket.destroy();
    silent.close();
  });

  test('a deadline ends a call that gets no answer with DEADLINE_EXCEEDED', async () => {
    const calc = new RemoteCalculator(silentAddress, { timeoutMs: 300 });
    try {
      const started = Date.now();
      await assert.rejects(
        calc.add(1, 2),
        (e: unknown) =>
          e instanceof RemoteError && e.status === 'DEADLINE_EXCEEDED' && e.code === 4 && e.name === 'RemoteError',
      );
      assert.ok(Date.now() - started < 5_000);
      await assert.rejects(
        calc.add(1, 2, { timeoutMs: 100 }),
        (e: unknown) => e instanceof RemoteError && e.status === 'DEADLINE_EXCEEDED',
      );
    } finally {
      calc.close();
    }
  });

  test('an AbortSignal cancels a call: CANCELLED, with the reason as cause', async () => {
    const calc = new RemoteCalculator(silentAddress, { timeoutMs: 0 });
    try {
      const controller = new AbortController();
      const call = calc.multiply(6n, 7n, { signal: controller.signal });
      setTimeout(() => controller.abort(new Error('user gave up')), 100);
      await assert.rejects(
        call,
        (e: unknown) =>
          e instanceof RemoteError && e.status === 'CANCELLED' && (e.cause as Error).message === 'user gave up',
      );
      await assert.rejects(
        calc.add(1, 2, { signal: AbortSignal.abort() }),
        (e: unknown) => e instanceof RemoteError && e.status === 'CANCELLED',
      );
      const batchController = new AbortController();
      const batch = calc.batch('add', new BigInt64Array(10), new BigInt64Array(10), undefined, {
        signal: batchController.signal,
      });
      batchController.abort();
      await assert.rejects(batch, (e: unknown) => e instanceof RemoteError && e.status === 'CANCELLED');
    } finally {
      calc.close();
    }
  });

  test('an AbortSignal on a live server leaves it serving', async () => {
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(remote.add(1, 2, { signal: controller.signal }), RemoteError);
    assert.equal(await remote.add(1, 2), 3);
  });

  test('nothing listening: UNAVAILABLE after the retries, as a RemoteError', async () => {
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const calc = new RemoteCalculator(`127.0.0.1:${port}`, { timeoutMs: 3_000, maxAttempts: 2 });
    try {
      await assert.rejects(
        calc.add(1, 2),
        (e: unknown) => e instanceof RemoteError && e.status === 'UNAVAILABLE' && e.code === 14,
      );
    } finally {
      calc.close();
    }
  });

  test('after close() every call rejects with CLOSED; closing again does nothing', async () => {
    const calc = new RemoteCalculator(server.address);
    assert.equal(await calc.add(1, 1), 2);
    calc.close();
    calc.close();
    await same(
      'closed add',
      () => calc.add(1, 2),
      () => {
        throw new CalculatorError('CLOSED', 'closed');
      },
    );
    await assert.rejects(
      calc.batch('add', [1n], [1n]),
      (e: unknown) => e instanceof CalculatorError && e.code === 'CLOSED',
    );
    await assert.rejects(
      calc.process(new Uint8Array()),
      (e: unknown) => e instanceof CalculatorError && e.code === 'CLOSED',
    );
  });

  test('constructor arguments are checked', () => {
    assert.throws(() => new RemoteCalculator([]), TypeError);
    assert.throws(() => new RemoteCalculator(server.address, { timeoutMs: -1 }), RangeError);
    assert.throws(() => new RemoteCalculator(server.address, { batchChunkLength: 0 }), RangeError);
  });
});
