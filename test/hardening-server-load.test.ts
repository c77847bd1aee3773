// nanocalc-test: node-only
// (The server and its Node gRPC clients, not the in-process engine that Bun and Deno change.)
// The real nanocalc-server under load from several client processes at once, with faults injected
// meanwhile (hardening-server-load-child.ts): every answer is checked against the BigInt model,
// the server must keep answering correctly during and after, and its RSS must stay bounded.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CalculatorError } from 'nanocalc';
import { RemoteCalculator } from 'nanocalc/remote';
import { OPS, reference, referenceBatch } from './models/reference.js';
import { pseudoRandomI64 } from './support/helpers.js';
import { startServer, stopAll } from './support/servers.js';
import type { FaultFigures, LoadFigures } from './children/hardening-server-load.js';

after(stopAll);

const CHILD = fileURLToPath(new URL('./children/hardening-server-load.js', import.meta.url));
const LOAD_CLIENTS = 3;
const LOAD_MS = 8_000;
const MAX_MESSAGE_BYTES = 1 << 20;
const RSS_GROWTH_BOUND_MIB = 64;

/** The server's resident set, from /proc/PID/status (VmRSS, in KiB), in MiB. */
function rssMiB(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  assert.ok(match, `no VmRSS for ${pid}`);
  return Number(match[1]) / 1024;
}

/** Runs a child to its end and parses the JSON line it prints; rejects on a non-zero exit. */
function runChild<T>(args: string[]): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), LOAD_MS + 20_000);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`${args[0]} client exited with ${code ?? signal}:\n${stderr}`));
      resolve(JSON.parse(stdout.trim().split('\n').pop()!) as T);
    });
  });
}

/** `rounds` of checked calls through a fresh RemoteCalculator: unary, a batch and a stream each round. */
async function checkedCalls(
  address: string,
  seed: bigint,
  rounds: number,
): Promise<{ calls: number; wrong: string[] }> {
  const random = pseudoRandomI64(seed);
  const next = (): bigint => random.next().value as bigint;
  const calc = new RemoteCalculator(address, { timeoutMs: 10_000 });
  const wrong: string[] = [];
  let calls = 0;
  try {
    for (let round = 0; round < rounds; round++) {
      const op = OPS[round % 5]!;
      const a = next();
      const b = round % 7 === 0 ? 0n : next() % 1000n;
      const want = reference(op, a, b);
      try {
        const got = await calc[op](a, b);
        if (got !== want) wrong.push(`${op}(${a}n, ${b}n) = ${got}, expected ${want}`);
      } catch (error) {
        if (!(want === null && error instanceof CalculatorError && error.code === 'DIVISION_BY_ZERO')) {
          wrong.push(`${op}(${a}n, ${b}n) threw ${String(error)}`);
        }
      }
      const columnA = Array.from({ length: 100 }, next);
      const columnB = Array.from({ length: 100 }, () => next() | 1n);
      const batch = referenceBatch(op, columnA, columnB);
      const values = await calc.batch(op, columnA, columnB);
      if (!('values' in batch) || values.some((v, i) => v !== batch.values[i])) wrong.push(`batch ${op} differs`);
      const stream = calc.stream();
      const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => stream.multiply(BigInt(i), a)));
      for (const [i, v] of answers.entries()) {
        if (v !== reference('multiply', BigInt(i), a)) wrong.push(`stream multiply(${i}, ${a}) = ${v}`);
      }
      await stream.end();
      calls += 2 + 20;
    }
  } finally {
    calc.close();
  }
  return { calls, wrong };
}

test(`nanocalc-server: ${LOAD_CLIENTS} client processes for ${LOAD_MS / 1000} s with faults injected, every answer right, RSS bounded`, async () => {
  const server = await startServer(['--max-message-bytes', String(MAX_MESSAGE_BYTES)]);
  const pid = server.process.pid!;

  const warmUp = await checkedCalls(server.address, 1n, 100);
  assert.deepEqual(warmUp.wrong, [], 'answers before the load');
  const rssBefore = rssMiB(pid);
  let rssPeak = rssBefore;
  const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, rssMiB(pid))), 100);

  const started = performance.now();
  let loads: LoadFigures[];
  let faults: FaultFigures;
  try {
    [faults, ...loads] = await Promise.all([
      runChild<FaultFigures>(['faults', server.address, String(LOAD_MS), '99', String(MAX_MESSAGE_BYTES)]),
      ...Array.from({ length: LOAD_CLIENTS }, (_, i) =>
        runChild<LoadFigures>(['load', server.address, String(LOAD_MS), String(1000 + i)]),
      ),
    ]);
  } finally {
    clearInterval(sampler);
  }
  const seconds = (performance.now() - started) / 1000;

  assert.equal(server.process.exitCode, null, `the server exited during the load; stderr:\n${server.logs}`);
  const afterwards = await checkedCalls(server.address, 2n, 100);
  const rssAfter = rssMiB(pid);

  const checked = loads.reduce((n, f) => n + f.calls + f.batches + f.streamCalls + f.expressions, 0);
  const elements = loads.reduce((n, f) => n + f.batchElements, 0);
  const injected = Object.values(faults.faults).reduce((n, k) => n + k, 0);
  console.log(
    `server load: ${LOAD_CLIENTS} clients, ${seconds.toFixed(1)} s: ${checked} calls checked ` +
      `(${loads.map((f) => `${f.calls}+${f.batches}+${f.streamCalls}+${f.expressions}`).join(' / ')} unary+batches+stream+expressions), ` +
      `${elements} batch elements; ${injected} faults injected ${JSON.stringify(faults.faults)}, ` +
      `${faults.payloadsChecked} malformed payloads answered as the model says, ${faults.closedByServer} raw connections closed by the server; ` +
      `${afterwards.calls} calls checked afterwards; RSS ${rssBefore.toFixed(1)} → peak ${rssPeak.toFixed(1)} → ${rssAfter.toFixed(1)} MiB`,
  );

  for (const f of loads) {
    assert.equal(f.wrong, 0, `wrong answers under load: first ${f.firstProblem}`);
    assert.equal(f.transportErrors, 0, `calls that failed in transport under load: first ${f.firstProblem}`);
    assert.ok(
      f.calls > 100 && f.batches > 5 && f.streamCalls > 256 && f.expressions > 10,
      `too little load: ${JSON.stringify(f)}`,
    );
  }
  assert.equal(faults.wrong, 0, `wrong answers or statuses to faults: first ${faults.firstProblem}`);
  assert.ok(faults.payloadsChecked > 100, `too few malformed payloads: ${faults.payloadsChecked}`);
  assert.ok(
    (faults.faults.oversizedMessage ?? 0) > 0 && (faults.faults.garbageBytes ?? 0) > 0,
    JSON.stringify(faults.faults),
  );
  assert.deepEqual(afterwards.wrong, [], 'answers after the load');
  assert.ok(rssAfter - rssBefore < RSS_GROWTH_BOUND_MIB, `RSS grew from ${rssBefore} to ${rssAfter} MiB`);

  // A clean shutdown: it still finishes what is in flight and exits 0.
  const exit = await server.stop();
  assert.equal(exit.code, 0, `exit ${JSON.stringify(exit)}; stderr:\n${server.logs}`);
  assert.doesNotMatch(server.logs, /panicked/);
});
