// The overflow modes over gRPC: RemoteCalculator (by calculator and per call) and RemoteStream
// against a real nanocalc-server, held to the BigInt model of test/models, as in process.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { OverflowMode } from 'nanocalc';
import { RemoteCalculator } from 'nanocalc/remote';
import { EDGES, MAX, MIN, MODES, OPS, type Op, exact, i64, op, referenceBatch } from './models/reference.js';
import { expression, referenceEvaluate } from './models/expressions.js';
import { outcomeAsync as outcome, show } from './support/helpers.js';
import { type Server, startServer, stopAll } from './support/servers.js';

let server: Server;
let remotes: Record<OverflowMode, RemoteCalculator>;
let plain: RemoteCalculator;

before(async () => {
  server = await startServer();
  remotes = Object.fromEntries(
    MODES.map((m) => [m, new RemoteCalculator(server.address, { timeoutMs: 10_000, overflow: m })]),
  ) as Record<OverflowMode, RemoteCalculator>;
  plain = new RemoteCalculator(server.address, { timeoutMs: 10_000 });
});
after(async () => {
  for (const remote of Object.values(remotes ?? {})) remote.close();
  plain?.close();
  await stopAll();
});

const mode = fc.constantFrom(...MODES);
const operand = fc.oneof(fc.constantFrom(...EDGES), i64, fc.bigInt({ min: -(2n ** 33n), max: 2n ** 33n }));

function expectedSingle(o: Op, a: bigint, b: bigint, m: OverflowMode) {
  const r = exact(o, a, b, m);
  return typeof r === 'bigint' ? r : { code: r, index: undefined };
}

describe('RemoteCalculator in every overflow mode', () => {
  test('single operations, by calculator and per call', async () => {
    await fc.assert(
      fc.asyncProperty(op, operand, operand, mode, async (o, a, b, m) => {
        const expected = expectedSingle(o, a, b, m);
        assert.deepEqual(await outcome(() => remotes[m][o](a, b)), expected, show([o, a, b, m]));
        assert.deepEqual(await outcome(() => plain[o](a, b, { overflow: m })), expected, show([o, a, b, m]));
      }),
      { numRuns: 300 },
    );
  });

  test('batches split into parallel requests: the first failure, its index from the start', async () => {
    const split = new RemoteCalculator(server.address, { timeoutMs: 10_000, batchChunkLength: 7 });
    try {
      await fc.assert(
        fc.asyncProperty(op, fc.array(fc.tuple(operand, operand), { maxLength: 40 }), mode, async (o, pairs, m) => {
          const a = pairs.map(([x]) => x);
          const b = pairs.map(([, y]) => y);
          const r = referenceBatch(o, a, b, m);
          const expected = 'values' in r ? r.values : { code: r.code, index: r.failsAt };
          const got = await outcome(async () => Array.from(await split.batch(o, a, b, { overflow: m })));
          assert.deepEqual(got, expected, show([o, a, b, m]));
          const byCalculator = await outcome(async () => Array.from(await remotes[m].batch(o, a, b)));
          assert.deepEqual(byCalculator, expected, show([o, a, b, m]));
        }),
        { numRuns: 200 },
      );
    } finally {
      split.close();
    }
  });

  test('expressions', async () => {
    await fc.assert(
      fc.asyncProperty(expression, mode, async (text, m) => {
        const model = referenceEvaluate(text, undefined, undefined, m);
        const expected = 'value' in model ? model.value : { code: model.code, index: model.index };
        assert.deepEqual(await outcome(() => plain.evaluate(text, { overflow: m })), expected, show([text, m]));
      }),
      { numRuns: 200 },
    );
  });

  test('a stream takes the mode it was opened with', async () => {
    for (const m of MODES) {
      const stream = plain.stream({ overflow: m });
      try {
        for (const o of OPS) {
          assert.deepEqual(await outcome(() => stream[o](MAX, -1n)), expectedSingle(o, MAX, -1n, m), `${o} ${m}`);
          assert.deepEqual(await outcome(() => stream[o](MIN, -1n)), expectedSingle(o, MIN, -1n, m), `${o} ${m}`);
        }
        const got = await outcome(async () => Array.from(await stream.batch('add', [1n, MAX], [1n, 1n])));
        const r = referenceBatch('add', [1n, MAX], [1n, 1n], m);
        assert.deepEqual(got, 'values' in r ? r.values : { code: r.code, index: r.failsAt });
      } finally {
        await stream.end();
      }
    }
  });
});
