// Mutual TLS (--tls-client-ca): a client needs a certificate signed by the server's client
// authority; without one, or with one from another authority, the handshake fails before any call
// (the server's metrics show none started). The bearer token still applies on top.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { RemoteCalculator, RemoteError } from 'nanocalc/remote';
import {
  type Server,
  metric,
  mutualTlsCertificates,
  scrapeMetrics,
  startServerWithMetrics,
  stopAll,
} from './support/servers.js';

after(stopAll);

const TOKEN = `mtls-token-${Math.random().toString(36).slice(2)}`;

function isStatus(status: string) {
  return (e: unknown) => e instanceof RemoteError && e.status === status;
}

describe('mutual TLS', () => {
  let server: Server & { metricsAddress: string };
  let certs: ReturnType<typeof mutualTlsCertificates>;
  let other: ReturnType<typeof mutualTlsCertificates>;
  let ca: Buffer;
  before(async () => {
    certs = mutualTlsCertificates();
    other = mutualTlsCertificates(); // another client authority, and a client certificate it signed
    ca = readFileSync(certs.cert);
    const tls = ['--tls-cert', certs.cert, '--tls-key', certs.key, '--tls-client-ca', certs.clientCa];
    server = await startServerWithMetrics(tls, { env: { NANOCALC_TOKEN: TOKEN } });
  });
  after(async () => {
    await server?.stop();
    certs?.remove();
    other?.remove();
  });

  const started = async () => metric(await scrapeMetrics(server.metricsAddress), 'grpc_server_started_total');
  const computed = async () => metric(await scrapeMetrics(server.metricsAddress), 'nanocalc_engine_requests_total');

  test('without a client certificate, or with one from another authority, nothing is computed', async () => {
    const clients = [
      new RemoteCalculator(server.address, { tls: { ca }, token: TOKEN, maxAttempts: 1, timeoutMs: 5_000 }),
      new RemoteCalculator(server.address, {
        tls: { ca, cert: readFileSync(other.clientCert), key: readFileSync(other.clientKey) },
        token: TOKEN,
        maxAttempts: 1,
        timeoutMs: 5_000,
      }),
      // A client presenting the server's own (self-signed) certificate: not signed by the client CA.
      new RemoteCalculator(server.address, {
        tls: { ca, cert: readFileSync(certs.cert), key: readFileSync(certs.key) },
        token: TOKEN,
        maxAttempts: 1,
        timeoutMs: 5_000,
      }),
    ];
    try {
      for (const calc of clients) {
        await assert.rejects(calc.add(1, 2), isStatus('UNAVAILABLE'));
        const stream = calc.stream();
        await assert.rejects(stream.add(1, 2));
        await stream.end().catch(() => {});
      }
    } finally {
      for (const calc of clients) calc.close();
    }
    assert.equal(await started(), 0, 'no call reached the server');
    assert.equal(await computed(), 0);
    assert.match(server.logs, /./, 'the server is still up');
  });

  test('the right client certificate with the token works; without the token it is UNAUTHENTICATED', async () => {
    const identity = { ca, cert: readFileSync(certs.clientCert), key: readFileSync(certs.clientKey) };
    const good = new RemoteCalculator(server.address, { tls: identity, token: TOKEN });
    const noToken = new RemoteCalculator(server.address, { tls: identity });
    try {
      const before = await computed();
      assert.equal(await good.add(40, 2), 42);
      assert.deepEqual([...(await good.batch('multiply', [2n, 3n], [5n, 7n]))], [10n, 21n]);
      const stream = good.stream();
      assert.equal(await stream.subtract(1n, 3n), -2n);
      await stream.end();
      assert.equal(await computed(), before + 3);
      await assert.rejects(noToken.add(1, 2), isStatus('UNAUTHENTICATED'));
      assert.equal(await computed(), before + 3, 'the token is still required on top of the certificate');
    } finally {
      good.close();
      noToken.close();
    }
  });

  test('tls.cert without tls.key is refused at once', () => {
    assert.throws(
      () => new RemoteCalculator(server.address, { tls: { ca, cert: readFileSync(certs.clientCert) } }),
      TypeError,
    );
  });
});
