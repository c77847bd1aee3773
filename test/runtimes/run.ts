// Runs the contract suite (the compiled dist/test/*.test.js that test the in-process Calculator,
// and dist/test/runtimes/*.test.js) under Bun or Deno, with the binary their npm packages ship:
//
//   node dist/test/runtimes/run.js bun|deno [file.test.js ...]
//
// Bun runs node:test suites with `bun test`, Deno with `deno test` (its node:test support). Left
// out, as Node-only: remote-*.test.js (RemoteCalculator, a Node gRPC client, against
// nanocalc-server processes: not the in-process engine these runtimes change), hardening-panic
// (a test build of the Node-API addon swapped in through Node's module cache), and any test file
// with a line `// nanocalc-test: node-only`.
// Prints the runner's output, then one line `<runtime>: N passed, N failed`.
//
// With NANOCALC_TEST_RUNTIME=js (npm run test:js), the suite runs on the TypeScript engine: every
// Calculator a test makes without a `runtime` option is `runtime: 'js'` (test/support/js-runtime.ts,
// mapped in for 'nanocalc' by a module hook on Node, a plugin on Bun, an import map on Deno), over
// the files of jsContractFiles(); `node` is then a runtime too (`run.js node|bun|deno`).

import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const require = createRequire(join(root, 'package.json'));

/** A file that is a real executable, not the placeholder a wrapper package ships before its postinstall. */
function isBinary(path: string): boolean {
  return existsSync(path) && statSync(path).size > 1_000_000;
}

function packageDir(name: string): string | undefined {
  try {
    return dirname(require.resolve(`${name}/package.json`));
  } catch {
    return undefined;
  }
}

/**
 * The runtime's binary from node_modules. Each wrapper package (`bun`, `deno`) depends on an
 * optional per-platform package holding the binary; its postinstall moves or links the binary
 * into the wrapper. This takes the platform package's binary, or the wrapper's once installed,
 * so it works whether or not npm ran the install scripts.
 */
export function runtimeBinary(runtime: 'bun' | 'deno'): string {
  const windows = process.platform === 'win32';
  const arch = process.arch === 'arm64' ? (runtime === 'bun' ? 'aarch64' : 'arm64') : 'x64';
  const candidates: string[] = [];
  if (runtime === 'bun') {
    const platform = windows ? 'windows' : process.platform;
    const dir = packageDir(`@oven/bun-${platform}-${arch}`);
    if (dir) candidates.push(join(dir, 'bin', windows ? 'bun.exe' : 'bun'));
    const wrapper = packageDir('bun');
    if (wrapper) candidates.push(join(wrapper, 'bin', 'bun.exe'));
  } else {
    const platform = process.platform === 'linux' ? `linux-${arch}-glibc` : `${process.platform}-${arch}`;
    const dir = packageDir(`@deno/${platform}`);
    if (dir) candidates.push(join(dir, windows ? 'deno.exe' : 'deno'));
    const wrapper = packageDir('deno');
    if (wrapper) candidates.push(join(wrapper, windows ? 'deno.exe' : 'deno'));
  }
  const found = candidates.find(isBinary);
  if (found === undefined) {
    throw new Error(
      `no ${runtime} binary in node_modules (looked at ${candidates.join(', ') || 'nothing'}): run npm install`,
    );
  }
  return found;
}

const NODE_ONLY = [/^remote-/, /^hardening-panic\.test\.js$/];

/** The contract suite, as paths relative to the repository root. */
export function contractFiles(): string[] {
  const dir = join(root, 'dist/test');
  const top = readdirSync(dir)
    .filter((f) => f.endsWith('.test.js') && !NODE_ONLY.some((pattern) => pattern.test(f)))
    .map((f) => join(dir, f))
    .filter((path) => !/^\/\/ nanocalc-test: node-only$/m.test(readFileSync(path, 'utf8')));
  const runtimes = readdirSync(join(dir, 'runtimes'))
    .filter((f) => f.endsWith('.test.js'))
    .map((f) => join(dir, 'runtimes', f));
  return [...top, ...runtimes].sort().map((f) => relative(root, f));
}

/**
 * The contract suite on the TypeScript engine: the files above but those that test something
 * else than a Calculator's answers (the comparison of the two engines, which runs on every path
 * anyway; the runtime option's defaults; the codec and bench report alone; child processes and
 * garbage collection of the native engine).
 */
const NOT_ON_JS = [
  /\/js-engine\.test\.js$/,
  /\/runtimes\/runtime\.test\.js$/,
  /\/codec\.test\.js$/,
  /\/bench-report\.test\.js$/,
  /\/hardening-(gc|soak|workers)\.test\.js$/,
];
export function jsContractFiles(): string[] {
  return contractFiles().filter((f) => !NOT_ON_JS.some((pattern) => pattern.test(f)));
}

/** The file that maps 'nanocalc' to test/support/js-runtime.ts (a Node hook, or a Bun plugin). */
const JS_REGISTER = 'dist/test/support/js-runtime-register.js';

/** Deno's import map for the same: written next to it on first use. */
function denoImportMap(): string {
  const path = join(root, 'dist/test/support/js-runtime.import-map.json');
  writeFileSync(path, JSON.stringify({ imports: { nanocalc: './js-runtime.js' } }));
  return relative(root, path);
}

async function main(): Promise<void> {
  const runtime = process.argv[2];
  const onJs = process.env.NANOCALC_TEST_RUNTIME === 'js';
  if (runtime !== 'bun' && runtime !== 'deno' && !(onJs && runtime === 'node')) {
    console.error('usage: [NANOCALC_TEST_RUNTIME=js] node dist/test/runtimes/run.js bun|deno|node [file.test.js ...]');
    process.exit(2);
  }
  const files = process.argv.length > 3 ? process.argv.slice(3) : onJs ? jsContractFiles() : contractFiles();
  const binary = runtime === 'node' ? process.execPath : runtimeBinary(runtime);
  const args =
    runtime === 'node'
      ? ['--import', `./${JS_REGISTER}`, '--test', '--test-timeout=600000', ...files]
      : runtime === 'bun'
        ? [
            'test',
            '--timeout',
            '120000',
            ...(onJs ? ['--preload', `./${JS_REGISTER}`] : []),
            ...files.map((f) => `./${f}`),
          ]
        : // FFI for the engine, the rest for the suite (reading files, running the README example).
          [
            'test',
            '--no-check',
            '--allow-ffi',
            '--allow-read',
            '--allow-env',
            '--allow-run',
            '--allow-sys',
            ...(onJs ? [`--import-map=${denoImportMap()}`] : []),
            ...files,
          ];
  const version = await output(binary, ['--version']);
  console.log(`${runtime} ${version.split('\n')[0]!.trim()} (${relative(root, binary)}): ${files.length} files`);
  const child = spawn(binary, args, {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1' },
  });
  let text = '';
  child.stdout.on('data', (chunk: Buffer) => {
    text += chunk.toString();
    process.stdout.write(chunk);
  });
  child.stderr.on('data', (chunk: Buffer) => {
    text += chunk.toString();
    process.stderr.write(chunk);
  });
  const code = await new Promise<number>((resolve) => child.on('close', (status) => resolve(status ?? 1)));
  // bun prints " 155 pass" / " 0 fail", counting tests. deno prints "ok | 24 passed (153 steps) |
  // 0 failed", counting each describe block as a test and the tests inside it as steps, so the
  // tests are counted here from its lines: each "name ... ok" or "name ... FAILED" that did not
  // open with a "name ..." line of its own (a block).
  let passed: number | undefined;
  let failed: number | undefined;
  if (runtime === 'node') {
    // node --test ends with "# pass 199" / "# fail 0".
    passed = Number(/^# pass (\d+)$/m.exec(text)?.[1]);
    failed = Number(/^# fail (\d+)$/m.exec(text)?.[1]);
  } else if (runtime === 'bun') {
    passed = Number(/^\s*(\d+) pass$/m.exec(text)?.[1]);
    failed = Number(/^\s*(\d+) fail$/m.exec(text)?.[1]);
  } else if (/^(ok|FAILED) \| \d+ passed/m.test(text)) {
    const blocks = new Set<string>();
    passed = 0;
    failed = 0;
    for (const line of text.split('\n')) {
      const opened = /^(\s*.*) \.\.\.$/.exec(line);
      if (opened) blocks.add(opened[1]!);
      const result = /^(\s*.*) \.\.\. (ok|FAILED)\b/.exec(line);
      if (result && !blocks.has(result[1]!)) {
        if (result[2] === 'ok') passed++;
        else failed++;
      }
    }
  }
  if (passed === undefined || failed === undefined || Number.isNaN(passed) || Number.isNaN(failed)) {
    console.error(`${runtime}: no test summary found`);
    process.exit(code === 0 ? 1 : code);
  }
  console.log(`${runtime}${onJs ? " (runtime: 'js')" : ''}: ${passed} passed, ${failed} failed`);
  process.exit(code !== 0 ? code : failed > 0 ? 1 : 0);
}

function output(binary: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
    child.on('error', reject);
    child.on('close', () => resolve(text));
  });
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) await main();
