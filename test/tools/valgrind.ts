// Runs Rust test binaries of nanocalc-core and nanocalc-ffi under valgrind memcheck and fails on
// any memory error or leak (definite or indirect). `npm run test:valgrind` (in npm test) runs the
// fast ones: the core's unit, engine and allocation tests, the C ABI's unit tests, and the panic
// tests of both (the forced-panic build, so unwinding paths are checked too); `-- --long` adds
// the differential property tests (about five minutes under valgrind).
//
// "Possibly lost" blocks are not counted: the test harness's own threads leave some at exit.
// Tests run on one thread (--test-threads=1) for the same reason.

import { execFileSync, spawnSync } from 'node:child_process';

const long = process.argv.includes('--long');

/** valgrind, installed from Debian's packages when it is missing (a fresh machine's CI run). */
function ensureValgrind(): void {
  if (spawnSync('valgrind', ['--version'], { stdio: 'ignore' }).status === 0) return;
  console.log('valgrind is missing: installing it with apt-get');
  for (const args of [['update'], ['install', '-y', '--no-install-recommends', 'valgrind']]) {
    const run = spawnSync('apt-get', args, {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    if (run.status !== 0) throw new Error(`apt-get ${args.join(' ')} failed: install valgrind to run these tests`);
  }
}
ensureValgrind();

interface Binary {
  name: string;
  path: string;
}

function testBinaries(args: string[]): Binary[] {
  const output = execFileSync('cargo', ['test', '--no-run', '--message-format=json', ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 64 << 20,
  });
  const binaries: Binary[] = [];
  for (const line of output.split('\n')) {
    if (!line.startsWith('{')) continue;
    const message = JSON.parse(line) as {
      reason?: string;
      executable?: string | null;
      profile?: { test?: boolean };
      target?: { name: string; kind: string[] };
      package_id?: string;
    };
    if (message.reason !== 'compiler-artifact' || !message.executable || !message.profile?.test) continue;
    binaries.push({
      name: `${message.package_id?.match(/nanocalc-\w+/)?.[0] ?? '?'}:${message.target!.name}`,
      path: message.executable,
    });
  }
  return binaries;
}

const wanted = new Set([
  'nanocalc-core:nanocalc_core',
  'nanocalc-core:engine',
  'nanocalc-core:allocations',
  'nanocalc-ffi:nanocalc_ffi',
]);
if (long) wanted.add('nanocalc-core:differential');
const binaries = [
  ...testBinaries(['-p', 'nanocalc-core', '-p', 'nanocalc-ffi']).filter((b) => wanted.has(b.name)),
  ...testBinaries([
    '-p',
    'nanocalc-core',
    '-p',
    'nanocalc-ffi',
    '--features',
    'nanocalc-core/test-panic,nanocalc-ffi/test-panic',
    '--test',
    'panic',
    '--target-dir',
    'target/test-panic',
  ]).map((b) => ({ ...b, name: `${b.name} (test-panic)` })),
];

let failed = 0;
let tests = 0;
for (const binary of binaries) {
  const started = Date.now();
  const run = spawnSync(
    'valgrind',
    [
      '--quiet',
      '--leak-check=full',
      '--show-leak-kinds=definite,indirect',
      '--errors-for-leak-kinds=definite,indirect',
      '--error-exitcode=99',
      binary.path,
      '--test-threads=1',
    ],
    { encoding: 'utf8', env: { ...process.env, RUST_BACKTRACE: '0' }, maxBuffer: 64 << 20 },
  );
  const passed = Number(/test result: ok\. (\d+) passed/.exec(run.stdout)?.[1] ?? 0);
  tests += passed;
  const errors = run.stderr.split('\n').filter((line) => /^==\d+==/.test(line));
  const ok = run.status === 0 && errors.length === 0;
  if (!ok) {
    failed++;
    console.error(run.stdout.slice(-2000), errors.join('\n').slice(0, 20_000));
  }
  console.log(
    `valgrind ${ok ? 'clean' : 'FAILED'}: ${binary.name}, ${passed} tests, ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
}
console.log(`valgrind: ${binaries.length} binaries, ${tests} tests, ${failed} with errors or leaks`);
if (failed > 0 || binaries.length < wanted.size + 2) process.exit(1);
