// nanocalc benchmark: each row's median beside a baseline measured in the same run, and the ratio.
//
//   npm run bench                 full run, prints the table
//   npm run bench -- --quick      fewer samples (the table `npm start` shows)
//   npm run bench -- --json out.json   also writes the rows as JSON
import { writeFileSync } from 'node:fs';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { measure } from 'mitata';
import { Calculator } from 'nanocalc';
import {
  BatchOperationSchema,
  BinaryOpSchema,
  CalculatorRequestSchema,
  CalculatorResponseSchema,
  Operation,
} from '../gen/nanocalc/v1/calculator_pb.js';
import { addInto, addNew, saturatingAdd } from './baselines.js';

interface Row {
  name: string;
  /** Median nanoseconds per operation. */
  ns: number;
  baseline: string;
  baselineNs: number;
}

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const jsonPath = args.includes('--json') ? args[args.indexOf('--json') + 1] : undefined;
const options = quick ? { min_cpu_time: 50e6, max_samples: 200 } : { min_cpu_time: 400e6 };

let sink: unknown;
/** Median ns per operation of `fn`, which performs `ops` operations. */
async function median(fn: () => unknown, ops = 1): Promise<number> {
  const stats = await measure(() => {
    sink = fn();
  }, options);
  return stats.p50 / ops;
}

/** Single calls are timed 1000 at a time, so the harness's own call is spread over them. */
const INNER = 1000;

function column(n: number, seed: number): BigInt64Array {
  const values = new BigInt64Array(n);
  for (let i = 0; i < n; i++) values[i] = BigInt(((i * 7919 + seed) % 2_000_003) - 1_000_000);
  return values;
}

const calc = new Calculator();
const rows: Row[] = [];
async function row(name: string, fn: () => unknown, baseline: string, baseFn: () => unknown, ops = 1): Promise<void> {
  const ns = await median(fn, ops);
  const baselineNs = await median(baseFn, ops);
  rows.push({ name, ns, baseline, baselineNs });
  process.stderr.write(`  measured ${name}\n`);
}

// Operands rotate through a small table so nothing is constant-folded.
const numbers = Array.from({ length: 64 }, (_, i) => (i * 7919) % 1000);
const bigints = numbers.map(BigInt);
let i = 0;

// Every result is kept (in `kept`), so neither side's work can be optimized away.
const kept: unknown[] = new Array(64);
const pureAdd = () => {
  for (let k = 0; k < INNER; k++, i++) kept[k & 63] = saturatingAdd(bigints[i & 63]!, bigints[(i + 1) & 63]!);
};
await row(
  'add(a, b), numbers',
  () => {
    for (let k = 0; k < INNER; k++, i++) kept[k & 63] = calc.add(numbers[i & 63]!, numbers[(i + 1) & 63]!);
  },
  'pure TS BigInt saturating add',
  pureAdd,
  INNER,
);
await row(
  'add(a, b), bigints',
  () => {
    for (let k = 0; k < INNER; k++, i++) kept[k & 63] = calc.add(bigints[i & 63]!, bigints[(i + 1) & 63]!);
  },
  'pure TS BigInt saturating add',
  pureAdd,
  INNER,
);

const addRequest = toBinary(
  CalculatorRequestSchema,
  create(CalculatorRequestSchema, { operation: { case: 'add', value: create(BinaryOpSchema, { a: 2n, b: 3n }) } }),
);
await row(
  'process(add request)',
  () => {
    for (let k = 0; k < INNER; k++) kept[k & 63] = calc.process(addRequest);
  },
  'protobuf-es decode + add + encode',
  () => {
    for (let k = 0; k < INNER; k++) {
      const request = fromBinary(CalculatorRequestSchema, addRequest);
      const operands = request.operation.value as { a: bigint; b: bigint };
      const value = saturatingAdd(operands.a, operands.b);
      kept[k & 63] = toBinary(CalculatorResponseSchema, create(CalculatorResponseSchema, { result: { case: 'value', value } }));
    }
  },
  INNER,
);

for (const n of quick ? [1000] : [1000, 1_000_000]) {
  const a = column(n, 1);
  const b = column(n, 2);
  const out = new BigInt64Array(n);
  const label = n.toLocaleString('en-US');
  await row(`batch('add') ×${label}, new array`, () => calc.batch('add', a, b), 'pure TS loop, new array', () => addNew(a, b), n);
  await row(
    `batch('add') ×${label}, into out`,
    () => calc.batch('add', a, b, out),
    'pure TS loop, into out',
    () => addInto(a, b, out),
    n,
  );
  const rowsRequest = toBinary(
    CalculatorRequestSchema,
    create(CalculatorRequestSchema, {
      operation: {
        case: 'batch',
        value: create(BatchOperationSchema, {
          operation: Operation.ADD,
          operations: Array.from(a, (x, k) => create(BinaryOpSchema, { a: x, b: b[k]! })),
        }),
      },
    }),
  );
  await row(
    `process(row batch) ×${label}`,
    () => calc.process(rowsRequest),
    'pure TS loop over the rows',
    () => {
      const result = new BigInt64Array(n);
      for (let k = 0; k < n; k++) result[k] = saturatingAdd(a[k]!, b[k]!);
      return result;
    },
    n,
  );
}

function format(ns: number): string {
  return ns >= 100 ? ns.toFixed(0) : ns >= 10 ? ns.toFixed(1) : ns.toFixed(2);
}

const header = ['row', 'ns/op', 'baseline', 'ns/op', 'ratio'];
const table = rows.map((r) => [r.name, format(r.ns), r.baseline, format(r.baselineNs), `${(r.ns / r.baselineNs).toFixed(2)}×`]);
const widths = header.map((h, k) => Math.max(h.length, ...table.map((cells) => cells[k]!.length)));
const line = (cells: string[]) => cells.map((c, k) => (k === 1 || k >= 3 ? c.padStart(widths[k]!) : c.padEnd(widths[k]!))).join('  ');
console.log(`\nnanocalc benchmark (medians; ratio = nanocalc / baseline, lower is better)\n`);
console.log(line(header));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const cells of table) console.log(line(cells));
console.log('\nReference: the original Dart + Rust design published 637 ns per call and 219 ns/op in batches of 1000.');
if (jsonPath) {
  writeFileSync(jsonPath, JSON.stringify({ node: process.version, date: new Date().toISOString(), rows }, null, 2));
  console.log(`wrote ${jsonPath}`);
}
if (sink === Symbol.for('never')) console.log(sink);
calc.close();
