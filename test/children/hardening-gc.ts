// Child of hardening-gc.test.ts (run with --expose-gc): creates and drops Calculators without
// close(), so only the addon's finalizer can free their engines and shared buffers (64 KiB each,
// several MiB for the ones that ran a large batch). Prints one JSON line of figures.

import { Calculator } from 'nanocalc';

const count = Number(process.argv[2] ?? 20_000);
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with --expose-gc');
const mib = (): number => process.memoryUsage.rss() / 2 ** 20;

const big = 100_000;
const a = new BigInt64Array(big).fill(3n);
const b = new BigInt64Array(big).fill(4n);
let grown = 0;
let baseline = 0;
let peak = 0;
for (let i = 0; i < count; i++) {
  const calc = new Calculator();
  if (calc.add(i, 1) !== i + 1) throw new Error(`wrong answer from calculator ${i}`);
  if (i % 20 === 0) {
    // Grows this calculator's shared buffer to about 2.4 MiB (the engine then holds the new one),
    // and fills it: with `out` sharing memory with `a`, the columns are copied into the request.
    const sum = a.slice();
    const r = calc.batch('add', sum, b, sum);
    if (r[big - 1] !== 7n) throw new Error('wrong batch answer');
    grown++;
  }
  if (i % 500 === 499) {
    // Node-API runs finalizers from the event loop (queued at GC, drained in setImmediate), as a
    // server's loop would between requests: yield to it, then collect what they released.
    gc();
    await new Promise((resolve) => setImmediate(resolve));
    gc();
    const now = mib();
    if (i === 1_999) baseline = now;
    peak = Math.max(peak, now);
  }
}
gc();
await new Promise((resolve) => setTimeout(resolve, 50));
gc();
const end = mib();
console.log(JSON.stringify({ count, grown, baselineMiB: baseline, peakMiB: peak, endMiB: end }));
if (end - baseline > 100) {
  console.error(`gc: RSS grew by ${Math.round(end - baseline)} MiB after the first 2,000 calculators (bound 100)`);
  process.exit(1);
}
