// nanocalc-test: node-only
// The packages as a user gets them (issue 15): what the tarballs hold, the binaries' glibc floor,
// the third-party notices, publint and attw on the packed tarball, and a consumer project that
// installs the two tarballs with no cargo on PATH, type-checks with `tsc --strict` (no
// skipLibCheck) and runs the quickstart on the platform package's addon.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type * as Generated from '../native/index.js';
import type { NativeBinding } from '../src/runtime/node.js';
import { PLATFORM_DIR, type Packed, userEnv, ROOT, packBoth } from './support/pack.js';

// The hand-written binding interface (src/runtime/node.ts) must fit napi-rs's generated typings:
// this line fails to compile when the addon's functions change.
const _bindingFits: (generated: typeof Generated) => NativeBinding = (generated) => generated;

const BIN = join(ROOT, 'node_modules', '.bin');
/** The documented floor, where the build script keeps it. */
const GLIBC_FLOOR = /GLIBC_FLOOR = '([\d.]+)'/.exec(
  readFileSync(join(ROOT, 'scripts', 'build-platform.mjs'), 'utf8'),
)![1]!;

function ensureObjdump() {
  if (spawnSync('objdump', ['--version']).status === 0) return;
  execFileSync('sh', ['-c', 'apt-get update -qq && apt-get install -y -qq binutils'], { stdio: 'inherit' });
}

/** The highest GLIBC_x.y symbol version a binary asks for. */
function glibcNeeded(path: string): string {
  const table = execFileSync('objdump', ['-T', path], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const versions = [...table.matchAll(/GLIBC_(\d+)\.(\d+)(?:\.(\d+))?/g)].map((m) => m.slice(1, 4).map(Number));
  versions.sort((a, b) => a[0]! - b[0]! || a[1]! - b[1]! || (a[2] ?? 0) - (b[2] ?? 0));
  const top = versions.at(-1);
  return top === undefined ? '0' : top.filter((n) => !Number.isNaN(n)).join('.');
}

function newer(version: string, than: string): boolean {
  const a = version.split('.').map(Number);
  const b = than.split('.').map(Number);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  }
  return false;
}

describe('packaging', () => {
  let packed: { dir: string; main: Packed; platform: Packed };
  before(() => {
    packed = packBoth();
  });
  after(() => rmSync(packed.dir, { recursive: true, force: true }));

  test('the main tarball holds dist/src, the proto, README, LICENSE and the notices, nothing else', () => {
    const paths = packed.main.files.map((f) => f.path);
    const allowed = /^(dist\/src\/|proto\/.*\.proto$|README\.md$|LICENSE$|THIRD_PARTY_NOTICES\.md$|package\.json$)/;
    assert.deepEqual(
      paths.filter((p) => !allowed.test(p)),
      [],
    );
    for (const needed of [
      'dist/src/index.js',
      'dist/src/index.d.ts',
      'dist/src/cli.js',
      'LICENSE',
      'THIRD_PARTY_NOTICES.md',
    ]) {
      assert.ok(paths.includes(needed), `${needed} is in the tarball`);
    }
    assert.ok(
      !paths.some((p) => /\.node$|\.so$|nanocalc-server/.test(p)),
      'no binaries: they are in the platform package',
    );
    const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    assert.equal(manifest.optionalDependencies['@nanocalc/linux-x64-gnu'], manifest.version);
    assert.ok(manifest.repository?.url, 'repository is set');
    assert.deepEqual(
      Object.keys(manifest.scripts).filter((s) => /^(pre|post)?install$/.test(s)),
      [],
    );
  });

  test('the platform package holds the three binaries, at the main version, for linux/x64/glibc', () => {
    const paths = packed.platform.files.map((f) => f.path).sort();
    assert.deepEqual(paths, [
      'LICENSE',
      'README.md',
      'THIRD_PARTY_NOTICES.md',
      'libnanocalc_ffi.so',
      'nanocalc-server',
      'nanocalc.node',
      'package.json',
    ]);
    const manifest = JSON.parse(readFileSync(join(PLATFORM_DIR, 'package.json'), 'utf8'));
    const main = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    assert.equal(manifest.version, main.version);
    assert.deepEqual([manifest.os, manifest.cpu, manifest.libc], [['linux'], ['x64'], ['glibc']]);
  });

  test(`the binaries need no glibc newer than ${GLIBC_FLOOR} (objdump -T)`, () => {
    ensureObjdump();
    for (const file of ['nanocalc.node', 'libnanocalc_ffi.so', 'nanocalc-server']) {
      const needed = glibcNeeded(join(PLATFORM_DIR, file));
      assert.ok(!newer(needed, GLIBC_FLOOR), `${file} needs GLIBC_${needed}, above the floor ${GLIBC_FLOOR}`);
    }
  });

  test('THIRD_PARTY_NOTICES.md is current (scripts/third-party-notices.mjs --check)', () => {
    execFileSync(process.execPath, [join(ROOT, 'scripts', 'third-party-notices.mjs'), '--check'], { stdio: 'pipe' });
    const notices = readFileSync(join(ROOT, 'THIRD_PARTY_NOTICES.md'), 'utf8');
    for (const crate of ['prost', 'tonic', 'napi', 'tokio']) assert.match(notices, new RegExp(`\\| ${crate} \\|`));
  });

  test('publint and attw (esm-only profile) pass on the packed tarball', () => {
    execFileSync(join(BIN, 'publint'), ['run', packed.main.tarball, '--strict'], { stdio: 'pipe' });
    execFileSync(join(BIN, 'attw'), [packed.main.tarball, '--profile', 'esm-only', '--format', 'ascii'], {
      stdio: 'pipe',
    });
  });

  test('a consumer installs both tarballs with no cargo, type-checks with tsc --strict and runs the quickstart', () => {
    const project = mkdtempSync(join(tmpdir(), 'nanocalc-consumer-'));
    try {
      writeFileSync(join(project, 'package.json'), '{ "name": "consumer", "private": true, "type": "module" }\n');
      const env = { ...userEnv(), npm_config_audit: 'false', npm_config_fund: 'false' };
      const types = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).devDependencies['@types/node'];
      execFileSync(
        'npm',
        ['install', '--prefer-offline', packed.platform.tarball, packed.main.tarball, `@types/node@${types}`],
        { cwd: project, env, stdio: 'pipe' },
      );
      // `prepare` did not run (it would have built dist/test) and the binaries came from the platform package.
      assert.ok(!existsSync(join(project, 'node_modules', 'nanocalc', 'dist', 'test')));
      assert.ok(existsSync(join(project, 'node_modules', '@nanocalc', 'linux-x64-gnu', 'nanocalc.node')));
      const quickstart = readFileSync(join(ROOT, 'examples', 'quickstart.ts'), 'utf8');
      writeFileSync(join(project, 'quickstart.ts'), quickstart);
      writeFileSync(
        join(project, 'remote.ts'),
        "import { RemoteCalculator } from 'nanocalc/remote';\nexport const remote: typeof RemoteCalculator = RemoteCalculator;\n",
      );
      writeFileSync(
        join(project, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            strict: true,
            skipLibCheck: false,
            module: 'nodenext',
            moduleResolution: 'nodenext',
            target: 'es2022',
            lib: ['es2022', 'esnext.disposable'],
            types: ['node'],
          },
          include: ['*.ts'],
        }),
      );
      const tsc = spawnSync(join(BIN, 'tsc'), ['-p', project], { cwd: project, encoding: 'utf8' });
      assert.equal(tsc.status, 0, tsc.stdout + tsc.stderr);
      const run = spawnSync(process.execPath, [join(project, 'quickstart.js')], {
        cwd: project,
        env,
        encoding: 'utf8',
      });
      assert.equal(
        run.stdout,
        'DIVISION_BY_ZERO\n5 9223372036854775807n BigInt64Array(3) [ 11n, 22n, 33n ]\n',
        run.stderr,
      );
      const cli = spawnSync(join(project, 'node_modules', '.bin', 'nanocalc'), ['1 + 2'], { env, encoding: 'utf8' });
      assert.equal(cli.stdout, '3\n', cli.stderr);
      // The benchmark (and mitata, a devDependency) is not in the package: it says where it runs.
      const bench = spawnSync(join(project, 'node_modules', '.bin', 'nanocalc'), ['bench'], { env, encoding: 'utf8' });
      assert.equal(bench.status, 1);
      assert.match(bench.stderr, /runs from a clone of the repository/);
    } finally {
      rmSync(project, { recursive: true, force: true });
    }
  });
});

describe('the native loader', () => {
  const run = (code: string, env: Record<string, string>) =>
    spawnSync(process.execPath, ['--input-type=module', '-e', code], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      encoding: 'utf8',
    });

  test("runtime 'node-api' with no binary to be found names the platform and every path tried", () => {
    const r = run(
      "import { Calculator } from './dist/src/index.js'; try { new Calculator({ runtime: 'node-api' }); } catch (e) { console.log(e.message); }",
      { NANOCALC_NATIVE_DIR: '/nonexistent/nanocalc' },
    );
    assert.match(r.stdout, /no Node-API addon for this platform \(linux, x64, libc glibc\)/);
    assert.match(r.stdout, /tried \/nonexistent\/nanocalc\/nanocalc\.node/);
    assert.match(r.stdout, /@nanocalc\/linux-x64-gnu/);
  });

  test('NANOCALC_NATIVE_DIR is taken first, and serve finds its binary through the same loader', () => {
    const ok = run(
      "import { Calculator } from './dist/src/index.js'; const c = new Calculator(); console.log(c.add(2, 3), c.runtime); c.close();",
      { NANOCALC_NATIVE_DIR: PLATFORM_DIR },
    );
    assert.equal(ok.stdout, '5 node-api\n', ok.stderr);
    const { NANOCALC_SERVER_BIN: _, ...env } = process.env;
    const serve = spawnSync(process.execPath, [join(ROOT, 'dist', 'src', 'cli.js'), 'serve'], {
      env: { ...env, NANOCALC_NATIVE_DIR: '/nonexistent/nanocalc' },
      encoding: 'utf8',
    });
    assert.equal(serve.status, 1);
    assert.match(
      serve.stderr,
      /no nanocalc-server binary for this platform .*tried \/nonexistent\/nanocalc\/nanocalc-server/,
    );
  });
});
