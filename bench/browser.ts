// The browser row of the benchmark (npm run bench:browser): in headless Chromium, the package's
// browser entry (the TypeScript engine) beside plain BigInt in the same page: `add(a, b)` on
// bigints and on numbers, and `batch('add')` ×1,000 into a new array. Prints medians, ns per op.
import { fileURLToPath } from 'node:url';
import { bundleForBrowser, launchChromium } from '../test/support/chromium.js';
import { addInto, saturatingAdd } from './baselines.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const { code } = await bundleForBrowser({
  stdin: { contents: "import * as nanocalc from 'nanocalc'; globalThis.nanocalc = nanocalc;", resolveDir: root },
});

/** Runs in the page: the medians of 15 rounds of each row, in ns per operation. */
async function measureInPage(baselineSources: string[]): Promise<Record<string, number>> {
  // The baselines are bench/baselines.ts's own functions, sent as source text, with what they use.
  const [saturatingSource, intoSource] = baselineSources as [string, string];
  const saturating = new Function('I64_MIN', 'I64_MAX', `return ${saturatingSource}`)(-(2n ** 63n), 2n ** 63n - 1n) as (
    a: bigint,
    b: bigint,
  ) => bigint;
  const into = new Function('saturatingAdd', `return ${intoSource}`)(saturating) as (
    a: BigInt64Array,
    b: BigInt64Array,
    out: BigInt64Array,
  ) => BigInt64Array;
  const { Calculator } = (globalThis as unknown as { nanocalc: { Calculator: new () => Calc } }).nanocalc;
  interface Calc {
    add(a: bigint, b: bigint): bigint;
    add(a: number, b: number): number;
    batch(op: 'add', a: BigInt64Array, b: BigInt64Array): BigInt64Array;
  }
  const calc = new Calculator();
  const median = (ops: number, run: () => void): number => {
    const rounds: number[] = [];
    for (let r = 0; r < 15; r++) {
      const start = performance.now();
      run();
      rounds.push(((performance.now() - start) * 1e6) / ops);
    }
    return rounds.sort((x, y) => x - y)[7]!;
  };
  const N = 200_000;
  let sink = 0n;
  let numberSink = 0;
  const a = BigInt64Array.from({ length: 1000 }, (_, i) => BigInt(i * 7919 - 500_000));
  const b = BigInt64Array.from({ length: 1000 }, (_, i) => BigInt(i * 104729));
  const rows = {
    'add(a, b), bigints': median(N, () => {
      for (let i = 0; i < N; i++) sink = calc.add(sink & 0xffffn, 3n);
    }),
    'plain BigInt saturating add': median(N, () => {
      for (let i = 0; i < N; i++) sink = saturating(sink & 0xffffn, 3n);
    }),
    'add(a, b), numbers': median(N, () => {
      for (let i = 0; i < N; i++) numberSink = calc.add(numberSink & 0xffff, 3);
    }),
    "batch('add') ×1,000, new array (per element)": median(200 * 1000, () => {
      for (let i = 0; i < 200; i++) calc.batch('add', a, b);
    }),
    'plain BigInt loop ×1,000, new array (per element)': median(200 * 1000, () => {
      for (let i = 0; i < 200; i++) into(a, b, new BigInt64Array(1000));
    }),
  };
  if (sink === -1n || numberSink === -1) throw new Error('unreachable');
  return rows;
}

const browser = await launchChromium();
try {
  const page = await browser.newPage();
  await page.setContent('<!doctype html><title>nanocalc bench</title>');
  await page.addScriptTag({ content: code, type: 'module' });
  await page.waitForFunction(() => 'nanocalc' in globalThis);
  const rows = await page.evaluate(measureInPage, [saturatingAdd.toString(), addInto.toString()]);
  console.log(`Chromium ${browser.version()}, the browser entry (TypeScript engine); medians of 15 rounds`);
  for (const [name, ns] of Object.entries(rows)) console.log(`${name.padEnd(52)} ${ns.toFixed(1).padStart(8)} ns/op`);
} finally {
  await browser.close();
}
