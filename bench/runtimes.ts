// nanocalc on each JavaScript runtime: individual add, batch of 1000 and batch of 1,000,000, each
// through the runtime's default path (bun:ffi on Bun, Deno.dlopen on Deno, Node-API on Node),
// through the Node-API addon forced on the same runtime, and beside the same runtime's
// pure-TypeScript baseline, so the gain of each FFI is measured on that runtime, not assumed.
// Single calls also stand beside their floor, a no-op crossing of the same path (bench/floors.ts),
// and the rows with a goal of issue 18 say whether it is met (✓/✗). A second table splits one
// `add(a, b)` on the default path into its parts (bench/split.ts), each a difference in one run.
//
//   npm run bench:runtimes             runs this file under node, bun and deno, prints one table
//   npm run bench:runtimes -- --quick  fewer samples
//   npm run bench:runtimes -- --json out.json   also writes the rows as JSON
//   npm run bench:runtimes -- --split  the split of add(a, b) only (bench/split.ts)
//
// Each runtime runs `dist/bench/runtimes.js --measure` and prints its rows as JSON; the driver
// (under Node) collects and prints them.

import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { measure } from 'mitata';
import { Calculator } from 'nanocalc';
import { addNew, saturatingAdd } from './baselines.js';
import { ffiFloor, nodeApiFloor } from './floors.js';
import { SPLIT_STEPS, type SplitStep, splitLoops } from './split.js';

interface RuntimeRow {
  runtime: string;
  version: string;
  row: string;
  /** ns/op through the runtime's default path (its FFI on Bun and Deno). */
  auto: number;
  autoPath: string;
  /** ns/op through the Node-API addon on the same runtime (undefined on Node: the default path). */
  nodeApi?: number;
  /** ns/op of the pure-TypeScript baseline on the same runtime. */
  pureTs: number;
  /** Single calls: ns of a no-op crossing on the default path (bench/floors.ts), and what it is. */
  floor?: number;
  floorLabel?: string;
  /** Single calls on Bun and Deno: ns of the Node-API floor on the same runtime. */
  nodeApiFloor?: number;
  /** What the row is held to (issue 18), each goal with ✓ or ✗; empty when it has none. */
  goals?: string[];
}

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const splitOnly = args.includes('--split');
const INNER = 1000;

let sink: unknown;
async function median(fn: () => unknown, ops: number): Promise<number> {
  const stats = await measure(
    () => {
      sink = fn();
    },
    quick ? { min_cpu_time: 50e6, max_samples: 200 } : { min_cpu_time: 300e6 },
  );
  return stats.p50 / ops;
}

function column(n: number, seed: number): BigInt64Array {
  const values = new BigInt64Array(n);
  for (let i = 0; i < n; i++) values[i] = BigInt(((i * 7919 + seed) % 2_000_003) - 1_000_000);
  return values;
}

function runtimeName(): { runtime: string; version: string } {
  const g = globalThis as { Bun?: { version: string }; Deno?: { version: { deno: string } } };
  if (g.Bun !== undefined) return { runtime: 'bun', version: g.Bun.version };
  if (g.Deno !== undefined) return { runtime: 'deno', version: g.Deno.version.deno };
  return { runtime: 'node', version: process.versions.node };
}

/** Each side of a row is measured in this many turns, alternating, and its figure is the median. */
const ROUNDS = quick ? 1 : 3;

function middle(values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  const half = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[half]! : (sorted[half - 1]! + sorted[half]!) / 2;
}

/** Issue 18's goals for a row of `runtime`, each marked met (✓) or not (✗). */
function goalsOf(runtime: string, r: RuntimeRow): string[] {
  const mark = (ok: boolean) => (ok ? '✓' : '✗');
  const goals: string[] = [];
  const single = r.row.startsWith('add(');
  if (single && r.floor !== undefined && (runtime === 'deno' || runtime === 'bun')) {
    const bound = runtime === 'deno' ? 2 : 2.5;
    goals.push(`≤ ${bound}× floor ${mark(r.auto <= bound * r.floor)}`);
    if (runtime === 'bun') goals.push(`< pure TS ${mark(r.auto < r.pureTs)}`);
  }
  if (r.nodeApi !== undefined) {
    // The default path is the fastest measured (single calls), within 1.1× of the best (batches).
    goals.push(single ? `fastest path ${mark(r.auto <= r.nodeApi)}` : `≤ 1.1× best ${mark(r.auto <= 1.1 * r.nodeApi)}`);
  }
  return goals;
}

/** The split of one `add(a, b)` with numbers on a runtime's default path (bench/split.ts): ns per call. */
interface SplitRow {
  runtime: string;
  version: string;
  path: string;
  steps: Record<SplitStep, number>;
}

/** Each side alternating with the others, a warm-up turn discarded; the median of its turns. */
async function alternate(sides: readonly (readonly [string, () => unknown])[], ops: number, rounds: number) {
  const samples = new Map<string, number[]>(sides.map(([side]) => [side, []]));
  for (const [, fn] of sides) await median(fn, ops);
  for (let round = 0; round < rounds; round++) {
    for (const [side, fn] of sides) samples.get(side)!.push(await median(fn, ops));
  }
  return (side: string) => (samples.has(side) ? middle(samples.get(side)!) : undefined);
}

/** Measures the split of `add(a, b)` on this runtime's default path, its steps alternating. */
async function measureSplit(): Promise<SplitRow> {
  const { runtime, version } = runtimeName();
  const calc = new Calculator();
  const kept: unknown[] = new Array(64);
  const { loops, close } = splitLoops(calc, ffiFloor() ?? nodeApiFloor(), kept);
  // More turns than the other rows: each step is read as a difference of two figures.
  const figure = await alternate(
    SPLIT_STEPS.map((step) => [step, loops[step]] as const),
    INNER,
    quick ? 1 : 2 * ROUNDS - 1,
  );
  const steps = Object.fromEntries(SPLIT_STEPS.map((step) => [step, figure(step)!])) as Record<SplitStep, number>;
  close();
  calc.close();
  process.stderr.write(`  ${runtime}: measured the split of add(a, b)\n`);
  return { runtime, version, path: calc.runtime, steps };
}

/** Measures this runtime's rows. */
async function measureRows(): Promise<RuntimeRow[]> {
  const { runtime, version } = runtimeName();
  const auto = new Calculator();
  const addon = auto.runtime === 'node-api' ? undefined : new Calculator({ runtime: 'node-api' });
  const numbers = Array.from({ length: 64 }, (_, i) => (i * 7919) % 1000);
  const bigints = numbers.map(BigInt);
  const kept: unknown[] = new Array(64);
  let i = 0;
  // The same loop shape for each: 1000 single adds, every result kept.
  const adds = (c: Calculator) => () => {
    for (let k = 0; k < INNER; k++, i++) kept[k & 63] = c.add(numbers[i & 63]!, numbers[(i + 1) & 63]!);
  };
  const pureAdd = () => {
    for (let k = 0; k < INNER; k++, i++) kept[k & 63] = saturatingAdd(bigints[i & 63]!, bigints[(i + 1) & 63]!);
  };
  // The floors, in the same loop shape.
  const napiFloor = nodeApiFloor();
  const defaultFloor = ffiFloor() ?? napiFloor;
  // Two loops written out, not one made twice: closures of one function share its call sites'
  // feedback, and a call site that has seen two targets is polymorphic (on Deno, no fast call).
  const defaultFloorCall = defaultFloor.call;
  const defaultFloorLoop = () => {
    for (let k = 0; k < INNER; k++) defaultFloorCall();
  };
  const napiFloorCall = napiFloor.call;
  const napiFloorLoop = () => {
    for (let k = 0; k < INNER; k++) napiFloorCall();
  };
  const rows: RuntimeRow[] = [];
  const row = async (
    name: string,
    run: (c: Calculator) => () => unknown,
    pure: () => unknown,
    ops: number,
    single: boolean,
  ) => {
    const sides: [string, () => unknown][] = [
      ['auto', run(auto)],
      ...(addon === undefined ? [] : [['nodeApi', run(addon)] as [string, () => unknown]]),
      ['pureTs', pure],
      ...(single ? [['floor', defaultFloorLoop] as [string, () => unknown]] : []),
      ...(single && addon !== undefined ? [['nodeApiFloor', napiFloorLoop] as [string, () => unknown]] : []),
    ];
    // A warm-up turn, discarded; then the sides alternate, so drift falls on all of them alike.
    const figure = await alternate(sides, ops, ROUNDS);
    const r: RuntimeRow = { runtime, version, row: name, auto: figure('auto')!, autoPath: auto.runtime, pureTs: 0 };
    const nodeApi = figure('nodeApi');
    if (nodeApi !== undefined) r.nodeApi = nodeApi;
    r.pureTs = figure('pureTs')!;
    if (single) {
      r.floor = figure('floor')!;
      r.floorLabel = defaultFloor.label;
      const napi = figure('nodeApiFloor');
      if (napi !== undefined) r.nodeApiFloor = napi;
    }
    r.goals = goalsOf(runtime, r);
    rows.push(r);
    process.stderr.write(`  ${runtime}: measured ${name}\n`);
  };
  await row('add(a, b), numbers', adds, pureAdd, INNER, true);
  for (const n of [1000, 1_000_000]) {
    const a = column(n, 1);
    const b = column(n, 2);
    await row(
      `batch('add') ×${n.toLocaleString('en-US')}, new array`,
      (c) => () => c.batch('add', a, b),
      () => addNew(a, b),
      n,
      false,
    );
  }
  auto.close();
  addon?.close();
  void sink;
  return rows;
}

function formatNs(ns: number | undefined): string {
  if (ns === undefined) return '—';
  if (ns >= 100) return Math.round(ns).toLocaleString('en-US');
  return ns >= 10 ? ns.toFixed(1) : ns.toFixed(2);
}

function formatTable(rows: readonly RuntimeRow[]): string {
  const header = [
    'runtime',
    'row',
    'default path',
    'ns/op',
    'Node-API ns/op',
    'pure TS ns/op',
    'floor ns',
    'default / floor',
    'Node-API / its floor',
    'default / pure TS',
    'Node-API / default',
    'goals (issue 18)',
  ];
  const body = rows.map((r) => [
    `${r.runtime} ${r.version}`,
    r.row,
    r.autoPath,
    formatNs(r.auto),
    formatNs(r.nodeApi),
    formatNs(r.pureTs),
    formatNs(r.floor),
    r.floor === undefined ? '—' : `${(r.auto / r.floor).toFixed(2)}×`,
    r.nodeApi === undefined || r.nodeApiFloor === undefined ? '—' : `${(r.nodeApi / r.nodeApiFloor).toFixed(2)}×`,
    `${(r.auto / r.pureTs).toFixed(2)}×`,
    r.nodeApi === undefined ? '—' : `${(r.nodeApi / r.auto).toFixed(2)}×`,
    (r.goals ?? []).join(', '),
  ]);
  const right = [false, false, false, true, true, true, true, true, true, true, true, false];
  const widths = header.map((h, k) => Math.max(h.length, ...body.map((cells) => cells[k]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, k) => (right[k] ? c.padStart(widths[k]!) : c.padEnd(widths[k]!)))
      .join('  ')
      .trimEnd();
  const floors = [
    ...new Set(rows.flatMap((r) => (r.floorLabel === undefined ? [] : [`${r.runtime}: ${r.floorLabel}`]))),
  ];
  const goals = rows.flatMap((r) => r.goals ?? []);
  const met = rows.filter((r) => (r.goals ?? []).length > 0 && !(r.goals ?? []).some((g) => g.endsWith('✗')));
  return [
    line(header),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...body.map(line),
    '',
    `floors (a no-op crossing of the default path): ${floors.join('; ')}`,
    `goals met: ${goals.filter((g) => g.endsWith('✓')).length} of ${goals.length}; rows meeting all theirs: ${met.length} of ${rows.filter((r) => (r.goals ?? []).length > 0).length}`,
  ].join('\n');
}

/** The split table: each step's figure and what it adds to the step before (ns per call). */
function formatSplit(splits: readonly SplitRow[]): string {
  const header = ['runtime', 'path', ...SPLIT_STEPS.map((s) => `${s} ns`), 'add / floor', 'add / pure TS'];
  const body = splits.map((r) => [
    `${r.runtime} ${r.version}`,
    r.path,
    ...SPLIT_STEPS.map((step, k) => {
      const ns = r.steps[step];
      // Each step from `engine` to `add` adds one part to the one before it.
      const before = k >= 1 && k < SPLIT_STEPS.length - 1 ? r.steps[SPLIT_STEPS[k - 1]!] : undefined;
      const delta = before === undefined ? '' : ` (${ns - before >= 0 ? '+' : '−'}${formatNs(Math.abs(ns - before))})`;
      return `${formatNs(ns)}${delta}`;
    }),
    `${(r.steps.add / r.steps.floor).toFixed(2)}×`,
    `${(r.steps.add / r.steps['pure TS']).toFixed(2)}×`,
  ]);
  const widths = header.map((h, k) => Math.max(h.length, ...body.map((cells) => cells[k]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, k) => (k < 2 ? c.padEnd(widths[k]!) : c.padStart(widths[k]!)))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

async function drive(): Promise<void> {
  // Imported here so the measuring runs (under Bun and Deno) load nothing of the test tree.
  const { runtimeBinary } = await import('../test/runtimes/run.js');
  const self = fileURLToPath(import.meta.url);
  const flags = ['--measure', ...(quick ? ['--quick'] : []), ...(splitOnly ? ['--split'] : [])];
  const commands: [string, string, string[]][] = [
    ['node', process.execPath, [self, ...flags]],
    ['bun', runtimeBinary('bun'), [self, ...flags]],
    [
      'deno',
      runtimeBinary('deno'),
      ['run', '--allow-ffi', '--allow-read', '--allow-env', '--allow-sys', self, ...flags],
    ],
  ];
  const rows: RuntimeRow[] = [];
  const splits: SplitRow[] = [];
  for (const [name, binary, argv] of commands) {
    process.stderr.write(`${name}: ${binary}\n`);
    const out = execFileSync(binary, argv, {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, NO_COLOR: '1' },
    });
    const measured = JSON.parse(out.trim().split('\n').pop()!) as { rows: RuntimeRow[]; split: SplitRow };
    rows.push(...measured.rows);
    splits.push(measured.split);
  }
  console.log(
    '\nnanocalc per runtime (medians, ns per operation; each runtime beside its own pure-TypeScript baseline)\n',
  );
  if (rows.length > 0) console.log(formatTable(rows));
  console.log(
    '\nadd(a, b) with numbers, split (ns per call, medians of alternating turns; in brackets what each step adds to the one before):\n' +
      '  floor: a no-op crossing; engine: the engine call with an add request already in the buffer; + encode, same operands:\n' +
      '  the TypeScript encoder first, always 123 + 456; + encode: the operands of the other loops; + decode: the answer\n' +
      '  decoded; add: calculator.add(a, b); pure TS: the BigInt saturating add (bench/split.ts)\n',
  );
  console.log(formatSplit(splits));
  const json = args.includes('--json') ? args[args.indexOf('--json') + 1] : undefined;
  if (json !== undefined)
    writeFileSync(
      json,
      `${JSON.stringify({ date: new Date().toISOString(), loadavg: loadavg(), rows, split: splits }, null, 2)}\n`,
    );
}

if (args.includes('--measure')) {
  const split = await measureSplit();
  console.log(JSON.stringify({ rows: splitOnly ? [] : await measureRows(), split }));
} else {
  await drive();
}
