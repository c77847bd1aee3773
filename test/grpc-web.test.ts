// nanocalc-test: node-only
// gRPC-Web (issue 19) against real `nanocalc serve` processes on 127.0.0.1: `buf curl --protocol
// grpcweb` over HTTP/1.1 and HTTP/2, and the browser's RemoteCalculator (nanocalc/remote's `browser`
// condition, gRPC-Web over fetch) run here on Node's fetch: the same answers and errors as the
// in-process Calculator, the token, deadlines, cancellation, replicas with retries, and CORS.
// test/browser.test.ts runs it in Chromium.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { Calculator, CalculatorError } from 'nanocalc';
import * as web from '../src/remote/browser.js';
import { pseudoRandomI64 } from './support/helpers.js';
import { ROOT, type Server, metric, scrapeMetrics, startServer, stopAll } from './support/servers.js';

const BUF = join(ROOT, 'node_modules', '.bin', 'buf');
const CLI = join(ROOT, 'dist', 'src', 'cli.js');
const CALCULATE = '/nanocalc.v1.CalculatorService/Calculate';
const TOKEN = 'web-s3cret';
const PAGE = 'http://127.0.0.1:8080';
const OTHER_PAGE = 'https://app.example';

/** `nanocalc serve` (the CLI, as a user runs it), origins from NANOCALC_CORS_ORIGINS, metrics on. */
const serve = (args: string[] = [], env: Record<string, string> = {}) =>
  startServer(['--metrics-addr', '127.0.0.1:0', ...args], {
    command: [process.execPath, CLI, 'serve'],
    env: { NANOCALC_TOKEN: TOKEN, NANOCALC_CORS_ORIGINS: `${PAGE},${OTHER_PAGE}`, ...env },
  });

let server: Server;
const local = new Calculator();

before(async () => {
  server = await serve();
});
after(async () => {
  local.close();
  await stopAll();
});

const engineRequests = async (s: Server) =>
  metric(await scrapeMetrics(s.metricsAddress!), 'nanocalc_engine_requests_total');

/** `buf curl --protocol grpcweb`: its exit status, and its output parsed (stdout, else stderr). */
function bufCurl(address: string, body: object, options: { http2?: boolean; headers?: string[] } = {}) {
  const args = ['curl', '--protocol', 'grpcweb', '--schema', ROOT, '-d', JSON.stringify(body)];
  if (options.http2) args.push('--http2-prior-knowledge');
  for (const header of options.headers ?? [`authorization: Bearer ${TOKEN}`]) args.push('-H', header);
  const run = spawnSync(BUF, [...args, `http://${address}${CALCULATE}`], { encoding: 'utf8', timeout: 60_000 });
  const text = run.stdout.trim() || run.stderr.trim();
  let output: unknown = text;
  try {
    output = JSON.parse(text);
  } catch {}
  return { status: run.status, output, stderr: run.stderr };
}

describe('buf curl --protocol grpcweb gets answers from nanocalc serve', { timeout: 180_000 }, () => {
  test('over HTTP/1.1 and over HTTP/2: values, and the engine errors inside the response', async () => {
    const before = await engineRequests(server);
    for (const http2 of [false, true]) {
      const sum = bufCurl(server.address, { add: { a: '40', b: '2' } }, { http2 });
      assert.deepEqual([sum.status, sum.output], [0, { value: '42' }], `http2 ${http2}: ${sum.stderr}`);
      const min = bufCurl(server.address, { expression: { text: '-9223372036854775808' } }, { http2 });
      assert.deepEqual(min.output, { value: '-9223372036854775808' });
      const zero = bufCurl(server.address, { divide: { a: '1', b: '0' } }, { http2 });
      assert.equal(zero.status, 0, 'a domain error is an answer, not a failed call');
      assert.deepEqual(zero.output, {
        error: { code: 'ERROR_CODE_DIVISION_BY_ZERO', message: 'division by zero' },
      });
    }
    assert.equal((await engineRequests(server)) - before, 6, 'every call was computed by the engine');
  });

  test('without the token: unauthenticated; from an origin not listed: refused, nothing computed', async () => {
    const before = await engineRequests(server);
    const anonymous = bufCurl(server.address, { add: { a: '1', b: '2' } }, { headers: [] });
    assert.notEqual(anonymous.status, 0);
    assert.deepEqual((anonymous.output as { code?: string }).code, 'unauthenticated', anonymous.stderr);
    const stranger = bufCurl(
      server.address,
      { add: { a: '1', b: '2' } },
      { headers: [`authorization: Bearer ${TOKEN}`, 'origin: https://evil.example'] },
    );
    assert.notEqual(stranger.status, 0);
    assert.match(stranger.stderr, /403|permission_denied|forbidden/i);
    for (const origin of [PAGE, OTHER_PAGE]) {
      const listed = bufCurl(
        server.address,
        { add: { a: '1', b: '2' } },
        { headers: [`authorization: Bearer ${TOKEN}`, `origin: ${origin}`] },
      );
      assert.deepEqual(listed.output, { value: '3' }, `${origin} (NANOCALC_CORS_ORIGINS, comma-separated)`);
    }
    assert.equal((await engineRequests(server)) - before, 2, 'only the two listed origins were computed');
  });
});

describe("the browser's RemoteCalculator (gRPC-Web over fetch), run on Node's fetch", { timeout: 180_000 }, () => {
  const url = () => `http://${server.address}`;

  test('the same answers and errors as the in-process Calculator', async () => {
    const remote = new web.RemoteCalculator(url(), { token: TOKEN });
    const MAX = 2n ** 63n - 1n;
    const MIN = -(2n ** 63n);
    const edges = [0n, 1n, -1n, 7n, -7n, 3037000499n, 2n ** 32n, MAX, MAX - 1n, MIN, MIN + 1n];
    const ops = ['add', 'subtract', 'multiply', 'divide', 'remainder'] as const;
    const outcome = async (f: () => unknown) => {
      try {
        return { value: String(await f()) };
      } catch (error) {
        assert.ok(!(error instanceof web.RemoteError), `a transport failure: ${error}`);
        const e = error as CalculatorError;
        return { error: [e.constructor.name, e.code, e.index, e.message] };
      }
    };
    const modes = ['saturate', 'wrap', 'throw'] as const;
    const locals = Object.fromEntries(modes.map((overflow) => [overflow, new Calculator({ overflow })])) as Record<
      (typeof modes)[number],
      Calculator
    >;
    for (const overflow of modes) {
      for (const op of ops) {
        for (const a of edges) {
          for (const b of edges) {
            const there = await outcome(() => remote[op](a, b, { overflow }));
            const here = await outcome(() => locals[overflow][op](a, b));
            assert.deepEqual(there, here, `${op}(${a}, ${b}) ${overflow}`);
          }
        }
      }
      for (const text of ['2 * (3 + -4) % 5', '1 / 0', '1 +', '9223372036854775807 * 2', '１ + 2']) {
        const there = await outcome(() => remote.evaluate(text, { overflow }));
        assert.deepEqual(there, await outcome(() => local.evaluate(text, { overflow })), text);
      }
    }
    assert.equal(await remote.add(2, 3), 5, 'numbers in, a number out');
    await assert.rejects(remote.add(2 ** 53, 2 ** 53), RangeError);

    // A zero divisor: a CalculatorError with the in-process code and index.
    const error = await remote.divide(1n, 0n).catch((e: unknown) => e);
    assert.ok(error instanceof CalculatorError, String(error));
    assert.equal((error as CalculatorError).code, 'DIVISION_BY_ZERO');
    remote.close();
    for (const calc of Object.values(locals)) calc.close();
  });

  test('batches in chunks sent in parallel: the same values, the lowest failing index', async () => {
    const remote = new web.RemoteCalculator(url(), { token: TOKEN, batchChunkLength: 1000, batchParallelism: 3 });
    const random = pseudoRandomI64(1919n);
    const n = 4321;
    const a = BigInt64Array.from({ length: n }, () => random.next().value as bigint);
    const b = BigInt64Array.from({ length: n }, (_, i) =>
      i % 5 === 0 ? BigInt(i + 1) : (random.next().value as bigint),
    );
    for (const op of ['add', 'multiply', 'divide'] as const) {
      assert.deepEqual(await remote.batch(op, a, b), local.batch(op, a, b), op);
    }
    const out = new BigInt64Array(n);
    assert.equal(await remote.batch('subtract', a, b, out), out);
    assert.deepEqual(out, local.batch('subtract', a, b));
    const zeros = b.slice();
    zeros[3500] = 0n;
    zeros[2100] = 0n;
    const failure = await remote.batch('remainder', a, zeros).catch((e: unknown) => e);
    assert.ok(failure instanceof CalculatorError);
    assert.deepEqual([failure.code, failure.index], ['DIVISION_BY_ZERO', 2100]);
    assert.deepEqual(await remote.batch('add', [1n, 2n], [3n, 4n]), BigInt64Array.of(4n, 6n));
    remote.close();
  });

  test('transport failures are RemoteErrors with gRPC status names', async () => {
    const anonymous = new web.RemoteCalculator(url());
    const unauthenticated = await anonymous.add(1, 2).catch((e: unknown) => e);
    assert.ok(unauthenticated instanceof web.RemoteError);
    assert.deepEqual(
      [unauthenticated.name, unauthenticated.status, unauthenticated.code],
      ['RemoteError', 'UNAUTHENTICATED', 16],
    );
    assert.match(unauthenticated.details, /missing bearer token/);

    const small = await serve(['--max-message-bytes', '1000']);
    const limited = new web.RemoteCalculator(`http://${small.address}`, { token: TOKEN });
    const big = new BigInt64Array(200);
    const tooLarge = await limited.batch('add', big, big).catch((e: unknown) => e);
    assert.ok(tooLarge instanceof web.RemoteError);
    assert.equal(tooLarge.status, 'RESOURCE_EXHAUSTED');
    await small.stop();

    const remote = new web.RemoteCalculator(url(), { token: TOKEN });
    assert.throws(
      () => remote.stream(),
      (e: unknown) => e instanceof web.RemoteError && e.status === 'UNIMPLEMENTED' && /HTTP\/2 gRPC/.test(e.details),
    );
    remote.close();
    await assert.rejects(remote.add(1, 2), (e: unknown) => e instanceof CalculatorError && e.code === 'CLOSED');
  });

  test('deadline and AbortSignal: DEADLINE_EXCEEDED and CANCELLED (its cause the reason)', async () => {
    // A server that accepts connections and never answers.
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const address = `127.0.0.1:${(silent.address() as net.AddressInfo).port}`;
    try {
      const remote = new web.RemoteCalculator(address, { token: TOKEN, timeoutMs: 300 });
      const started = Date.now();
      const late = await remote.add(1, 2).catch((e: unknown) => e);
      assert.ok(late instanceof web.RemoteError, String(late));
      assert.equal(late.status, 'DEADLINE_EXCEEDED');
      assert.ok(Date.now() - started < 5_000);

      const reason = new Error('the user left');
      const controller = new AbortController();
      const call = remote.multiply(6n, 7n, { signal: controller.signal, timeoutMs: 0 });
      setTimeout(() => controller.abort(reason), 100);
      const cancelled = await call.catch((e: unknown) => e);
      assert.ok(cancelled instanceof web.RemoteError);
      assert.equal(cancelled.status, 'CANCELLED');
      assert.equal(cancelled.cause, reason);
      await assert.rejects(remote.add(1, 2, { signal: AbortSignal.abort(reason) }), (e: unknown) => {
        return e instanceof web.RemoteError && e.status === 'CANCELLED' && e.cause === reason;
      });
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  test('replicas round-robin, a call retried on another while one is down (UNAVAILABLE)', async () => {
    const second = await serve();
    // A port with nothing listening: connection refused, UNAVAILABLE.
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const dead = `http://127.0.0.1:${(probe.address() as net.AddressInfo).port}`;
    await new Promise((resolve) => probe.close(resolve));
    const [before1, before2] = [await engineRequests(server), await engineRequests(second)];
    const remote = new web.RemoteCalculator([dead, url(), `http://${second.address}/`], { token: TOKEN });
    for (let k = 0; k < 40; k++) assert.equal(await remote.add(k, 1), k + 1);
    const [n1, n2] = [(await engineRequests(server)) - before1, (await engineRequests(second)) - before2];
    assert.equal(n1 + n2, 40, 'every call answered once');
    assert.ok(n1 >= 10 && n2 >= 10, `both live replicas were used (${n1}, ${n2})`);
    const down = new web.RemoteCalculator(dead, { token: TOKEN, maxAttempts: 2 });
    const unavailable = await down.add(1, 2).catch((e: unknown) => e);
    assert.ok(unavailable instanceof web.RemoteError);
    assert.equal(unavailable.status, 'UNAVAILABLE');
    await second.stop();
  });
});

test("the browser's RemoteCalculator reads what a server or proxy may answer, each as its RemoteError", async () => {
  // A real HTTP server on 127.0.0.1 that answers each path as told: what nanocalc serve never sends
  // but a proxy in between, or a broken server, could.
  const frame = (flags: number, payload: Buffer) => {
    const head = Buffer.alloc(5);
    head[0] = flags;
    head.writeUInt32BE(payload.length, 1);
    return Buffer.concat([head, payload]);
  };
  const trailers = (text: string) => frame(0x80, Buffer.from(text));
  const value5 = frame(0, Buffer.from([0x08, 0x05]));
  const web200 = { 'content-type': 'application/grpc-web+proto' };
  const answers: Record<string, [number, Record<string, string>, Buffer]> = {
    ok: [200, web200, Buffer.concat([value5, trailers('grpc-status:0\r\n')])],
    headersOnly: [200, { ...web200, 'grpc-status': '8', 'grpc-message': 'too%20big' }, Buffer.alloc(0)],
    inTrailers: [200, web200, trailers('grpc-status: 7\r\ngrpc-message: not%20you\r\n')],
    cutFrame: [200, web200, value5.subarray(0, 6)],
    compressed: [200, web200, Buffer.concat([frame(1, Buffer.from([0x08, 0x05])), trailers('grpc-status:0\r\n')])],
    twoMessages: [200, web200, Buffer.concat([value5, value5, trailers('grpc-status:0\r\n')])],
    noStatus: [200, web200, value5],
    htmlPage: [200, { 'content-type': 'text/html' }, Buffer.from('<html>a proxy page</html>')],
    notFound: [404, {}, Buffer.from('no such route')],
    badGateway: [502, {}, Buffer.alloc(0)],
  };
  const hits: string[] = [];
  const http = createServer((request, response) => {
    const kind = request.url!.split('/')[1]!;
    hits.push(kind);
    request.resume();
    const [status, headers, body] = answers[kind]!;
    response.writeHead(status, headers).end(body);
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(http.address() as net.AddressInfo).port}`;
  const outcome = (kind: string, options: { maxAttempts?: number } = {}) =>
    new web.RemoteCalculator(`${base}/${kind}`, { maxAttempts: 1, ...options }).add(2, 3).then(
      (value) => value,
      (e: web.RemoteError) => [e.name, e.status, e.details],
    );
  try {
    assert.equal(await outcome('ok'), 5);
    assert.deepEqual(await outcome('headersOnly'), ['RemoteError', 'RESOURCE_EXHAUSTED', 'too big']);
    assert.deepEqual(await outcome('inTrailers'), ['RemoteError', 'PERMISSION_DENIED', 'not you']);
    for (const [kind, why] of [
      ['cutFrame', /a cut frame/],
      ['compressed', /compressed/],
      ['twoMessages', /2 messages/],
      ['noStatus', /no grpc-status/],
      ['htmlPage', /not a gRPC-Web answer \(HTTP 200, content-type text\/html\)/],
    ] as const) {
      const [, status, details] = (await outcome(kind)) as string[];
      assert.equal(status, 'INTERNAL', kind);
      assert.match(details!, why, kind);
    }
    assert.deepEqual(((await outcome('notFound')) as string[]).slice(0, 2), ['RemoteError', 'UNIMPLEMENTED']);
    // A proxy's 502 is UNAVAILABLE, and retried on the next replica.
    hits.length = 0;
    const replicas = new web.RemoteCalculator([`${base}/badGateway`, `${base}/ok`], { maxAttempts: 2 });
    assert.equal(await replicas.add(2, 3), 5);
    assert.deepEqual(hits, ['badGateway', 'ok']);
    assert.deepEqual(((await outcome('badGateway')) as string[]).slice(0, 2), ['RemoteError', 'UNAVAILABLE']);
  } finally {
    await new Promise((resolve) => http.close(resolve));
  }
});

test('a SIGTERM with an idle HTTP/1.1 keep-alive connection from a gRPC-Web client stops the server at once', async () => {
  const served = await serve(['--shutdown-grace-seconds', '30']);
  const remote = new web.RemoteCalculator(served.address, { token: TOKEN });
  assert.equal(await remote.add(2n, 3n), 5n); // fetch keeps the connection open
  const started = Date.now();
  const { code } = await served.stop(10_000);
  assert.equal(code, 0, served.logs);
  assert.ok(Date.now() - started < 3_000, `exited after ${Date.now() - started} ms (grace 30 s)`);
  assert.doesNotMatch(served.logs, /still in flight/);
});

test('nanocalc serve --help lists --cors-origin and its variable', () => {
  const help = execFileSync(process.execPath, [CLI, 'serve', '--help'], { encoding: 'utf8' });
  assert.match(help, /--cors-origin <ORIGIN>/);
  assert.match(help, /NANOCALC_CORS_ORIGINS/);
});
