// nanocalc-test: node-only
// TLS as the README documents it, end to end: nanocalc-selfsigned makes the certificate,
// `nanocalc serve --tls-cert --tls-key` serves, a RemoteCalculator calls `localhost:PORT` with the
// certificate as its CA; neither side prints a warning. And the errors of a TLS mismatch.

import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, SELFSIGNED_BIN, startServer, stopAll } from './support/servers.js';

const CLI = join(ROOT, 'dist', 'src', 'cli.js');
const DIR = mkdtempSync(join(tmpdir(), 'nanocalc-cli-tls-'));
after(async () => {
  await stopAll();
  rmSync(DIR, { recursive: true, force: true });
});

/**
 * Runs `new RemoteCalculator(endpoint, options).add(2, 3)` in a fresh node (on the default transport, or
 * `transport`): its stdout and stderr.
 */
function client(endpoint: string, tls: 'ca' | 'none', transport?: 'grpc-js'): { stdout: string; stderr: string } {
  const script = join(DIR, 'client.mjs');
  writeFileSync(
    script,
    `import { readFileSync } from 'node:fs';
import { RemoteCalculator } from ${JSON.stringify(join(ROOT, 'dist', 'src', 'remote', 'index.js'))};
const [endpoint, tls, ca, transport] = process.argv.slice(2);
const calc = new RemoteCalculator(endpoint, { timeoutMs: 5_000, transport, ...(tls === 'ca' ? { tls: { ca: readFileSync(ca) } } : {}) });
try { console.log(String(await calc.add(2, 3))); } catch (e) { console.log('error: ' + e.message); } finally { calc.close(); }
`,
  );
  const args = [script, endpoint, tls, join(DIR, 'certs', 'cert.pem'), ...(transport ? [transport] : [])];
  const r = spawnSync(process.execPath, args, {
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { stdout: r.stdout, stderr: r.stderr };
}

describe('nanocalc-selfsigned', () => {
  test('--help says what it writes and how to use it; no directory is a usage error', () => {
    const help = spawnSync(SELFSIGNED_BIN, ['--help'], { encoding: 'utf8' });
    assert.equal(help.status, 0, help.stderr);
    for (const word of ['--out-dir', '--name', '--ip', 'cert.pem', 'key.pem', '--tls-cert'])
      assert.ok(help.stdout.includes(word), word);
    const none = spawnSync(SELFSIGNED_BIN, [], { encoding: 'utf8' });
    assert.equal(none.status, 2);
    assert.match(none.stderr, /--out-dir/);
  });

  test('--out-dir DIR --name localhost --ip 127.0.0.1: both in the SANs, the key readable by its owner only', () => {
    execFileSync(SELFSIGNED_BIN, ['--out-dir', join(DIR, 'certs'), '--name', 'localhost', '--ip', '127.0.0.1']);
    const cert = new X509Certificate(readFileSync(join(DIR, 'certs', 'cert.pem')));
    assert.equal(cert.subjectAltName, 'DNS:localhost, IP Address:127.0.0.1');
    if (process.platform !== 'win32') assert.equal(statSync(join(DIR, 'certs', 'key.pem')).mode & 0o077, 0);
    execFileSync(SELFSIGNED_BIN, [
      '--out-dir',
      join(DIR, 'more'),
      '--name',
      'calc.internal',
      '--name',
      'localhost',
      '--ip',
      '10.0.0.1',
    ]);
    assert.equal(
      new X509Certificate(readFileSync(join(DIR, 'more', 'cert.pem'))).subjectAltName,
      'DNS:calc.internal, DNS:localhost, IP Address:10.0.0.1',
    );
  });
});

describe('TLS as the README documents it', () => {
  test('nanocalc serve --tls-cert/--tls-key, a client on localhost:PORT with { tls: { ca } }: an answer, no warning on either side', async () => {
    execFileSync(SELFSIGNED_BIN, ['--out-dir', join(DIR, 'certs'), '--name', 'localhost', '--ip', '127.0.0.1']);
    const certs = join(DIR, 'certs');
    const server = await startServer(['--tls-cert', join(certs, 'cert.pem'), '--tls-key', join(certs, 'key.pem')], {
      command: [process.execPath, CLI, 'serve'],
    });
    const port = server.address.slice(server.address.lastIndexOf(':') + 1);
    const r = client(`localhost:${port}`, 'ca');
    assert.deepEqual(r, { stdout: '5\n', stderr: '' });
    await server.stop();
    assert.doesNotMatch(server.logs, /WARN|Illegal SNI/, server.logs);
  });

  test('the same by IP address (what the README showed before) warns on both sides through grpc-js: what the test above rules out', async () => {
    const certs = join(DIR, 'certs');
    execFileSync(SELFSIGNED_BIN, ['--out-dir', certs, '--name', 'localhost', '--ip', '127.0.0.1']);
    const server = await startServer(['--tls-cert', join(certs, 'cert.pem'), '--tls-key', join(certs, 'key.pem')]);
    const r = client(server.address, 'ca', 'grpc-js');
    assert.equal(r.stdout, '5\n');
    assert.match(r.stderr, /DEP0123/);
    await server.stop();
    assert.match(server.logs, /Illegal SNI extension/);
  });

  test('by IP address through the default node:http2 transport: no server name sent, no warning on either side', async () => {
    const certs = join(DIR, 'certs');
    execFileSync(SELFSIGNED_BIN, ['--out-dir', certs, '--name', 'localhost', '--ip', '127.0.0.1']);
    const server = await startServer(['--tls-cert', join(certs, 'cert.pem'), '--tls-key', join(certs, 'key.pem')]);
    const r = client(server.address, 'ca');
    assert.deepEqual(r, { stdout: '5\n', stderr: '' });
    await server.stop();
    assert.doesNotMatch(server.logs, /WARN|Illegal SNI/, server.logs);
  });

  test('a plaintext client against a TLS server: an error that names TLS, no empty "Resolution note"', async () => {
    const certs = join(DIR, 'certs');
    execFileSync(SELFSIGNED_BIN, ['--out-dir', certs]);
    const server = await startServer(['--tls-cert', join(certs, 'cert.pem'), '--tls-key', join(certs, 'key.pem')]);
    const r = client(server.address, 'none');
    assert.match(r.stdout, /^error: nanocalc remote: UNAVAILABLE \(14\).*pass tls: true or \{ ca \}/);
    assert.doesNotMatch(r.stdout, /Resolution note/);
  });

  test('a TLS client against a plaintext server: an error that says so', async () => {
    const server = await startServer([]);
    const port = server.address.slice(server.address.lastIndexOf(':') + 1);
    const r = client(`localhost:${port}`, 'ca');
    assert.match(r.stdout, /^error: .*does not speak TLS: omit the tls option/s);
    assert.doesNotMatch(r.stdout, /Resolution note/);
  });
});
