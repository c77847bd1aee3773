// nanocalc remote benchmark: RemoteCalculator against real nanocalc-server processes on loopback,
// each row beside its in-process Calculator equivalent measured in the same run (the baseline).
//
//   npm run bench:remote                  1 and 2 replicas, prints the tables
//   npm run bench:remote -- --quick       fewer calls
//   npm run bench:remote -- --json out.json   also writes the rows as JSON (report.ts format)
//
// Beside the client's rows, the server's own capacity: h2load (Debian's nghttp2-client, installed with
// apt-get when missing) sends unary adds to the same server, 4 connections × 32 streams; and the floor
// of a client in Node: hand-framed gRPC unary calls on one `node:http2` session (no RemoteCalculator,
// no retries or deadlines), sequential and 64 in flight. The rows with a goal of issue 17 (64 in
// flight ≥ 50,000 calls/s, sequential p50 ≤ 100 µs and p99 ≤ 1 ms, pipelined stream ≥ 200,000 calls/s,
// batch of 1,000,000 ≥ 50 M ops/s) are marked met (✓) or not (✗). RemoteCalculator is measured with
// its three transports in the same run: 'native' (its client in Rust inside the addon), 'http2' (its
// lean node:http2 client) and 'grpc-js'; the goals are marked on the one-replica rows of the first two.
//   npm run bench:remote -- --transports native,http2   only these transports
//
// The client and every replica share this machine's cores: on a 2-core machine, two replicas
// cannot run faster than one, and the figures are those of the whole system on one box.
import { Calculator } from 'nanocalc';
import { RemoteCalculator } from 'nanocalc/remote';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as http2 from 'node:http2';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatColumns, formatTable, formatTargetSummary, writeReport, type Row } from './report.js';
import { type Server, startServer, stopAll } from '../test/support/servers.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const jsonPath = args.includes('--json') ? args[args.indexOf('--json') + 1] : undefined;
const TRANSPORTS = (
  args.includes('--transports') ? args[args.indexOf('--transports') + 1]!.split(',') : ['native', 'http2', 'grpc-js']
) as Transport[];

const UNARY_CALLS = quick ? 2_000 : 10_000;
const CONCURRENT_CALLS = quick ? 10_000 : 50_000;
const CONCURRENCY = 64;
const STREAM_CALLS = quick ? 20_000 : 200_000;
const COLUMN_N = 1_000_000;
const COLUMN_RUNS = quick ? 3 : 9;

const H2LOAD = '/usr/bin/h2load';
const H2LOAD_CALLS = quick ? 50_000 : 200_000;
/** One gRPC message: the 5-byte prefix, then CalculatorRequest { add { a: 2, b: 3 } }. */
const ADD_FRAME = Uint8Array.of(0, 0, 0, 0, 6, 0x0a, 0x04, 0x08, 0x02, 0x10, 0x03);

/** Issue 17's goals, as ns per call (or per op): the most each row may take. */
const GOAL = {
  p50: 100_000,
  p99: 1_000_000,
  concurrent: 1e9 / 50_000,
  stream: 1e9 / 200_000,
  batch: 1e9 / 50_000_000,
};

const rows: Row[] = [];
const extra: string[][] = [];
let sink: unknown;

/** The client process's CPU time (user + system) since `start`, in µs per call. */
function cpuPerCall(start: NodeJS.CpuUsage, calls: number): number {
  const used = process.cpuUsage(start);
  return (used.user + used.system) / calls;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

function median(values: number[]): number {
  return percentile(
    [...values].sort((x, y) => x - y),
    0.5,
  );
}

function column(n: number, seed: number): BigInt64Array {
  const values = new BigInt64Array(n);
  for (let i = 0; i < n; i++) values[i] = BigInt(((i * 7919 + seed) % 2_000_003) - 1_000_000);
  return values;
}

const local = new Calculator();

/** In-process ns per add, timed a million at a time. */
function localAddNs(): number {
  const runs: number[] = [];
  for (let r = 0; r < 5; r++) {
    const start = process.hrtime.bigint();
    let acc = 0;
    for (let i = 0; i < 1_000_000; i++) acc = local.add(i & 1023, 7);
    runs.push(Number(process.hrtime.bigint() - start) / 1_000_000);
    sink = acc;
  }
  return median(runs);
}

function localBatchNs(a: BigInt64Array, b: BigInt64Array): number {
  const runs: number[] = [];
  for (let r = 0; r < COLUMN_RUNS; r++) {
    const start = process.hrtime.bigint();
    sink = local.batch('add', a, b);
    runs.push(Number(process.hrtime.bigint() - start) / a.length);
  }
  return median(runs);
}

type Transport = 'native' | 'http2' | 'grpc-js';

async function measure(
  transport: Transport,
  replicas: Server[],
  baselineAdd: number,
  baselineBatch: number,
  a: BigInt64Array,
  b: BigInt64Array,
) {
  const label = `${replicas.length} replica${replicas.length > 1 ? 's' : ''}, ${transport}`;
  const calc = new RemoteCalculator(
    replicas.map((s) => s.address),
    { transport },
  );
  try {
    // Unary add, one at a time: the latency of a call.
    for (let i = 0; i < 500; i++) await calc.add(i, 1); // warm-up (connections, JIT)
    const latencies: number[] = [];
    for (let i = 0; i < UNARY_CALLS; i++) {
      const start = process.hrtime.bigint();
      sink = await calc.add(i, 1);
      latencies.push(Number(process.hrtime.bigint() - start));
    }
    latencies.sort((x, y) => x - y);
    const p50 = percentile(latencies, 0.5);
    const p99 = percentile(latencies, 0.99);
    rows.push({
      name: `remote add, sequential, p50, ${label}`,
      ns: p50,
      baseline: 'in-process add',
      baselineNs: baselineAdd,
      ...goal(transport, replicas, GOAL.p50),
    });
    rows.push({
      name: `remote add, sequential, p99, ${label}`,
      ns: p99,
      baseline: 'in-process add',
      baselineNs: baselineAdd,
      ...goal(transport, replicas, GOAL.p99),
    });

    // Unary add, many in flight: throughput of independent calls.
    let next = 0;
    const start = process.hrtime.bigint();
    const cpuStart = process.cpuUsage();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < CONCURRENT_CALLS) sink = await calc.add(next++, 1);
      }),
    );
    const concurrentNs = Number(process.hrtime.bigint() - start) / CONCURRENT_CALLS;
    const concurrentCpu = cpuPerCall(cpuStart, CONCURRENT_CALLS);
    rows.push({
      name: `remote add, ${CONCURRENCY} in flight, ${label}`,
      ns: concurrentNs,
      baseline: 'in-process add',
      baselineNs: baselineAdd,
      ...goal(transport, replicas, GOAL.concurrent),
    });

    // Pipelined streams, one per replica, all requests sent at once.
    const streamStart = process.hrtime.bigint();
    await Promise.all(
      replicas.map(async () => {
        const stream = calc.stream();
        const per = Math.floor(STREAM_CALLS / replicas.length);
        const answers: Promise<number>[] = new Array(per);
        for (let i = 0; i < per; i++) answers[i] = stream.add(i, 1);
        sink = await Promise.all(answers);
        await stream.end();
      }),
    );
    const streamNs = Number(process.hrtime.bigint() - streamStart) / STREAM_CALLS;
    rows.push({
      name: `remote add, pipelined stream, ${label}`,
      ns: streamNs,
      baseline: 'in-process add',
      baselineNs: baselineAdd,
      ...goal(transport, replicas, GOAL.stream),
    });

    // A column batch of 1,000,000 (split into parallel column requests over the replicas).
    sink = await calc.batch('add', a, b);
    const batchRuns: number[] = [];
    for (let r = 0; r < COLUMN_RUNS; r++) {
      const t = process.hrtime.bigint();
      sink = await calc.batch('add', a, b);
      batchRuns.push(Number(process.hrtime.bigint() - t) / COLUMN_N);
    }
    const batchNs = median(batchRuns);
    rows.push({
      name: `remote batch('add') ×1,000,000, ${label}`,
      ns: batchNs,
      baseline: "in-process batch('add') ×1,000,000",
      baselineNs: baselineBatch,
      ...goal(transport, replicas, GOAL.batch),
    });

    const opsPerSecond = (ns: number) => Math.round(1e9 / ns).toLocaleString('en-US');
    extra.push([
      label,
      `${(p50 / 1000).toFixed(1)} µs`,
      `${(p99 / 1000).toFixed(1)} µs`,
      opsPerSecond(concurrentNs),
      `${concurrentCpu.toFixed(1)} µs`,
      opsPerSecond(streamNs),
      opsPerSecond(batchNs),
    ]);
    process.stderr.write(`  measured ${label}\n`);
  } finally {
    calc.close();
  }
}

/**
 * The goal of a RemoteCalculator row: on the one-replica rows of the 'native' and 'http2' transports
 * (the goals are for one server; grpc-js is measured beside them).
 */
function goal(transport: Transport, replicas: Server[], maxNs: number): Pick<Row, 'target'> {
  return replicas.length === 1 && transport !== 'grpc-js' ? { target: { maxNs } } : {};
}

/** One hand-framed gRPC unary add on `session`: resolves once the trailers say grpc-status 0. */
function rawAdd(session: http2.ClientHttp2Session, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const stream = session.request({
      ':method': 'POST',
      ':path': path,
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    let bytes = 0;
    stream.on('data', (chunk: Buffer) => (bytes += chunk.length));
    stream.on('trailers', (trailers) => {
      if (trailers['grpc-status'] === '0' && bytes > 5) resolve();
      else reject(new Error(`grpc-status ${String(trailers['grpc-status'])}`));
    });
    stream.on('error', reject);
    stream.on('close', () => reject(new Error('closed without trailers')));
    stream.end(ADD_FRAME);
  });
}

/**
 * The floor of a gRPC client in Node: unary adds hand-framed on one `node:http2` session, sequential
 * (p50, p99) and 64 in flight, against the same server.
 */
async function rawHttp2Floor(server: Server, baselineAdd: number): Promise<void> {
  const session = http2.connect(`http://${server.address}`);
  const path = '/nanocalc.v1.CalculatorService/Calculate';
  try {
    for (let i = 0; i < 500; i++) await rawAdd(session, path);
    const latencies: number[] = [];
    for (let i = 0; i < UNARY_CALLS; i++) {
      const start = process.hrtime.bigint();
      await rawAdd(session, path);
      latencies.push(Number(process.hrtime.bigint() - start));
    }
    latencies.sort((x, y) => x - y);
    let next = 0;
    const start = process.hrtime.bigint();
    const cpuStart = process.cpuUsage();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next++ < CONCURRENT_CALLS) await rawAdd(session, path);
      }),
    );
    const concurrentNs = Number(process.hrtime.bigint() - start) / CONCURRENT_CALLS;
    const concurrentCpu = cpuPerCall(cpuStart, CONCURRENT_CALLS);
    const row = (name: string, ns: number) =>
      rows.push({
        name: `floor: node:http2 hand-framed add, ${name}, 1 replica`,
        ns,
        baseline: 'in-process add',
        baselineNs: baselineAdd,
      });
    row('sequential, p50', percentile(latencies, 0.5));
    row('sequential, p99', percentile(latencies, 0.99));
    row(`${CONCURRENCY} in flight`, concurrentNs);
    floor = {
      p50: percentile(latencies, 0.5),
      p99: percentile(latencies, 0.99),
      concurrent: concurrentNs,
      cpu: concurrentCpu,
    };
  } finally {
    session.close();
  }
}

/** h2load's unary add calls/s against `server` (installing nghttp2-client when missing). */
function h2loadCallsPerSecond(server: Server): number {
  if (!existsSync(H2LOAD)) {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    execFileSync('apt-get', ['update'], { stdio: 'ignore', env });
    execFileSync('apt-get', ['install', '-y', 'nghttp2-client'], { stdio: 'ignore', env });
  }
  const dir = mkdtempSync(join(tmpdir(), 'nanocalc-h2load-'));
  try {
    const body = join(dir, 'add.bin');
    writeFileSync(body, ADD_FRAME);
    const url = `http://${server.address}/nanocalc.v1.CalculatorService/Calculate`;
    const headers = ['-H', 'content-type: application/grpc', '-H', 'te: trailers'];
    const args = ['-n', `${H2LOAD_CALLS}`, '-c', '4', '-m', '32', ...headers, '-d', body, url];
    const out = execFileSync(H2LOAD, args, { encoding: 'utf8' });
    const succeeded = /(\d+) succeeded/.exec(out)?.[1];
    const rate = /finished in [^,]+, ([\d.]+) req\/s/.exec(out)?.[1];
    if (rate === undefined || Number(succeeded) !== H2LOAD_CALLS) throw new Error(`h2load failed:\n${out}`);
    return Number(rate);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

let serverCapacity: number | undefined;
let floor: { p50: number; p99: number; concurrent: number; cpu: number } | undefined;

const a = column(COLUMN_N, 1);
const b = column(COLUMN_N, 2);
const baselineAdd = localAddNs();
const baselineBatch = localBatchNs(a, b);
try {
  for (const count of [1, 2]) {
    const replicas = await Promise.all(Array.from({ length: count }, () => startServer(['--log-level', 'warn'])));
    for (const transport of TRANSPORTS) {
      await measure(transport, replicas, baselineAdd, baselineBatch, a, b);
    }
    if (count === 1) {
      await rawHttp2Floor(replicas[0]!, baselineAdd);
      process.stderr.write('  measured the node:http2 floor\n');
      serverCapacity = h2loadCallsPerSecond(replicas[0]!);
      rows.push({
        name: 'server capacity: h2load unary add, 4 connections × 32 streams, 1 replica',
        ns: 1e9 / serverCapacity,
        baseline: 'in-process add',
        baselineNs: baselineAdd,
      });
      process.stderr.write('  measured the server with h2load\n');
    }
    await Promise.all(replicas.map((s) => s.stop()));
  }
} finally {
  await stopAll();
  local.close();
}

console.log(`\nnanocalc remote benchmark (gRPC over loopback; ratio = remote / in-process, lower is better)\n`);
console.log(formatTable(rows));
console.log('\nThe same as throughput and latency:\n');
console.log(
  formatColumns(
    [
      'replicas, transport',
      'add p50',
      'add p99',
      `add ×${CONCURRENCY} in flight, ops/s`,
      'client CPU per call there',
      'pipelined stream, ops/s',
      'batch ×1M, ops/s',
    ],
    extra,
    [false, true, true, true, true, true, true],
  ),
);
console.log(
  `\nin-process: add ${baselineAdd.toFixed(1)} ns, batch ×1M ${baselineBatch.toFixed(2)} ns/op (${Math.round(1e9 / baselineBatch).toLocaleString('en-US')} ops/s)`,
);
if (serverCapacity !== undefined) {
  console.log(
    `server capacity (h2load, the same server, 4 connections × 32 streams): ${Math.round(serverCapacity).toLocaleString('en-US')} unary calls/s`,
  );
}
if (floor !== undefined) {
  console.log(
    `floor (node:http2, hand-framed unary add on one session): p50 ${(floor.p50 / 1000).toFixed(1)} µs, p99 ${(floor.p99 / 1000).toFixed(1)} µs, ${CONCURRENCY} in flight ${Math.round(1e9 / floor.concurrent).toLocaleString('en-US')} calls/s (client CPU ${floor.cpu.toFixed(1)} µs per call)`,
  );
}
console.log(
  `issue 17's goals (1 replica: ${CONCURRENCY} in flight ≥ 50,000 calls/s, p50 ≤ 100 µs, p99 ≤ 1 ms, stream ≥ 200,000 calls/s, batch ≥ 50 M ops/s), ${formatTargetSummary(rows)}; load average ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
);
if (jsonPath) {
  writeReport(jsonPath, rows);
  console.log(`wrote ${jsonPath}`);
}
if (sink === Symbol.for('never')) console.log(sink);
