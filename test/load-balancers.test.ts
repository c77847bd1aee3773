// deploy/nginx.conf and deploy/haproxy.cfg, run for real: three nanocalc-server replicas and the
// proxy on 127.0.0.1 (the shipped file with its addresses replaced by free ports), driven by
// RemoteCalculator and `buf curl`. Calls spread over every replica (counted from each replica's
// /metrics), the largest batch the defaults allow passes, an idle stream lives as long as the
// configured timeout says, a rolling restart under load (SIGKILL) fails no call, and one
// replica SIGKILLed and another SIGTERMed under load leave every answer right. nginx and haproxy are installed with apt-get when missing.
// nanocalc-test: node-only

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RemoteCalculator, RemoteError } from 'nanocalc/remote';
import { reference, type Op, OPS } from './models/reference.js';
import { pseudoRandomI64 } from './support/helpers.js';
import {
  ROOT,
  type Server,
  handledCalls,
  metric,
  scrapeMetrics,
  startServerWithMetrics,
  stopAll,
} from './support/servers.js';

const NGINX = '/usr/sbin/nginx';
const HAPROXY = '/usr/sbin/haproxy';
const BUF = join(ROOT, 'node_modules', '.bin', 'buf');
/** The replica addresses written in the shipped files, replaced by the test's. */
const SHIPPED_REPLICAS = ['127.0.0.1:50051', '127.0.0.1:50052', '127.0.0.1:50053'];
/** The largest column batch the defaults allow in one request (64 MiB, --max-message-bytes). */
const LARGEST_BATCH = 4_194_302;
/** How long the idle stream waits: above the test-only short timeout, below the shipped one. */
const IDLE_MS = 3_000;
/** Replicas killed and restarted in turn: how many, and the time after a replica is back before the next dies. */
const RESTART_ROUNDS = 6;
const ROUND_MS = 300;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Installs nginx and haproxy with apt-get when missing (a fresh machine). */
function ensureProxiesInstalled(): void {
  const missing = [
    [NGINX, 'nginx'],
    [HAPROXY, 'haproxy'],
  ].filter(([path]) => !existsSync(path!));
  if (missing.length === 0) return;
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update'], { stdio: 'ignore', env });
  execFileSync('apt-get', ['install', '-y', ...missing.map(([, pkg]) => pkg!)], { stdio: 'ignore', env });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

interface Proxy {
  address: string;
  /** What the proxy logged so far (its access log for nginx, stdout for haproxy). */
  logs(): string;
  stop(): Promise<void>;
}

const proxies = new Set<Proxy>();

interface ProxyKind {
  name: string;
  file: string;
  /** The shipped file with the test's replicas, port and directory (and test-only overrides). */
  render(text: string, replicas: string[], port: number, dir: string, shortTimeouts: boolean): string;
  command(dir: string): [string, string[]];
  logs(dir: string, output: string): string;
}

const NGINX_KIND: ProxyKind = {
  name: 'nginx',
  file: 'nginx.conf',
  render(text, _replicas, port, dir, shortTimeouts) {
    let rendered = text.replace('listen 127.0.0.1:8080', `listen 127.0.0.1:${port}`);
    rendered = rendered.replaceAll('/var/log/nginx/', `${dir}/`);
    if (shortTimeouts)
      rendered = rendered.replace(/(client_body_timeout|grpc_read_timeout|grpc_send_timeout) 1h;/g, '$1 1s;');
    return rendered;
  },
  command: (dir) => [
    NGINX,
    [
      '-p',
      `${dir}/`,
      '-c',
      join(dir, 'proxy.conf'),
      '-e',
      join(dir, 'error.log'),
      '-g',
      `daemon off; master_process off; pid ${dir}/nginx.pid;`,
    ],
  ],
  logs: (dir) => {
    const path = join(dir, 'nanocalc-access.log');
    return existsSync(path) ? readFileSync(path, 'utf8') : '';
  },
};

const HAPROXY_KIND: ProxyKind = {
  name: 'haproxy',
  file: 'haproxy.cfg',
  render(text, _replicas, port, _dir, shortTimeouts) {
    let rendered = text.replace('bind 127.0.0.1:8081', `bind 127.0.0.1:${port}`);
    if (shortTimeouts) rendered = rendered.replace(/timeout (client|server) 1h/g, 'timeout $1 1s');
    return rendered;
  },
  command: (dir) => [HAPROXY, ['-db', '-f', join(dir, 'proxy.conf')]],
  logs: (_dir, output) => output,
};

async function startProxy(kind: ProxyKind, replicas: string[], shortTimeouts = false): Promise<Proxy> {
  const dir = mkdtempSync(join(tmpdir(), `nanocalc-${kind.name}-`));
  const port = await freePort();
  let text = readFileSync(join(ROOT, 'deploy', kind.file), 'utf8');
  SHIPPED_REPLICAS.forEach((shipped, i) => {
    assert.ok(text.includes(shipped), `${kind.file} names ${shipped}`);
    text = text.replace(shipped, replicas[i]!);
  });
  writeFileSync(join(dir, 'proxy.conf'), kind.render(text, replicas, port, dir, shortTimeouts));
  const [command, args] = kind.command(dir);
  const child: ChildProcess = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const proxy: Proxy = {
    address: `127.0.0.1:${port}`,
    logs: () => kind.logs(dir, output),
    async stop() {
      proxies.delete(proxy);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 3_000);
        await exited;
        clearTimeout(killer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  proxies.add(proxy);
  for (let i = 0; i < 200 && child.exitCode === null; i++) {
    if (await accepts(port)) return proxy;
    await new Promise((r) => setTimeout(r, 25));
  }
  const logs = `${output}${existsSync(join(dir, 'error.log')) ? readFileSync(join(dir, 'error.log'), 'utf8') : ''}`;
  await proxy.stop();
  throw new Error(`${kind.name} did not start listening on ${port}:\n${logs}`);
}

after(async () => {
  await Promise.all([...proxies].map((proxy) => proxy.stop()));
  await stopAll();
});

/** `buf curl` through the proxy (reflection included): one Calculate call, its JSON answer. */
function bufCurl(address: string, body: object): unknown {
  const url = `http://${address}/nanocalc.v1.CalculatorService/Calculate`;
  const out = execFileSync(
    BUF,
    ['curl', '--protocol', 'grpc', '--http2-prior-knowledge', '-d', JSON.stringify(body), url],
    {
      encoding: 'utf8',
      timeout: 30_000,
    },
  );
  return JSON.parse(out);
}

async function sumOver(replicas: Server[], read: (samples: Awaited<ReturnType<typeof scrapeMetrics>>) => number) {
  const values = await Promise.all(replicas.map(async (r) => read(await scrapeMetrics(r.metricsAddress!))));
  return values;
}

for (const kind of [NGINX_KIND, HAPROXY_KIND]) {
  describe(`behind ${kind.name} (deploy/${kind.file})`, () => {
    let replicas: Server[];
    let proxy: Proxy;
    before(async () => {
      ensureProxiesInstalled();
      replicas = await Promise.all([0, 1, 2].map(() => startServerWithMetrics(['--shutdown-grace-seconds', '5'])));
      proxy = await startProxy(
        kind,
        replicas.map((r) => r.address),
      );
    });
    after(async () => {
      await proxy?.stop();
      await Promise.all((replicas ?? []).map((r) => r.stop(2_000)));
    });

    test('calls from RemoteCalculator and buf curl spread over every replica', async () => {
      const calc = new RemoteCalculator(proxy.address);
      const calls = 30;
      try {
        for (let k = 0; k < calls; k++) assert.equal(await calc.add(k, 1_000), k + 1_000);
      } finally {
        calc.close();
      }
      for (let k = 0; k < 3; k++)
        assert.deepEqual(bufCurl(proxy.address, { add: { a: '40', b: `${k}` } }), { value: `${40 + k}` });
      const perReplica = await sumOver(replicas, (s) => handledCalls(s, 'Calculate', 'OK'));
      assert.equal(
        perReplica.reduce((x, y) => x + y),
        calls + 3,
        `every call counted once: ${perReplica}`,
      );
      for (const count of perReplica) assert.ok(count >= 5, `round-robin reaches every replica: ${perReplica}`);
    });

    test(`the largest batch the defaults allow (${LARGEST_BATCH} pairs, one 64 MiB request) passes`, async () => {
      const a = new BigInt64Array(LARGEST_BATCH);
      const b = new BigInt64Array(LARGEST_BATCH);
      for (let i = 0; i < LARGEST_BATCH; i++) {
        a[i] = BigInt(i) * 3_037_000_499n;
        b[i] = BigInt(-i);
      }
      const calc = new RemoteCalculator(proxy.address, { batchChunkLength: LARGEST_BATCH, timeoutMs: 60_000 });
      try {
        const before = await sumOver(replicas, (s) => handledCalls(s, 'Calculate', 'OK'));
        const results = await calc.batch('add', a, b);
        for (let i = 0; i < LARGEST_BATCH; i += 1) {
          if (results[i] !== a[i]! + b[i]!) assert.fail(`element ${i}: ${results[i]} != ${a[i]! + b[i]!}`);
        }
        const after = await sumOver(replicas, (s) => handledCalls(s, 'Calculate', 'OK'));
        assert.equal(after.reduce((x, y) => x + y) - before.reduce((x, y) => x + y), 1, 'in one request');
      } finally {
        calc.close();
      }
    });

    test(`an idle stream lives as long as the configured timeout: ${IDLE_MS} ms survives the shipped one, not a 1 s override`, async () => {
      const shortProxy = await startProxy(
        kind,
        replicas.map((r) => r.address),
        true,
      );
      const openStreams = async () =>
        (
          await sumOver(replicas, (s) => metric(s, 'nanocalc_calls_in_flight', { grpc_method: 'CalculateStream' }))
        ).reduce((x, y) => x + y);
      try {
        for (const [address, survives] of [
          [proxy.address, true],
          [shortProxy.address, false],
        ] as const) {
          const calc = new RemoteCalculator(address);
          try {
            const stream = calc.stream();
            assert.equal(await stream.add(1n, 2n), 3n);
            assert.equal(await openStreams(), 1);
            await new Promise((r) => setTimeout(r, IDLE_MS));
            assert.equal(await openStreams(), survives ? 1 : 0, survives ? 'still open' : 'cut by the proxy');
            // Through the shipped file the same stream answers; after the cut, RemoteStream reopens a
            // stream and answers, or fails with a RemoteError: never a wrong answer.
            const next = stream.multiply(6n, 7n);
            if (survives) assert.equal(await next, 42n);
            else
              await next.then(
                (v) => assert.equal(v, 42n),
                (e: unknown) => assert.ok(e instanceof RemoteError, `${e}`),
              );
            await stream.end().catch(() => {});
          } finally {
            calc.close();
          }
        }
      } finally {
        await shortProxy.stop();
      }
    });

    test(`a rolling restart under load (${RESTART_ROUNDS} replicas SIGKILLed and restarted in turn): no call fails`, async (t) => {
      const calc = new RemoteCalculator(proxy.address, { timeoutMs: 20_000 });
      const gen = pseudoRandomI64(29n);
      let running = true;
      let answered = 0;
      const failures: string[] = [];
      const worker = async () => {
        for (let k = 0; running; k++) {
          const op: Op = OPS[k % 4]!;
          const a = gen.next().value as bigint;
          const b = (gen.next().value as bigint) | 1n;
          try {
            assert.equal(await calc[op](a, b), reference(op, a, b));
            answered++;
          } catch (error) {
            if (!(error instanceof RemoteError)) throw error; // a wrong answer fails the test
            failures.push(error.message);
          }
        }
      };
      const workers = Array.from({ length: 16 }, worker);
      try {
        for (let round = 0; round < RESTART_ROUNDS; round++) {
          await sleep(ROUND_MS);
          const i = round % 3;
          const killed = replicas[i]!;
          killed.process.kill('SIGKILL');
          await killed.exited;
          const restarted = await startServerWithMetrics(['--shutdown-grace-seconds', '5'], { addr: killed.address });
          replicas[i] = restarted;
          // A rolling restart: the next replica dies only once the proxy uses this one again, so
          // two replicas the proxy believes alive are up at any time (however slow the machine).
          const back = Date.now() + 15_000;
          while (handledCalls(await scrapeMetrics(restarted.metricsAddress), 'Calculate', 'OK') === 0) {
            if (Date.now() > back) assert.fail(`${kind.name} sent no call to the restarted replica in 15 s`);
            await sleep(50);
          }
        }
        await sleep(ROUND_MS);
      } finally {
        running = false;
        await Promise.all(workers);
        calc.close();
      }
      t.diagnostic(`${kind.name}: ${answered} answered right, ${failures.length} failed`);
      // Two replicas are up at any time, the proxy retries what it can and the client the rest.
      assert.deepEqual(failures.slice(0, 5), [], `${failures.length} calls failed`);
      assert.ok(answered > RESTART_ROUNDS * 100, `calls went on: ${answered}`);
    });

    test('one replica SIGKILLed and one SIGTERMed under load: every answer that arrives is right', async (t) => {
      const calc = new RemoteCalculator(proxy.address, { timeoutMs: 20_000 });
      const logStart = proxy.logs().length; // what the proxy logs from here on is this test's
      const total = 3_000;
      const gen = pseudoRandomI64(17n);
      let started = 0;
      let answered = 0;
      const failures = new Map<string, number>();
      const firstMessage = new Map<string, string>();
      const worker = async () => {
        while (started < total) {
          const k = started++;
          const op: Op = OPS[k % 4]!;
          const a = gen.next().value as bigint;
          const b = (gen.next().value as bigint) | 1n;
          try {
            assert.equal(await calc[op](a, b), reference(op, a, b), `call ${k}`);
            answered++;
          } catch (error) {
            if (!(error instanceof RemoteError)) throw error; // a wrong answer fails the test
            failures.set(error.status, (failures.get(error.status) ?? 0) + 1);
            if (!firstMessage.has(error.status)) firstMessage.set(error.status, error.message);
          }
          if (k === 600) replicas[0]!.process.kill('SIGKILL');
          if (k === 1_500) void replicas[1]!.stop(10_000);
        }
      };
      try {
        await Promise.all(Array.from({ length: 16 }, worker));
      } finally {
        calc.close();
      }
      const served = handledCalls(await scrapeMetrics(replicas[2]!.metricsAddress!), 'Calculate', 'OK');
      const lines = proxy.logs().slice(logStart).split('\n');
      const proxyRetried =
        kind.name === 'nginx'
          ? lines.filter((l) => /upstream=\S+, /.test(l)).length
          : lines.filter((l) => / [-A-Za-z]{4} \d+\/\d+\/\d+\/\d+\/\+?[1-9]\d* /.test(l)).length; // %rc: retries
      const clientSaw5xx = lines.filter((l) => / 50[234] /.test(l)).length;
      t.diagnostic(
        `${kind.name}: ${answered}/${total} answered right, failed: ${JSON.stringify(Object.fromEntries(failures))} ` +
          `${JSON.stringify(Object.fromEntries(firstMessage))}; ` +
          `calls the proxy sent to a second replica: ${proxyRetried}; answers 502-504 (the client retried): ${clientSaw5xx}; ` +
          `the last replica served ${served}`,
      );
      assert.equal(answered + [...failures.values()].reduce((x, y) => x + y, 0), total);
      for (const [status, message] of firstMessage)
        assert.equal(status, 'UNAVAILABLE', `only retryable failures, not: ${message}`);
      assert.ok(answered >= total * 0.99, `nearly every call answered: ${answered}/${total}`);
    });
  });
}
