// nanocalc-test: node-only
// `npm install nanocalc` as a user does it, hermetic on this machine (issue 15): a private registry
// (verdaccio on 127.0.0.1, no uplink) holding the packed platform package, the main package and its
// runtime dependencies; clean projects whose PATH has no cargo install it with npm, pnpm and Bun, run
// the README's quickstart, `npx nanocalc '1 + 2'` and `npx nanocalc serve` answered by a
// RemoteCalculator; Deno imports it with `npm:`; and an install for arm64 skips the platform package.
import assert from 'node:assert/strict';
import { type SpawnSyncOptions, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runtimeBinary } from './runtimes/run.js';
import { packBoth, ROOT, userEnv } from './support/pack.js';
import { packDependencies, publish, type Registry, startRegistry } from './support/registry.js';

const BIN = join(ROOT, 'node_modules', '.bin');
const QUICKSTART_OUTPUT = 'DIVISION_BY_ZERO\n5 9223372036854775807n BigInt64Array(3) [ 11n, 22n, 33n ]\n';
const VERSION = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version as string;

/** Prints the runtime a default Calculator takes, and 2 + 3 through it. */
const RUNTIME_CHECK =
  "import { Calculator } from 'nanocalc'; const c = new Calculator(); console.log(c.runtime, c.add(2, 3)); c.close();";

/** Starts `nanocalc serve` through npx, asks it 2 + 3 with RemoteCalculator, stops it. */
const SERVE_CHECK = `
import { spawn } from 'node:child_process';
import { RemoteCalculator } from 'nanocalc/remote';
const server = spawn('npx', ['--no', 'nanocalc', 'serve', '--addr', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'inherit'] });
let out = '';
const address = await new Promise((resolve, reject) => {
  server.stdout.on('data', (chunk) => { out += chunk; const m = /listening on (\\S+)/.exec(out); if (m) resolve(m[1]); });
  server.on('exit', (code) => reject(new Error('serve exited ' + code)));
});
const remote = new RemoteCalculator(address);
console.log(String(await remote.add(2, 3)));
remote.close();
server.kill('SIGTERM');
`;

describe('install from a registry (verdaccio on 127.0.0.1)', { timeout: 300_000 }, () => {
  let work: string;
  let registry: Registry;
  let env: NodeJS.ProcessEnv;
  let packedDir: string | undefined;

  /** A clean project with the quickstart and the checks in it. */
  function project(name: string): string {
    const dir = join(work, name);
    mkdirSync(dir);
    writeFileSync(join(dir, 'package.json'), `{ "name": "${name}", "private": true, "type": "module" }\n`);
    copyFileSync(join(ROOT, 'dist', 'examples', 'quickstart.js'), join(dir, 'quickstart.mjs'));
    writeFileSync(join(dir, 'runtime.mjs'), RUNTIME_CHECK);
    writeFileSync(join(dir, 'serve.mjs'), SERVE_CHECK);
    return dir;
  }

  function run(command: string, args: string[], cwd: string, extra: SpawnSyncOptions = {}) {
    const r = spawnSync(command, args, { cwd, env, encoding: 'utf8', timeout: 120_000, ...extra });
    assert.equal(r.status, 0, `${command} ${args.join(' ')}: ${r.stdout}${r.stderr}`);
    return String(r.stdout);
  }

  /** The quickstart, the command line and serve, all from `dir`'s node_modules. */
  function checkInstalled(dir: string) {
    // 'node-api' with no native/ in the installed package: the addon came from the platform package.
    assert.equal(run(process.execPath, ['quickstart.mjs'], dir), QUICKSTART_OUTPUT);
    assert.equal(run(process.execPath, ['runtime.mjs'], dir), 'node-api 5\n');
    assert.equal(run('npx', ['--no', 'nanocalc', '1 + 2'], dir), '3\n');
    assert.equal(run(process.execPath, ['serve.mjs'], dir), '5\n');
  }

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'nanocalc-install-'));
    const packs = join(work, 'packs');
    mkdirSync(packs);
    const { dir: packed, main, platform } = packBoth();
    packedDir = packed;
    registry = await startRegistry(join(work, 'registry'));
    for (const tarball of [...packDependencies(packs), platform.tarball, main.tarball])
      await publish(registry, tarball);
    env = {
      ...userEnv(),
      // Every client asks only the private registry, with caches of its own (nothing from the machine's).
      npm_config_registry: `${registry.url}/`,
      NPM_CONFIG_REGISTRY: `${registry.url}/`,
      npm_config_cache: join(work, 'npm-cache'),
      npm_config_audit: 'false',
      npm_config_fund: 'false',
      npm_config_update_notifier: 'false',
      BUN_INSTALL_CACHE_DIR: join(work, 'bun-cache'),
      DENO_DIR: join(work, 'deno-dir'),
    };
  });
  after(async () => {
    await registry?.stop();
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
    if (packedDir !== undefined) rmSync(packedDir, { recursive: true, force: true });
  });

  test('npm install nanocalc: the quickstart, npx nanocalc, serve and a RemoteCalculator', () => {
    const dir = project('with-npm');
    run('npm', ['install', `nanocalc@${VERSION}`], dir);
    assert.ok(!existsSync(join(dir, 'node_modules', 'nanocalc', 'dist', 'test')), 'prepare did not run');
    assert.ok(existsSync(join(dir, 'node_modules', '@nanocalc', 'linux-x64-gnu', 'nanocalc.node')));
    checkInstalled(dir);
  });

  test('pnpm add nanocalc: the same', () => {
    const dir = project('with-pnpm');
    // pnpm keeps registry metadata in ~/.cache/pnpm by host and port: a registry of an earlier run on
    // the same port made it expect that run's tarballs (ERR_PNPM_TARBALL_INTEGRITY).
    const pnpmDirs = ['--store-dir', join(work, 'pnpm-store'), '--cache-dir', join(work, 'pnpm-cache')];
    run(join(BIN, 'pnpm'), ['add', `nanocalc@${VERSION}`, ...pnpmDirs], dir);
    checkInstalled(dir);
  });

  test('bun add nanocalc: the same, and the quickstart on Bun (bun:ffi)', () => {
    const dir = project('with-bun');
    const bun = runtimeBinary('bun');
    run(bun, ['add', `nanocalc@${VERSION}`], dir);
    checkInstalled(dir);
    assert.equal(run(bun, ['runtime.mjs'], dir), 'bun-ffi 5\n');
  });

  test("deno imports it with 'npm:' (Deno.dlopen)", () => {
    // A folder with no package.json: Deno resolves `npm:` itself, into its own cache.
    const dir = join(work, 'with-deno');
    mkdirSync(dir);
    const code = RUNTIME_CHECK.replace("from 'nanocalc'", `from 'npm:nanocalc@${VERSION}'`);
    assert.equal(
      run(runtimeBinary('deno'), ['eval', '--quiet', '--minimum-dependency-age=0', code], dir),
      'deno-ffi 5\n',
    );
  });

  // Needs the pure-TypeScript engine (runtime 'js', another branch of issue 15) connected at the
  // fallback hook in src/runtime/open.ts: the lead removes this skip when merging it.
  const jsEngine = existsSync(join(ROOT, 'dist', 'src', 'runtime', 'js.js'));
  test('npm install --cpu arm64 skips the platform package, and the quickstart runs on the TypeScript engine', {
    skip: jsEngine ? false : "the TypeScript engine (runtime 'js') is not on this branch yet",
  }, () => {
    const dir = project('for-arm64');
    run('npm', ['install', '--cpu', 'arm64', `nanocalc@${VERSION}`], dir);
    assert.ok(!existsSync(join(dir, 'node_modules', '@nanocalc', 'linux-x64-gnu')), 'the platform package was skipped');
    assert.equal(run(process.execPath, ['quickstart.mjs'], dir), QUICKSTART_OUTPUT);
    assert.equal(run(process.execPath, ['runtime.mjs'], dir), 'js 5\n');
  });
});
