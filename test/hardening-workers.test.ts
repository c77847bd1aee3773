// worker_threads: four workers and the main thread, each with its own Calculator, call the
// engine at once for a bounded time and check every result against the BigInt model. The
// workers start together, so the addon is loaded in several threads at the same time.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { type HammerFigures, hammer } from './children/hardening-workers.js';

const WORKERS = 4;
const MS = 3_000;

function run(seed: bigint, ms: number): Promise<HammerFigures> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./children/hardening-workers.js', import.meta.url), {
      workerData: { seed, ms },
    });
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`worker exited with ${code} before reporting`)));
  });
}

test(`${WORKERS} workers and the main thread, ${MS} ms each, every result checked`, async () => {
  const workers = Array.from({ length: WORKERS }, (_, i) => run(BigInt(i + 1) * 0x9e3779b97f4a7c15n, MS));
  const main = hammer(0xdeadbeefn, MS);
  const all = [main, ...(await Promise.all(workers))];
  const calls = all.reduce((sum, f) => sum + f.calls, 0);
  const batchOps = all.reduce((sum, f) => sum + f.batchOps, 0);
  console.log(
    `workers: ${JSON.stringify({ threads: all.length, calls, batchOps, perThread: all.map((f) => f.calls) })}`,
  );
  for (const [i, f] of all.entries()) {
    assert.equal(f.wrong, 0, `thread ${i}: ${f.wrong} wrong answers, first: ${f.firstWrong}`);
    assert.ok(f.calls > 1000, `thread ${i} made only ${f.calls} calls`);
  }
});

test('the addon loads in eight threads at once, each answering', async () => {
  // Short runs: these workers prove loading side by side and answering correctly.
  const loads = Array.from({ length: 8 }, (_, i) => run(BigInt(i + 100), 200).then((f) => f.wrong));
  assert.deepEqual(await Promise.all(loads), Array(8).fill(0));
});
