// A private npm registry for the install test: verdaccio on 127.0.0.1 with a temporary storage and no
// uplink (it serves only what the test publishes), and a publish that sends what `npm publish` sends.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { ROOT } from './pack.js';

export interface Registry {
  url: string;
  token: string;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Starts verdaccio with its storage in `dir`, and a user to publish as. */
export async function startRegistry(dir: string): Promise<Registry> {
  mkdirSync(dir, { recursive: true });
  const config = join(dir, 'verdaccio.yaml');
  writeFileSync(
    config,
    `storage: ${join(dir, 'storage')}
auth:
  htpasswd:
    file: ${join(dir, 'htpasswd')}
    max_users: 1
max_body_size: 200mb
uplinks: {}
packages:
  '**':
    access: $all
    publish: $authenticated
log: { type: stdout, format: pretty, level: error }
`,
  );
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(
    process.execPath,
    [join(ROOT, 'node_modules', 'verdaccio', 'bin', 'verdaccio'), '--config', config, '--listen', `127.0.0.1:${port}`],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let exited = false;
  // Stopped with the test process too, even when a failed hook keeps `stop()` from being called.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  child.on('exit', () => {
    exited = true;
    process.off('exit', killOnExit);
  });
  // It listens after a few seconds: poll its ping endpoint (bounded, it stops by itself).
  for (let attempt = 0; ; attempt++) {
    if (exited) throw new Error('verdaccio exited before it listened');
    try {
      if ((await fetch(`${url}/-/ping`)).ok) break;
    } catch {
      // not listening yet
    }
    if (attempt > 300) throw new Error('verdaccio did not listen within 60 s');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const created = await fetch(`${url}/-/user/org.couchdb.user:nanocalc`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'nanocalc', password: 'install-test-only' }),
  });
  const { token } = (await created.json()) as { token: string };
  return {
    url,
    token,
    stop: () =>
      new Promise((resolve) => {
        if (exited) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** Publishes a package tarball, as `npm publish` does (one PUT with the manifest and the tarball). */
export async function publish(registry: Registry, tarball: string): Promise<void> {
  const data = readFileSync(tarball);
  // The tarball's top folder is `package/` for npm's own packs, another name for some published ones.
  const manifestPath = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
    .split('\n')
    .filter((path) => /^[^/]+\/package\.json$/.test(path))[0]!;
  const manifest = JSON.parse(execFileSync('tar', ['-xzOf', tarball, manifestPath], { encoding: 'utf8' })) as {
    name: string;
    version: string;
  };
  const { name, version } = manifest;
  const filename = `${name.replace(/^@[^/]+\//, '')}-${version}.tgz`;
  const body = {
    _id: name,
    name,
    'dist-tags': { latest: version },
    versions: {
      [version]: {
        ...manifest,
        _id: `${name}@${version}`,
        dist: {
          shasum: createHash('sha1').update(data).digest('hex'),
          integrity: `sha512-${createHash('sha512').update(data).digest('base64')}`,
          tarball: `${registry.url}/${name}/-/${filename}`,
        },
      },
    },
    _attachments: {
      [filename]: { content_type: 'application/octet-stream', data: data.toString('base64'), length: data.length },
    },
  };
  const put = () =>
    fetch(`${registry.url}/${name.replace('/', '%2f')}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${registry.token}` },
      body: JSON.stringify(body),
    });
  // verdaccio drops the connection of its very first publish now and then (EPIPE while the body is
  // sent): one retry, after which a failure is real.
  const response = await put().catch(() => new Promise((resolve) => setTimeout(resolve, 500)).then(put));
  if (!response.ok) throw new Error(`publishing ${name}@${version}: ${response.status} ${await response.text()}`);
}

/**
 * The main package's runtime dependencies, every one at the version package-lock.json holds, as
 * tarballs packed from npm's cache into `dir` (the registry has no uplink to fetch them).
 */
export function packDependencies(dir: string): string[] {
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { version?: string; dev?: boolean; optional?: boolean }>;
  };
  const specs = Object.entries(lock.packages)
    .filter(([path, entry]) => path !== '' && entry.dev !== true && entry.optional !== true)
    .map(([path, entry]) => `${path.replace(/^.*node_modules\//, '')}@${entry.version}`);
  const output = execFileSync(
    'npm',
    ['pack', '--json', '--prefer-offline', '--pack-destination', dir, ...new Set(specs)],
    {
      cwd: dir,
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  return (JSON.parse(output) as { filename: string }[]).map((report) => join(dir, report.filename));
}
