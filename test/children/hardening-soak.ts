// The soak: one Calculator answers `calls` individual calls and `batches` batches of 100,000
// (half into new arrays, half into a reused `out`), every answer checked, and the RSS after a
// warm-up and a GC must not grow by more than `boundMiB`. Run with --expose-gc:
//   node --expose-gc dist/test/hardening-soak-child.js CALLS BATCHES [BOUND_MIB]
// (hardening-soak.test.ts runs a bounded one; `npm run soak` a long one). Prints one JSON line;
// exits non-zero on a wrong answer or too much growth.

import { Calculator } from 'nanocalc';

const calls = Number(process.argv[2] ?? 20_000_000);
const batches = Number(process.argv[3] ?? 2_000);
const boundMiB = Number(process.argv[4] ?? 32);
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with --expose-gc');
const settle = async (): Promise<number> => {
  gc();
  await new Promise((resolve) => setImmediate(resolve));
  gc();
  return process.memoryUsage.rss() / 2 ** 20;
};

const calc = new Calculator();
const N = 100_000;
const a = new BigInt64Array(N);
const b = new BigInt64Array(N);
for (let i = 0; i < N; i++) {
  a[i] = BigInt(i) * 1_000_003n - 7n;
  b[i] = BigInt(i % 1000) + 1n;
}
const out = new BigInt64Array(N);
let wrong = 0;

function singles(count: number, from: number): void {
  for (let i = from; i < from + count; i++) {
    const k = i & 1023;
    if ((i & 15) === 0) {
      if (calc.multiply(BigInt(i), -3n) !== BigInt(i) * -3n) wrong++;
    } else if ((i & 15) === 1) {
      if (calc.remainder(i, k + 1) !== i % (k + 1)) wrong++;
    } else if (calc.add(i, k) !== i + k) {
      wrong++;
    }
  }
}

function batchRounds(count: number, from: number): void {
  for (let r = from; r < from + count; r++) {
    const op = r % 3 === 0 ? 'divide' : 'add';
    const result = r % 2 === 0 ? calc.batch(op, a, b) : calc.batch(op, a, b, out);
    // Spot checks each round, the whole array every 100th.
    const full = r % 100 === 0;
    for (let i = full ? 0 : r % 97; i < N; i += full ? 1 : 9973) {
      const expected = op === 'add' ? a[i]! + b[i]! : a[i]! / b[i]!;
      if (result[i] !== expected) wrong++;
    }
  }
}

const started = performance.now();
singles(1_000_000, 0);
batchRounds(100, 0);
const baseline = await settle();
let peak = baseline;
const chunk = 1_000_000;
for (let done = 0; done < calls; done += chunk) {
  singles(Math.min(chunk, calls - done), 1_000_000 + done);
  if (done % (chunk * 20) === 0) peak = Math.max(peak, await settle());
}
for (let done = 0; done < batches; done += 100) {
  batchRounds(Math.min(100, batches - done), 100 + done);
  peak = Math.max(peak, await settle());
}
const end = await settle();
calc.close();
const figures = {
  calls,
  batches,
  batchOps: batches * N,
  wrong,
  baselineMiB: Math.round(baseline * 10) / 10,
  peakMiB: Math.round(peak * 10) / 10,
  endMiB: Math.round(end * 10) / 10,
  growthMiB: Math.round((end - baseline) * 10) / 10,
  seconds: Math.round((performance.now() - started) / 100) / 10,
};
console.log(JSON.stringify(figures));
if (wrong !== 0 || end - baseline > boundMiB) {
  console.error(`soak failed: ${wrong} wrong answers, RSS growth ${figures.growthMiB} MiB (bound ${boundMiB})`);
  process.exit(1);
}
