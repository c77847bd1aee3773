// Where the time of `batchAsync('add', a, b)` goes against `batch('add', a, b)` into a new array
// (issue 18: batchAsync ≤ 1.5× batch at 2,000,000 and 20,000,000 elements, the event loop's worst
// gap < 30 ms), on the runtime at hand (Node; Deno and Bun run it too). Each part is measured
// alone with the code batchAsync runs (src/chunks.ts's ChunkBuffer, the engine's runAsync, the
// result array of src/result-arrays.ts), over the same chunks of 262,144 elements:
//
//   batch            batch('add', a, b): the reference (a new array, no copies: the column call)
//   batchAsync       batchAsync('add', a, b), and the event loop's worst gap meanwhile (1 ms timer)
//   allocate         the new result array (newResultArray)
//   new chunks       a new pair of chunk buffers, allocated and written once (their page faults)
//   copy in          every chunk's request written (ChunkBuffer.write: both columns copied)
//   engine, here     every chunk's request run by the engine on this thread (`call`, no hand-off)
//   engine, pool     every chunk's request run through runAsync, one after the other, each awaited
//                    (the kernel plus the hand-off to the pool and back through the event loop)
//   copy out         every chunk's values copied into the result (ChunkBuffer.read)
//   pipeline         batchAsync's own loop (#batchOnPool) re-timed from here: the JavaScript thread's
//                    busy time (copying) and its time waiting for the pool, summed over the chunks
//   no copy out      that pipeline with the values left in the chunks: what a pool writing them
//                    straight into the result would leave to the JavaScript thread (an upper bound)
//
//   node dist/bench/batch-async.js [--quick] [--sizes 2000000,20000000] [--rounds 7]
//   (npm run bench:batch-async)

import { availableParallelism, loadavg } from 'node:os';
import process from 'node:process';
import { Calculator } from 'nanocalc';
import { CHUNK_LENGTH, ChunkBuffer, type ColumnsAsk } from '../src/chunks.js';
import { newResultArray } from '../src/result-arrays.js';
import type { Engine } from '../src/runtime/engine.js';
import { openEngine } from '../src/runtime/open.js';
import { checkOperation } from '../src/validate.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const option = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const sizes = (option('--sizes') ?? (quick ? '2000000' : '2000000,20000000')).split(',').map(Number);
const roundsOption = option('--rounds');
/** Alternating rounds: many, since a new result's memory is fresh (page faults) or reused by turns. */
const roundsFor = (n: number) => Number(roundsOption ?? (quick ? 3 : n >= 10_000_000 ? 5 : 9));

function column(n: number, seed: number): BigInt64Array {
  const values = new BigInt64Array(n);
  for (let i = 0; i < n; i++) values[i] = BigInt(((i * 7919 + seed) % 2_000_003) - 1_000_000);
  return values;
}

function middle(values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  const half = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[half]! : (sorted[half - 1]! + sorted[half]!) / 2;
}

const now = () => performance.now();

/** The parts of one batchAsync of `n`, each timed alone (ms). */
interface Parts {
  allocate: number;
  freshChunks: number;
  copyIn: number;
  engineHere: number;
  enginePool: number;
  copyOut: number;
  /** The re-timed pipeline: total, the JavaScript thread copying, and waiting for the pool. */
  pipeline: number;
  busy: number;
  waiting: number;
  /** The pipeline with the values left in the chunks (no copy out). */
  noCopyOut: number;
}

async function parts(engine: Engine, ask: ColumnsAsk, a: BigInt64Array, b: BigInt64Array, n: number): Promise<Parts> {
  const chunkLength = Math.min(n, CHUNK_LENGTH);
  const chunks = [ChunkBuffer.forLength(chunkLength), ChunkBuffer.forLength(chunkLength)];
  let t = now();
  const result = newResultArray(n);
  const allocate = now() - t;
  // What a new pair of chunk buffers costs, first touch included (batchAsync keeps its pair since
  // ledger row 74; before, every batchAsync made a new one).
  t = now();
  for (const fresh of [ChunkBuffer.forLength(chunkLength), ChunkBuffer.forLength(chunkLength)]) fresh.u8.fill(1);
  const freshChunks = now() - t;
  // Copy in, run here, copy out, over chunk buffers alternating as batchAsync's do.
  let copyIn = 0;
  let engineHere = 0;
  let copyOut = 0;
  for (let from = 0, k = 0; from < n; from += chunkLength, k++) {
    const count = Math.min(chunkLength, n - from);
    const chunk = chunks[k & 1]!;
    t = now();
    chunk.write(ask, a, b, from, count);
    copyIn += now() - t;
    engine.attach(chunk.u8);
    t = now();
    engine.call();
    engineHere += now() - t;
    t = now();
    chunk.read(from, count, result);
    copyOut += now() - t;
  }
  // The same requests through the pool, each awaited (the last chunk's request is in chunks[k & 1]).
  let enginePool = 0;
  for (let from = 0, k = 0; from < n; from += chunkLength, k++) {
    const count = Math.min(chunkLength, n - from);
    const chunk = chunks[k & 1]!;
    chunk.write(ask, a, b, from, count);
    t = now();
    await engine.runAsync(chunk.u8);
    enginePool += now() - t;
  }
  // batchAsync's pipeline (CalculatorCore.#batchOnPool), timed: chunk k + 1 copied in while k runs;
  // and the same with the values left in the chunks (what a pool writing them straight into the
  // result would leave the JavaScript thread: an upper bound of that design's gain).
  const pipelined = async (copyOut: boolean) => {
    let busy = 0;
    let waiting = 0;
    const begun = now();
    const out = newResultArray(n);
    let running: { chunk: ChunkBuffer; from: number; count: number; done: Promise<void> } | undefined;
    for (let from = 0, k = 0; ; k++) {
      let next: typeof running;
      if (from < n) {
        const count = Math.min(chunkLength, n - from);
        const chunk = chunks[k & 1]!;
        t = now();
        chunk.write(ask, a, b, from, count);
        busy += now() - t;
        next = { chunk, from, count, done: engine.runAsync(chunk.u8) };
        from += count;
      }
      if (running !== undefined) {
        t = now();
        await running.done;
        waiting += now() - t;
        t = now();
        if (copyOut) running.chunk.read(running.from, running.count, out);
        busy += now() - t;
      }
      if (next === undefined) break;
      running = next;
    }
    return { took: now() - begun, busy, waiting };
  };
  const { took: pipeline, busy, waiting } = await pipelined(true);
  const { took: noCopyOut } = await pipelined(false);
  return { allocate, freshChunks, copyIn, engineHere, enginePool, copyOut, pipeline, busy, waiting, noCopyOut };
}

/** batchAsync once, with a 1 ms timer: its time and the event loop's worst gap (ms). */
async function timedAsync(calc: Calculator, a: BigInt64Array, b: BigInt64Array) {
  const gaps: number[] = [];
  let last = now();
  const timer = setInterval(() => {
    const t = now();
    gaps.push(t - last);
    last = t;
  }, 1);
  const begun = now();
  last = begun;
  await calc.batchAsync('add', a, b);
  const took = now() - begun;
  clearInterval(timer);
  gaps.push(now() - last);
  return { took, worst: Math.max(...gaps) };
}

function runtimeName(): string {
  const g = globalThis as { Bun?: { version: string }; Deno?: { version: { deno: string } } };
  if (g.Bun !== undefined) return `bun ${g.Bun.version}`;
  if (g.Deno !== undefined) return `deno ${g.Deno.version.deno}`;
  return `node ${process.versions.node}`;
}

const fmt = (ms: number) => (ms >= 10 ? ms.toFixed(1) : ms.toFixed(2));

console.log(
  `batchAsync('add') split, ${runtimeName()}, ${availableParallelism()} threads, load ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}; medians over alternating rounds, ms per batch`,
);
for (const n of sizes) {
  const limits = { maxBatchLength: Math.max(n, 8_000_000), maxRequestBytes: 2 ** 31 - 1 };
  const calc = new Calculator(limits);
  const u8 = new Uint8Array(64 * 1024);
  const engine = openEngine(u8, { ...limits, maxThreads: availableParallelism() }, 'auto');
  const ask: ColumnsAsk = { opValue: checkOperation('add'), overflow: 0 };
  const a = column(n, 3);
  const b = column(n, 4);
  const samples: Record<string, number[]> = {};
  const add = (key: string, ms: number) => {
    samples[key] ??= [];
    samples[key].push(ms);
  };
  // The goal's two sides in turns of `repeat` calls each (steady state, as a caller making many:
  // the collector and the allocator settle as in the bench's loops), alternating, a turn of each
  // discarded first; each side's figure is the median of its calls.
  const repeat = n >= 10_000_000 ? 3 : 9;
  const rounds = roundsFor(n);
  for (let round = -1; round < rounds; round++) {
    for (let k = 0; k < repeat; k++) {
      const t = now();
      calc.batch('add', a, b);
      if (round >= 0) add('batch', now() - t);
    }
    for (let k = 0; k < repeat; k++) {
      const { took, worst } = await timedAsync(calc, a, b);
      if (round >= 0) {
        add('batchAsync', took);
        add('worst gap', worst);
      }
    }
  }
  // The parts, each timed alone.
  for (let round = -1; round < rounds; round++) {
    const p = await parts(engine, ask, a, b, n);
    if (round < 0) continue;
    for (const [key, ms] of Object.entries(p)) add(key, ms);
  }
  const m = (key: string) => middle(samples[key]!);
  const perOp = (key: string) => `${((m(key) * 1e6) / n).toFixed(2)} ns/op`;
  console.log(
    `\n×${n.toLocaleString('en-US')} (${Math.ceil(n / CHUNK_LENGTH)} chunks of ≤ ${CHUNK_LENGTH.toLocaleString('en-US')}; ${rounds} rounds of ${repeat} calls a side)`,
  );
  const lines: [string, string][] = [
    ['batch, new array', `${fmt(m('batch'))} ms (${perOp('batch')})`],
    [
      'batchAsync',
      `${fmt(m('batchAsync'))} ms (${perOp('batchAsync')}), ${(m('batchAsync') / m('batch')).toFixed(2)}× batch; worst event-loop gap ${fmt(m('worst gap'))} ms (max ${fmt(Math.max(...samples['worst gap']!))})`,
    ],
    ['  allocate the result', `${fmt(m('allocate'))} ms`],
    ['  a new pair of chunk buffers', `${fmt(m('freshChunks'))} ms (allocated and first written)`],
    ['  copy in (all chunks)', `${fmt(m('copyIn'))} ms`],
    ['  engine, on this thread', `${fmt(m('engineHere'))} ms`],
    [
      '  engine, through the pool',
      `${fmt(m('enginePool'))} ms (hand-offs: ${fmt(m('enginePool') - m('engineHere'))} ms, ${fmt(((m('enginePool') - m('engineHere')) * 1000) / Math.ceil(n / CHUNK_LENGTH))} µs a chunk)`,
    ],
    ['  copy out (all chunks)', `${fmt(m('copyOut'))} ms`],
    [
      '  pipeline re-timed',
      `${fmt(m('pipeline'))} ms: JavaScript thread copying ${fmt(m('busy'))} ms, waiting for the pool ${fmt(m('waiting'))} ms`,
    ],
    ['  pipeline, no copy out', `${fmt(m('noCopyOut'))} ms (${(m('noCopyOut') / m('batch')).toFixed(2)}× batch)`],
  ];
  const width = Math.max(...lines.map(([k]) => k.length));
  for (const [k, v] of lines) console.log(`${k.padEnd(width)}  ${v}`);
  engine.close();
  calc.close();
}
