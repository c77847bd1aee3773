// TLS, the bearer token, message-size limits, health and reflection, against real servers.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { Calculator, CalculatorError } from 'nanocalc';
import { RemoteCalculator, RemoteError } from 'nanocalc/remote';
import { type Server, selfSignedCertificate, startServer, stopAll } from './support/servers.js';

after(stopAll);

const TOKEN = `test-token-${Math.random().toString(36).slice(2)}`;

function isStatus(status: string) {
  return (e: unknown) => e instanceof RemoteError && e.status === status && e.name === 'RemoteError';
}

/** How many Calculate calls the server has computed (it logs each at debug level). */
function computed(server: Server): number {
  return (server.logs.match(/Calculate bytes=/g) ?? []).length;
}

async function eventually(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 100 && !check(); i++) await new Promise((r) => setTimeout(r, 20));
  assert.ok(check(), what);
}

/** A raw unary call (for the health service, which RemoteCalculator does not speak). */
function rawUnary(
  client: grpc.Client,
  path: string,
  request: Uint8Array,
  metadata = new grpc.Metadata(),
): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    client.makeUnaryRequest(
      path,
      (b: Uint8Array) => Buffer.from(b),
      (b: Buffer) => b,
      request,
      metadata,
      { deadline: Date.now() + 5_000 },
      (e, v) => (e ? reject(e) : resolve(v!)),
    ),
  );
}

/** The first reflection answer to `list_services` (v1), as bytes. */
function listServices(client: grpc.Client, metadata: grpc.Metadata): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const call = client.makeBidiStreamRequest(
      '/grpc.reflection.v1.ServerReflection/ServerReflectionInfo',
      (b: Uint8Array) => Buffer.from(b),
      (b: Buffer) => b,
      metadata,
      { deadline: Date.now() + 5_000 },
    );
    call.on('data', (bytes: Buffer) => {
      resolve(bytes);
      call.end();
    });
    call.on('error', reject);
    call.write(new Uint8Array([0x3a, 0x00])); // ServerReflectionRequest { list_services: "" }
  });
}

describe('TLS and the bearer token', () => {
  let server: Server;
  let cert: ReturnType<typeof selfSignedCertificate>;
  let ca: Buffer;
  before(async () => {
    cert = selfSignedCertificate();
    ca = readFileSync(cert.cert);
    server = await startServer(['--tls-cert', cert.cert, '--tls-key', cert.key, '--log-level', 'debug'], {
      env: { NANOCALC_TOKEN: TOKEN },
    });
  });
  after(async () => {
    await server?.stop();
    cert?.remove();
  });

  test('over TLS with the right token, calls are answered', async () => {
    const calc = new RemoteCalculator(server.address, { tls: { ca }, token: TOKEN });
    try {
      assert.equal(await calc.add(40, 2), 42);
      assert.deepEqual([...(await calc.batch('multiply', [2n, 3n], [5n, 7n]))], [10n, 21n]);
      await assert.rejects(
        calc.divide(1n, 0n),
        (e: unknown) => e instanceof CalculatorError && e.code === 'DIVISION_BY_ZERO',
      );
      const stream = calc.stream();
      assert.equal(await stream.subtract(1n, 3n), -2n);
      await stream.end();
    } finally {
      calc.close();
    }
  });

  test('a missing or wrong token is UNAUTHENTICATED and nothing is computed', async () => {
    // The server logs a call after answering it: the earlier test's last lines may still be on their way.
    await new Promise((r) => setTimeout(r, 100));
    const before = computed(server);
    const noToken = new RemoteCalculator(server.address, { tls: { ca } });
    const wrongToken = new RemoteCalculator(server.address, { tls: { ca }, token: `${TOKEN}x` });
    const prefixToken = new RemoteCalculator(server.address, { tls: { ca }, token: TOKEN.slice(0, -1) });
    try {
      for (const calc of [noToken, wrongToken, prefixToken]) {
        await assert.rejects(calc.add(1, 2), isStatus('UNAUTHENTICATED'));
        await assert.rejects(calc.batch('add', [1n], [2n]), isStatus('UNAUTHENTICATED'));
        await assert.rejects(calc.process(new Uint8Array([0x0a, 0x00])), isStatus('UNAUTHENTICATED'));
        const stream = calc.stream();
        await assert.rejects(stream.add(1, 2), isStatus('UNAUTHENTICATED'));
        await assert.rejects(stream.end(), isStatus('UNAUTHENTICATED'));
        const error = await calc.add(1, 2).catch((e: unknown) => e);
        assert.equal((error as RemoteError).code, 16);
      }
      // The log shows every call the server computes: none of those.
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(computed(server), before, 'no rejected call was computed');
      const good = new RemoteCalculator(server.address, { tls: { ca }, token: TOKEN });
      assert.equal(await good.add(1, 2), 3);
      good.close();
      await eventually(() => computed(server) === before + 1, 'the accepted call was computed (and logged)');
    } finally {
      noToken.close();
      wrongToken.close();
      prefixToken.close();
    }
  });

  test('plaintext to a TLS server, or TLS without trusting its certificate, fails as UNAVAILABLE', async () => {
    const plain = new RemoteCalculator(server.address, { token: TOKEN, maxAttempts: 1, timeoutMs: 3_000 });
    const untrusted = new RemoteCalculator(server.address, {
      tls: true,
      token: TOKEN,
      maxAttempts: 1,
      timeoutMs: 3_000,
    });
    try {
      await assert.rejects(plain.add(1, 2), isStatus('UNAVAILABLE'));
      await assert.rejects(untrusted.add(1, 2), isStatus('UNAVAILABLE'));
    } finally {
      plain.close();
      untrusted.close();
    }
  });

  test('health answers SERVING without the token; reflection needs it and lists the service', async () => {
    const client = new grpc.Client(server.address, grpc.credentials.createSsl(ca));
    try {
      const health = await rawUnary(client, '/grpc.health.v1.Health/Check', new Uint8Array());
      assert.deepEqual([...health], [0x08, 0x01], 'HealthCheckResponse { status: SERVING }');
      const named = new TextEncoder().encode('nanocalc.v1.CalculatorService');
      const forService = await rawUnary(
        client,
        '/grpc.health.v1.Health/Check',
        new Uint8Array([0x0a, named.length, ...named]),
      );
      assert.deepEqual([...forService], [0x08, 0x01]);
      await assert.rejects(
        listServices(client, new grpc.Metadata()),
        (e: grpc.ServiceError) => e.code === grpc.status.UNAUTHENTICATED,
      );
      const metadata = new grpc.Metadata();
      metadata.set('authorization', `Bearer ${TOKEN}`);
      const listed = (await listServices(client, metadata)).toString('latin1');
      assert.ok(listed.includes('nanocalc.v1.CalculatorService'), listed);
      assert.ok(listed.includes('grpc.health.v1.Health'), listed);
    } finally {
      client.close();
    }
  });
});

describe('message size limits', () => {
  let server: Server;
  before(async () => {
    server = await startServer(['--max-message-bytes', '4096', '--max-batch-length', '100']);
  });
  after(() => server?.stop());

  test('options read from an unset environment variable (undefined) type-check and take their defaults', async () => {
    // Under exactOptionalPropertyTypes, `token: process.env.X` is `string | undefined` (issue 16).
    const calc = new RemoteCalculator(server.address, { token: process.env.NANOCALC_TEST_UNSET, timeoutMs: undefined });
    using local = new Calculator({ maxThreads: undefined });
    try {
      assert.equal(await calc.add(2, 3), local.add(2, 3));
    } finally {
      calc.close();
    }
  });

  test('an oversize request is RESOURCE_EXHAUSTED and the server keeps serving', async () => {
    const calc = new RemoteCalculator(server.address);
    try {
      const n = 300; // 300 × 16 bytes of columns: above 4096
      await assert.rejects(
        calc.batch('add', new BigInt64Array(n), new BigInt64Array(n)),
        isStatus('RESOURCE_EXHAUSTED'),
      );
      await assert.rejects(
        calc.process(new Uint8Array(5000)),
        (e: unknown) => e instanceof RemoteError && e.code === 8,
      );
      assert.equal(await calc.add(2, 3), 5, 'still serving');
      // In a stream: that message fails the stream with RESOURCE_EXHAUSTED; calls before it were answered.
      const stream = calc.stream();
      const first = stream.add(1, 1);
      const big = stream.process(new Uint8Array(5000));
      assert.equal(await first, 2);
      await assert.rejects(big, isStatus('RESOURCE_EXHAUSTED'));
      await assert.rejects(stream.end(), isStatus('RESOURCE_EXHAUSTED'));
      assert.equal(await calc.multiply(6n, 7n), 42n, 'still serving after the stream');
    } finally {
      calc.close();
    }
  });

  test('within the message size, the engine limits answer LIMIT_EXCEEDED as in-process', async () => {
    const calc = new RemoteCalculator(server.address);
    const local = new Calculator({ maxBatchLength: 100 });
    try {
      const a = new BigInt64Array(150);
      await assert.rejects(
        calc.batch('add', a, a),
        (e: unknown) => e instanceof CalculatorError && e.code === 'LIMIT_EXCEEDED',
      );
      assert.throws(
        () => local.batch('add', a, a),
        (e: unknown) => e instanceof CalculatorError && e.code === 'LIMIT_EXCEEDED',
      );
      assert.equal((await calc.batch('add', new BigInt64Array(100), new BigInt64Array(100))).length, 100);
    } finally {
      calc.close();
      local.close();
    }
  });
});
