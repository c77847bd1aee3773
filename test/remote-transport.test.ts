// RemoteCalculator's three transports ('http2', its own client on node:http2, 'native', its client in
// Rust inside the addon, and 'grpc-js') held to the same contract where the replica misbehaves: real HTTP/2 servers on 127.0.0.1 (node:http2's
// server) that answer HTTP errors, reset streams, send GOAWAY or never answer, and a real
// nanocalc-server killed and started again on the same port. Each failure is the same RemoteError
// (status) through every transport, and what is sent (path, headers, grpc-timeout, token) is the same.
// Then the 'native' transport against real servers: the in-process answers, a 64 MiB batch, the
// token, TLS and mutual TLS, a replica killed mid-call.

import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { Calculator, CalculatorError } from 'nanocalc';
import { RemoteCalculator, RemoteError } from 'nanocalc/remote';
import { i64Column } from './support/helpers.js';
import { ROOT, mutualTlsCertificates, selfSignedCertificate, startServer, stopAll } from './support/servers.js';

after(stopAll);

const TRANSPORTS = ['http2', 'native', 'grpc-js'] as const;

/** An HTTP/2 server on 127.0.0.1 whose every stream is handled by `onStream`; its sessions counted. */
async function h2Server(onStream: (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => void) {
  const server = http2.createServer();
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (session) => {
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
  });
  server.on('stream', (stream, headers) => {
    stream.on('error', () => {});
    onStream(stream, headers);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    sessions,
    async close() {
      for (const session of sessions) session.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A gRPC answer to `add(2, 3)`: CalculatorResponse { value: 5 }, then status OK in trailers. */
function answerFive(stream: http2.ServerHttp2Stream): void {
  stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
  stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
  stream.end(Buffer.from([0, 0, 0, 0, 2, 0x08, 0x05]));
}

function status(name: string, details?: RegExp) {
  return (e: unknown) =>
    e instanceof RemoteError &&
    e.status === name &&
    e.name === 'RemoteError' &&
    (details === undefined || details.test(e.details));
}

for (const transport of TRANSPORTS) {
  describe(`transport '${transport}'`, () => {
    test('what is sent: path, content type, te, token, grpc-timeout; the answer read from DATA and trailers', async () => {
      const seen: http2.IncomingHttpHeaders[] = [];
      const bodies: number[][] = [];
      const server = await h2Server((stream, headers) => {
        seen.push(headers);
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('end', () => {
          bodies.push([...Buffer.concat(chunks)]);
          answerFive(stream);
        });
      });
      const calc = new RemoteCalculator(server.address, { transport, token: 's3cret', timeoutMs: 5_000 });
      try {
        assert.equal(await calc.add(2, 3), 5);
        assert.equal(await calc.add(2n, 3n, { timeoutMs: 0 }), 5n);
        // A deadline beyond one timer's reach (2^31 - 1 ms) is not one that fires at once.
        assert.equal(await calc.add(2, 3, { timeoutMs: 2 ** 32 }), 5);
        // CalculatorRequest { add { a: 2, b: 3 } } behind the 5-byte prefix.
        assert.deepEqual(bodies[0], [0, 0, 0, 0, 6, 0x0a, 0x04, 0x08, 0x02, 0x10, 0x03]);
        const [first, second] = seen;
        assert.equal(first![':method'], 'POST');
        assert.equal(first![':path'], '/nanocalc.v1.CalculatorService/Calculate');
        assert.match(String(first!['content-type']), /^application\/grpc/);
        assert.equal(first!.te, 'trailers');
        assert.equal(first!.authorization, 'Bearer s3cret');
        const timeout = /^(\d+)([mSHMun])$/.exec(String(first!['grpc-timeout']));
        assert.ok(timeout, `grpc-timeout ${first!['grpc-timeout']}`);
        assert.equal(second!['grpc-timeout'], undefined, 'no deadline, no grpc-timeout');
      } finally {
        calc.close();
        await server.close();
      }
    });

    test('messages split across DATA frames at any byte, and several in one frame, are read whole and in order', async () => {
      const server = await h2Server((stream, headers) => {
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
        if (headers[':path'] === '/nanocalc.v1.CalculatorService/Calculate') {
          // One answer (value: 5) a byte per DATA frame, each frame in its own turn.
          const bytes = [0, 0, 0, 0, 2, 0x08, 0x05];
          const next = () => {
            const byte = bytes.shift();
            if (byte === undefined) stream.end();
            else stream.write(Buffer.of(byte), () => setImmediate(next));
          };
          next();
        } else {
          // A stream: three answers (1, 2, 3) once three requests have come, in one DATA frame, then done.
          let requests = 0;
          stream.on('data', (chunk: Buffer) => {
            requests += chunk.length / 11;
            if (requests === 3) {
              stream.end(Buffer.from([0, 0, 0, 0, 2, 0x08, 1, 0, 0, 0, 0, 2, 0x08, 2, 0, 0, 0, 0, 2, 0x08, 3]));
            }
          });
        }
      });
      const calc = new RemoteCalculator(server.address, { transport });
      try {
        assert.equal(await calc.add(2, 3), 5);
        const stream = calc.stream();
        const answers = [stream.add(2, 3), stream.add(2, 3), stream.add(2, 3)];
        assert.deepEqual(await Promise.all(answers), [1, 2, 3]);
        await stream.end();
      } finally {
        calc.close();
        await server.close();
      }
    });

    test('HTTP statuses map as gRPC specifies: 502/503/504/429 UNAVAILABLE (retried), 401, 403, 404', async () => {
      const cases: [number, string][] = [
        [503, 'UNAVAILABLE'],
        [502, 'UNAVAILABLE'],
        [504, 'UNAVAILABLE'],
        [429, 'UNAVAILABLE'],
        [401, 'UNAUTHENTICATED'],
        [403, 'PERMISSION_DENIED'],
        [404, 'UNIMPLEMENTED'],
        [400, 'INTERNAL'],
        [500, 'UNKNOWN'],
      ];
      let code = 0;
      const server = await h2Server((stream) => {
        stream.respond({ ':status': code, 'content-type': 'text/html' });
        stream.end('<html>an error page of the proxy</html>');
      });
      try {
        for (const [http, name] of cases) {
          code = http;
          const calc = new RemoteCalculator(server.address, { transport, maxAttempts: 1 });
          await assert.rejects(calc.add(2, 3), status(name, new RegExp(`HTTP status code ${http}`)), `${http}`);
          calc.close();
        }
        // 503 from one replica: the call is answered by the other.
        code = 503;
        const good = await startServer();
        const calc = new RemoteCalculator([server.address, good.address], { transport });
        for (let i = 0; i < 4; i++) assert.equal(await calc.add(i, 1), i + 1);
        calc.close();
        await good.stop();
      } finally {
        await server.close();
      }
    });

    test('RST_STREAM: REFUSED_STREAM is UNAVAILABLE, ENHANCE_YOUR_CALM RESOURCE_EXHAUSTED, INTERNAL_ERROR INTERNAL', async () => {
      const { NGHTTP2_REFUSED_STREAM, NGHTTP2_ENHANCE_YOUR_CALM, NGHTTP2_INTERNAL_ERROR } = http2.constants;
      let rst = 0;
      const server = await h2Server((stream) => stream.close(rst));
      try {
        for (const [code, name] of [
          [NGHTTP2_REFUSED_STREAM, 'UNAVAILABLE'],
          [NGHTTP2_ENHANCE_YOUR_CALM, 'RESOURCE_EXHAUSTED'],
          [NGHTTP2_INTERNAL_ERROR, 'INTERNAL'],
        ] as const) {
          rst = code;
          const calc = new RemoteCalculator(server.address, { transport, maxAttempts: 1 });
          await assert.rejects(calc.add(2, 3), status(name), `RST_STREAM ${code}`);
          calc.close();
        }
      } finally {
        await server.close();
      }
    });

    test('a status in a trailers-only response, its message percent-decoded; a response without a message', async () => {
      let mode: 'status' | 'empty' = 'status';
      const server = await h2Server((stream) => {
        if (mode === 'status') {
          stream.respond(
            {
              ':status': 200,
              'content-type': 'application/grpc',
              'grpc-status': '8',
              'grpc-message': 'too big: 5%25 over',
            },
            { endStream: true },
          );
        } else {
          stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
          stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
          stream.end();
        }
      });
      const calc = new RemoteCalculator(server.address, { transport, maxAttempts: 1 });
      try {
        await assert.rejects(calc.add(2, 3), status('RESOURCE_EXHAUSTED', /^too big: 5% over$/));
        mode = 'empty';
        await assert.rejects(calc.add(2, 3), status('UNIMPLEMENTED', /No message received/));
      } finally {
        calc.close();
        await server.close();
      }
    });

    test('GOAWAY: calls go to a new connection; a refused call is retried; close() ends the connection', async () => {
      let calls = 0;
      const server = await h2Server((stream) => {
        calls++;
        answerFive(stream);
        // After the 5th and the 15th answer, the session is shut down (GOAWAY, then closed): the
        // streams it had not started are refused.
        if (calls === 5 || calls === 15) stream.session?.close();
      });
      const calc = new RemoteCalculator(server.address, { transport, timeoutMs: 5_000 });
      try {
        for (let i = 0; i < 10; i++) assert.equal(await calc.add(2, 3), 5);
        const answers = await Promise.all(Array.from({ length: 20 }, () => calc.add(2, 3)));
        assert.deepEqual(answers, new Array(20).fill(5));
        assert.ok(server.sessions.size >= 1);
        calc.close();
        for (let i = 0; i < 100 && server.sessions.size > 0; i++) await new Promise((r) => setTimeout(r, 20));
        assert.equal(server.sessions.size, 0, 'close() ended the connection');
      } finally {
        calc.close();
        await server.close();
      }
    });

    test('a silent server: the deadline ends calls and streams, an AbortSignal cancels them', async () => {
      const server = await h2Server(() => {}); // never answers
      const calc = new RemoteCalculator(server.address, { transport, timeoutMs: 200 });
      try {
        await assert.rejects(calc.add(1, 2), status('DEADLINE_EXCEEDED'));
        const stream = calc.stream();
        await assert.rejects(stream.add(1, 2), status('DEADLINE_EXCEEDED'));
        await assert.rejects(stream.end(), status('DEADLINE_EXCEEDED'));
        const controller = new AbortController();
        const call = calc.add(1, 2, { timeoutMs: 0, signal: controller.signal });
        const cancelled = calc.stream({ timeoutMs: 0, signal: controller.signal });
        const onStream = cancelled.add(1, 2);
        setTimeout(() => controller.abort(new Error('enough')), 50);
        const why = (e: unknown) => status('CANCELLED')(e) && (e as Error).cause instanceof Error;
        await assert.rejects(call, why);
        await assert.rejects(onStream, why);
      } finally {
        calc.close();
        await server.close();
      }
    });

    test('a replica killed and started again on the same port is used again (the session is reopened)', async () => {
      const first = await startServer();
      const calc = new RemoteCalculator(first.address, { transport, timeoutMs: 10_000 });
      try {
        assert.equal(await calc.add(1, 2), 3);
        first.process.kill('SIGKILL');
        await first.exited;
        await assert.rejects(calc.add(1, 2, { timeoutMs: 300 }), RemoteError);
        const second = await startServer([], { addr: first.address }); // the same port again
        assert.equal(second.address, first.address);
        if (transport === 'grpc-js') {
          // grpc-js fails calls fast while its reconnect backoff (200 ms, doubling) runs: wait it out.
          for (let i = 0; i < 50 && (await calc.add(0, 0).catch(() => -1)) !== 0; i++) {
            await new Promise((r) => setTimeout(r, 100));
          }
        }
        // The node:http2 transport opens a new session for the very next call.
        assert.equal(await calc.add(40, 2), 42);
        const stream = calc.stream();
        assert.equal(await stream.multiply(6, 7), 42);
        await stream.end();
        await second.stop();
      } finally {
        calc.close();
      }
    });

    test('a process that never calls close() can still exit: idle connections do not hold it', () => {
      const script = `
        import { RemoteCalculator } from 'nanocalc/remote';
        const { startServer, stopAll } = await import(${JSON.stringify(`${ROOT}dist/test/support/servers.js`)});
        const replica = await startServer();
        const calc = new RemoteCalculator(replica.address, { transport: '${transport}' });
        console.log(await calc.add(20, 22));
        const stream = calc.stream();
        console.log(await stream.add(1, 1));
        await stream.end();
        await stopAll();
      `;
      const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
        cwd: ROOT,
        encoding: 'utf8',
        timeout: 20_000,
      });
      assert.deepEqual(out.trim().split('\n'), ['42', '2']);
    });
  });
}

for (const transport of ['http2', 'native'] as const)
  describe(`keepalive ('${transport}' transport)`, () => {
    test('a replica stopped (SIGSTOP: no reset, no answer) is left after a PING goes unanswered; its calls are retried', async () => {
      const [a, b] = await Promise.all([startServer(), startServer()]);
      const calc = new RemoteCalculator([a.address, b.address], {
        transport,
        keepaliveMs: 200,
        timeoutMs: 20_000,
      });
      try {
        for (let i = 0; i < 4; i++) assert.equal(await calc.add(i, 1), i + 1); // both connections open
        b.process.kill('SIGSTOP');
        const started = Date.now();
        const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => calc.add(i, 2)));
        assert.deepEqual(
          answers,
          Array.from({ length: 20 }, (_, i) => i + 2),
        );
        const took = Date.now() - started;
        assert.ok(took < 5_000, `answered in ${took} ms: by keepalive, not by the 20 s deadline`);
        // With keepalive off, a call to the stopped replica waits for its deadline.
        const patient = new RemoteCalculator(b.address, { transport, keepaliveMs: 0, timeoutMs: 1_000 });
        await assert.rejects(patient.add(1, 1), status('DEADLINE_EXCEEDED'));
        patient.close();
        const alone = new RemoteCalculator(b.address, { transport, keepaliveMs: 200, maxAttempts: 1 });
        await assert.rejects(alone.add(1, 1), status('UNAVAILABLE', /keepalive/));
        alone.close();
      } finally {
        b.process.kill('SIGCONT');
        calc.close();
        await Promise.all([a.stop(), b.stop()]);
      }
    });
  });

test("the 'http2' transport takes host:port endpoints and no channelOptions", () => {
  assert.throws(() => new RemoteCalculator('dns:///calc.local:50051', { transport: 'http2' }), TypeError);
  assert.throws(() => new RemoteCalculator('127.0.0.1:1', { transport: 'http2', channelOptions: {} }), TypeError);
  // @ts-expect-error: not a transport
  assert.throws(() => new RemoteCalculator('127.0.0.1:1', { transport: 'h3' }), TypeError);
  new RemoteCalculator('dns:///calc.local:50051').close(); // gRPC targets: grpc-js by default
  new RemoteCalculator('[::1]:50051', { transport: 'http2' }).close();
  new RemoteCalculator('[::1]:50051', { transport: 'native' }).close();
  assert.throws(() => new RemoteCalculator('dns:///calc.local:50051', { transport: 'native' }), TypeError);
  assert.throws(() => new RemoteCalculator('127.0.0.1:1', { transport: 'native', channelOptions: {} }), TypeError);
  assert.throws(() => new RemoteCalculator('127.0.0.1:1', { keepaliveMs: -1 }), RangeError);
  assert.throws(() => new RemoteCalculator('127.0.0.1:1', { keepaliveMs: 2 ** 31 }), RangeError);
});

describe("the 'native' transport against real servers", () => {
  const isStatus = (name: string) => (e: unknown) => e instanceof RemoteError && e.status === name;

  test('answers as the in-process Calculator: every op on edge values, batches, expressions, process()', async () => {
    const server = await startServer();
    const remote = new RemoteCalculator(server.address, { transport: 'native', batchChunkLength: 1000 });
    const local = new Calculator();
    const settle = async <T>(f: () => T | Promise<T>) => {
      try {
        return { value: await f() };
      } catch (e) {
        if (!(e instanceof CalculatorError)) throw e;
        return { code: e.code, index: e.index };
      }
    };
    try {
      const edges = [0n, 1n, -1n, 2n, 7n, -9n, 2n ** 31n, 2n ** 62n, 2n ** 63n - 1n, -(2n ** 63n), -(2n ** 63n) + 1n];
      const ops = ['add', 'subtract', 'multiply', 'divide', 'remainder'] as const;
      for (const op of ops) {
        for (const a of edges) {
          const answers = await Promise.all(edges.map((b) => settle(() => remote[op](a, b))));
          for (const [k, b] of edges.entries()) {
            assert.deepEqual(answers[k], await settle(() => local[op](a, b)), `${op}(${a}, ${b})`);
          }
        }
        const a = i64Column(5_000, 1);
        const b = i64Column(5_000, 2, true);
        assert.deepEqual(await remote.batch(op, a, b), local.batch(op, a, b), op);
      }
      for (const text of ['2 * (3 + -4) % 5', '9223372036854775807 + 1', '1 / 0', '(1 +']) {
        assert.deepEqual(await settle(() => remote.evaluate(text)), await settle(() => local.evaluate(text)), text);
      }
      const request = Uint8Array.from([0x0a, 0x04, 0x08, 0x02, 0x10, 0x03]);
      assert.deepEqual(await remote.process(request), local.process(request));
      // Many calls in flight at once, each answered with its own value.
      const many = await Promise.all(Array.from({ length: 2_000 }, (_, i) => remote.multiply(i, 3)));
      assert.deepEqual(
        many,
        Array.from({ length: 2_000 }, (_, i) => i * 3),
      );
    } finally {
      remote.close();
      local.close();
      await server.stop();
    }
  });

  test('a batch in requests of ~60 MB each (just under the 64 MiB message limit of the server) is answered whole', async () => {
    const server = await startServer();
    const remote = new RemoteCalculator(server.address, {
      transport: 'native',
      batchChunkLength: 3_000_000,
      timeoutMs: 120_000,
    });
    try {
      const n = 6_000_000;
      const a = i64Column(n, 3);
      const b = i64Column(n, 4);
      const out = await remote.batch('add', a, b);
      const local = new Calculator();
      assert.deepEqual(out, local.batch('add', a, b));
      local.close();
    } finally {
      remote.close();
      await server.stop();
    }
  });

  test('a stream written to while its connection opens sends that write first (fresh calculators, 100 times)', async () => {
    const server = await startServer();
    try {
      for (let i = 0; i < 100; i++) {
        const calc = new RemoteCalculator(server.address, { transport: 'native', timeoutMs: 5_000 });
        const stream = calc.stream();
        assert.equal(await stream.subtract(i, 3), i - 3);
        await stream.end();
        calc.close();
      }
    } finally {
      await server.stop();
    }
  });

  test('the token: refused without it (UNAUTHENTICATED, not retried), answered with it', async () => {
    const token = `t-${Math.random().toString(36).slice(2)}`;
    const server = await startServer([], { env: { NANOCALC_TOKEN: token } });
    const good = new RemoteCalculator(server.address, { transport: 'native', token });
    const bad = new RemoteCalculator(server.address, { transport: 'native', token: `${token}x` });
    const none = new RemoteCalculator(server.address, { transport: 'native' });
    try {
      assert.equal(await good.add(40, 2), 42);
      await assert.rejects(bad.add(1, 2), isStatus('UNAUTHENTICATED'));
      await assert.rejects(none.add(1, 2), isStatus('UNAUTHENTICATED'));
    } finally {
      for (const calc of [good, bad, none]) calc.close();
      await server.stop();
    }
  });

  test('TLS: answered with the CA; UNAVAILABLE in plaintext or without trusting it; mutual TLS', async () => {
    const cert = selfSignedCertificate();
    const mtls = mutualTlsCertificates();
    const ca = readFileSync(cert.cert);
    const server = await startServer(['--tls-cert', cert.cert, '--tls-key', cert.key]);
    const mutual = await startServer([
      '--tls-cert',
      mtls.cert,
      '--tls-key',
      mtls.key,
      '--tls-client-ca',
      mtls.clientCa,
    ]);
    const options = { transport: 'native', maxAttempts: 1, timeoutMs: 5_000 } as const;
    const calcs: RemoteCalculator[] = [];
    const open = (address: string, extra: object) => {
      const calc = new RemoteCalculator(address, { ...options, ...extra });
      calcs.push(calc);
      return calc;
    };
    try {
      assert.equal(await open(server.address, { tls: { ca } }).add(40, 2), 42);
      await assert.rejects(open(server.address, {}).add(1, 2), isStatus('UNAVAILABLE'));
      await assert.rejects(open(server.address, { tls: true }).add(1, 2), isStatus('UNAVAILABLE'));
      const mutualCa = readFileSync(mtls.cert);
      const identity = { ca: mutualCa, cert: readFileSync(mtls.clientCert), key: readFileSync(mtls.clientKey) };
      assert.equal(await open(mutual.address, { tls: identity }).multiply(6, 7), 42);
      await assert.rejects(open(mutual.address, { tls: { ca: mutualCa } }).add(1, 2), isStatus('UNAVAILABLE'));
    } finally {
      for (const calc of calcs) calc.close();
      await Promise.all([server.stop(), mutual.stop()]);
      cert.remove();
      mtls.remove();
    }
  });

  test('a replica killed mid-call (SIGKILL): its calls end UNAVAILABLE and are retried on the other, none lost', async () => {
    const [a, b] = await Promise.all([startServer(), startServer()]);
    const calc = new RemoteCalculator([a.address, b.address], { transport: 'native', timeoutMs: 20_000 });
    try {
      const n = 3_000;
      const calls = Array.from({ length: n }, (_, i) => calc.add(i, 1));
      // Killed once the first answers are in, with most calls still in flight.
      void calls[100]!.then(() => a.process.kill('SIGKILL'));
      const answers = await Promise.all(calls);
      assert.deepEqual(
        answers,
        Array.from({ length: n }, (_, i) => i + 1),
      );
      await a.exited;
      // Alone, the killed replica's calls fail UNAVAILABLE.
      const alone = new RemoteCalculator(a.address, { transport: 'native', maxAttempts: 1, timeoutMs: 2_000 });
      await assert.rejects(alone.add(1, 1), isStatus('UNAVAILABLE'));
      alone.close();
    } finally {
      calc.close();
      await Promise.all([a.stop(), b.stop()]);
    }
  });
});
