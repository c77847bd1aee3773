// Several replicas behind one RemoteCalculator, replicas dying and shutting down under load, and
// the `nanocalc serve` command. Loads are bounded in count and time; only 127.0.0.1 is used.

import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { RemoteCalculator } from 'nanocalc/remote';
import { reference, type Op, OPS } from './models/reference.js';
import { pseudoRandomI64 } from './support/helpers.js';
import { ROOT, type Server, startServer, stopAll } from './support/servers.js';

after(stopAll);

/**
 * Runs `total` calls, `concurrency` at a time, checking every answer against the model; calls
 * `onProgress(done)` as they complete. Resolves to the number of calls answered correctly.
 */
async function load(
  calc: RemoteCalculator,
  total: number,
  concurrency: number,
  onProgress: (done: number) => void,
): Promise<number> {
  const gen = pseudoRandomI64(3n);
  let started = 0;
  let done = 0;
  const worker = async () => {
    while (started < total) {
      const k = started++;
      const op: Op = OPS[k % 4]!; // add, subtract, multiply, divide
      const a = gen.next().value as bigint;
      const b = (gen.next().value as bigint) | 1n; // never zero
      if (k % 50 === 0) {
        const column = BigInt64Array.of(a, b, a);
        const results = await calc.batch(op, column, BigInt64Array.of(b, b, b));
        assert.deepEqual([...results], [reference(op, a, b), reference(op, b, b), reference(op, a, b)]);
      } else {
        assert.equal(await calc[op](a, b), reference(op, a, b), `call ${k}`);
      }
      onProgress(++done);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return done;
}

describe('two replicas', () => {
  test('calls are spread over both replicas, round-robin', async () => {
    const [a, b] = await Promise.all([startServer(['--log-level', 'debug']), startServer(['--log-level', 'debug'])]);
    const calc = new RemoteCalculator([a.address, b.address]);
    try {
      for (let k = 0; k < 20; k++) assert.equal(await calc.add(k, 1), k + 1);
      await new Promise((r) => setTimeout(r, 100));
      const count = (s: Server) => (s.logs.match(/Calculate bytes=/g) ?? []).length;
      assert.equal(count(a), 10);
      assert.equal(count(b), 10);
    } finally {
      calc.close();
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  test("gRPC's own round-robin over a multi-address target (as with a headless Service's DNS name)", async () => {
    const [a, b] = await Promise.all([startServer(['--log-level', 'debug']), startServer(['--log-level', 'debug'])]);
    const target = `ipv4:${a.address},${b.address}`;
    const calc = new RemoteCalculator(target, {
      channelOptions: { 'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }) },
    });
    try {
      for (let k = 0; k < 40; k++) assert.equal(await calc.add(k, 1), k + 1);
      await new Promise((r) => setTimeout(r, 100));
      const count = (s: Server) => (s.logs.match(/Calculate bytes=/g) ?? []).length;
      assert.equal(count(a) + count(b), 40);
      assert.ok(count(a) >= 10 && count(b) >= 10, `spread: ${count(a)} / ${count(b)}`);
    } finally {
      calc.close();
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  test('one replica killed mid-run (SIGKILL): every call is still answered correctly', async () => {
    const [a, b] = await Promise.all([startServer(), startServer()]);
    const calc = new RemoteCalculator([a.address, b.address], { timeoutMs: 10_000 });
    let killed = false;
    try {
      const total = 3_000;
      const answered = await load(calc, total, 24, (done) => {
        if (!killed && done >= 800) {
          killed = true;
          b.process.kill('SIGKILL');
        }
      });
      assert.ok(killed);
      assert.equal(answered, total);
      assert.equal((await b.exited).signal, 'SIGKILL');
    } finally {
      calc.close();
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  test('one replica stopped with SIGTERM under load: no call lost, and it exits 0', async () => {
    const [a, b] = await Promise.all([startServer(), startServer()]);
    const calc = new RemoteCalculator([a.address, b.address], { timeoutMs: 10_000 });
    let stopped: Promise<{ code: number | null; signal: NodeJS.Signals | null }> | undefined;
    try {
      const total = 3_000;
      const answered = await load(calc, total, 24, (done) => {
        if (stopped === undefined && done >= 800) stopped = b.stop();
      });
      assert.equal(answered, total);
      assert.deepEqual(await stopped, { code: 0, signal: null });
      assert.match(b.logs, /every call in flight was answered/);
    } finally {
      calc.close();
      await Promise.all([a.stop(), b.stop()]);
    }
  });
});

describe('a pipelined stream over two replicas', () => {
  for (const [how, signal] of [
    ['SIGTERM', 'SIGTERM'],
    ['SIGKILL', 'SIGKILL'],
  ] as const) {
    test(`its replica stopped with ${how} mid-stream: the unanswered calls move to the other, every call answered in order`, async () => {
      const [a, b] = await Promise.all([startServer(), startServer()]);
      const calc = new RemoteCalculator([a.address, b.address]);
      try {
        const stream = calc.stream();
        const first = stream.endpoint === a.address ? a : b;
        const n = 30_000;
        const answers = Array.from({ length: n }, (_, k) => stream.multiply(k, 3));
        await answers[100];
        first.process.kill(signal);
        const values = await Promise.all(answers);
        for (const [k, v] of values.entries()) assert.equal(v, 3 * k, `call ${k}`);
        assert.notEqual(stream.endpoint, first.address, 'the stream moved to the other replica');
        assert.equal(await stream.add(2, 2), 4, 'and goes on there');
        await stream.end();
        const exit = await first.exited;
        assert.deepEqual(exit, signal === 'SIGTERM' ? { code: 0, signal: null } : { code: null, signal: 'SIGKILL' });
      } finally {
        calc.close();
        await Promise.all([a.stop(), b.stop()]);
      }
    });
  }
});

describe('graceful shutdown of a single server', () => {
  test('SIGTERM with a pipelined stream open: what the server read is answered, the rest refused as UNAVAILABLE, exit 0 at once', async () => {
    const server = await startServer();
    const calc = new RemoteCalculator(server.address, { maxAttempts: 2 });
    try {
      const stream = calc.stream();
      const n = 20_000;
      const answers = Array.from({ length: n }, (_, k) => stream.add(BigInt(k), 1n));
      const settled = Promise.allSettled(answers); // observed now: some will reject
      await answers[0]; // the stream is open and the server is working through it
      const signalled = Date.now();
      server.process.kill('SIGTERM');
      // The stream is not ended by the client: the server must not wait for it.
      assert.deepEqual(await server.exited, { code: 0, signal: null });
      assert.ok(Date.now() - signalled < 5_000, 'the open stream did not hold up the shutdown');
      const outcomes = await settled;
      let answered = 0;
      outcomes.forEach((outcome, k) => {
        if (outcome.status === 'fulfilled') {
          assert.equal(outcome.value, BigInt(k) + 1n);
          assert.equal(answered, k, 'the answered calls are a prefix, in order');
          answered++;
        } else {
          assert.equal((outcome.reason as { status?: string }).status, 'UNAVAILABLE', String(outcome.reason));
        }
      });
      assert.ok(answered >= 1);
      await assert.rejects(stream.end(), (e: unknown) => (e as { status?: string }).status === 'UNAVAILABLE');
      // It no longer accepts connections.
      const late = new RemoteCalculator(server.address, { maxAttempts: 1, timeoutMs: 2_000 });
      await assert.rejects(late.add(1, 1), (e: unknown) => (e as { status?: string }).status === 'UNAVAILABLE');
      late.close();
    } finally {
      calc.close();
      await server.stop();
    }
  });

  test('SIGTERM with large unary batches in flight: every call the server accepted is answered, exit 0', async () => {
    // Debug logs show each call the server has accepted (read in full, handler entered).
    const server = await startServer(['--log-level', 'debug', '--concurrency-limit', '1']);
    const accepted = () => (server.logs.match(/Calculate bytes=/g) ?? []).length;
    const calc = new RemoteCalculator(server.address, { maxAttempts: 1 });
    try {
      const n = 400_000;
      const a = new BigInt64Array(n).fill(5n);
      const first = await calc.batch('add', a, a, undefined); // connection up
      assert.equal(first[n - 1], 10n);
      const calls = Array.from({ length: 6 }, () => calc.batch('multiply', a, a));
      // SIGTERM once the server has accepted at least one of them.
      for (let i = 0; i < 500 && accepted() < 2; i++) await new Promise((r) => setTimeout(r, 2));
      const acceptedAtSignal = accepted() - 1;
      assert.ok(acceptedAtSignal >= 1, 'the server accepted a call before the signal');
      server.process.kill('SIGTERM');
      const outcomes = await Promise.allSettled(calls);
      // Calls the server had accepted are answered; any the client opened after the GOAWAY are
      // refused as UNAVAILABLE (never computed, safe to retry elsewhere), none fail otherwise.
      for (const outcome of outcomes) {
        if (outcome.status === 'fulfilled') assert.ok(outcome.value.every((x) => x === 25n));
        else assert.equal((outcome.reason as { status?: string }).status, 'UNAVAILABLE', String(outcome.reason));
      }
      const answered = outcomes.filter((o) => o.status === 'fulfilled').length;
      assert.ok(answered >= acceptedAtSignal, `${answered} answered, ${acceptedAtSignal} accepted before SIGTERM`);
      assert.deepEqual(await server.exited, { code: 0, signal: null });
    } finally {
      calc.close();
      await server.stop();
    }
  });
});

describe('npx nanocalc serve', () => {
  const cli = join(ROOT, 'dist', 'src', 'cli.js');

  test('starts the server, answers, and forwards SIGTERM (exit 0)', async () => {
    const server = await startServer([], { command: [process.execPath, cli, 'serve'] });
    const calc = new RemoteCalculator(server.address);
    try {
      assert.equal(await calc.multiply(6, 7), 42);
    } finally {
      calc.close();
    }
    assert.deepEqual(await server.stop(), { code: 0, signal: null });
  });

  test('--help lists the commands; serve --help lists the server flags', () => {
    assert.match(execFileSync(process.execPath, [cli, '--help'], { encoding: 'utf8' }), /serve/);
    // As a user runs it: npx finds the package's own bin (--no-install: never the registry).
    const viaNpx = execFileSync('npx', ['--no-install', 'nanocalc', 'serve', '--version'], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.match(viaNpx, /^nanocalc \d+\.\d+\.\d+/);
    const help = execFileSync(process.execPath, [cli, 'serve', '--help'], { encoding: 'utf8' });
    for (const flag of [
      '--addr',
      '--max-message-bytes',
      '--concurrency-limit',
      '--max-concurrent-streams',
      '--max-connections',
      '--max-open-calls',
      '--max-pending-request-bytes',
      '--handshake-timeout-seconds',
      '--tls-cert',
      '--tls-key',
      'NANOCALC_TOKEN',
      '--log-level',
    ]) {
      assert.ok(help.includes(flag), flag);
    }
  });
});
