// nanocalc-test: node-only
// The `nanocalc` command, run as the real binary: `node dist/src/cli.js`, once through
// `npx --no-install nanocalc` (the package's bin), the REPL through piped stdin and through a
// pseudo-terminal (util-linux `script`).

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'dist', 'src', 'cli.js');
const TMP = mkdtempSync(join(tmpdir(), 'nanocalc-cli-'));
process.on('exit', () => rmSync(TMP, { recursive: true, force: true }));
const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[], input?: string, env: Record<string, string> = {}): Run {
  const result = spawnSync(process.execPath, [CLI, ...args], {
    input,
    encoding: 'utf8',
    timeout: 30_000,
    env: { ...process.env, NANOCALC_HISTORY: '', ...env },
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** The column of the caret in the line under `text` in `stderr`. */
function caretColumn(stderr: string, text: string): number {
  const lines = stderr.split('\n');
  const at = lines.indexOf(`  ${text}`);
  assert.ok(at >= 0, `the text is shown: ${stderr}`);
  const caret = lines[at + 1]!;
  assert.match(caret, /^ *\^$/, stderr);
  return caret.length - 1 - 2;
}

describe('nanocalc <expression>', () => {
  test('prints the result and exits 0', () => {
    assert.deepEqual(run(['1 + 2 * 3']), { status: 0, stdout: '7\n', stderr: '' });
    assert.deepEqual(run(['2 * (3 + -4) % 5']), { status: 0, stdout: '-2\n', stderr: '' });
    assert.deepEqual(run(['-9223372036854775808 / -1']), { status: 0, stdout: '9223372036854775807\n', stderr: '' });
  });

  test('arguments are joined by spaces; -- and a leading minus', () => {
    assert.equal(run(['2', '*', '(3', '+', '4)']).stdout, '14\n');
    assert.equal(run(['-5', '*', '2']).stdout, '-10\n');
    assert.equal(run(['--', '-1 + 2']).stdout, '1\n');
    assert.equal(run(['--', 'bench']).status, 1, 'after --, a command name is an expression');
  });

  test('a syntax error: stderr with a caret under the bad character, exit 1', () => {
    const r = run(['2 * (3 + 4']);
    assert.equal(r.status, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^nanocalc: syntax error: expected '\)' at 10, found the end\n/);
    assert.equal(caretColumn(r.stderr, '2 * (3 + 4'), 10);
    const x = run(['12 + x']);
    assert.equal(caretColumn(x.stderr, '12 + x'), 5);
    const big = run(['1 + 99999999999999999999']);
    assert.match(big.stderr, /integer literal out of range at 4/);
  });

  test('division by zero points at the operator, exit 1', () => {
    const r = run(['1 + 6 / (3 - 3)']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^nanocalc: division by zero at 6\n/);
    assert.equal(caretColumn(r.stderr, '1 + 6 / (3 - 3)'), 6);
  });

  test('--overflow saturate, wrap or throw; the error points at the operator; a bad mode is exit 2', () => {
    const sum = '9223372036854775807 + 1';
    assert.deepEqual(run([sum]), { status: 0, stdout: '9223372036854775807\n', stderr: '' });
    assert.equal(run(['--overflow', 'saturate', sum]).stdout, '9223372036854775807\n');
    assert.deepEqual(run(['--overflow', 'wrap', sum]), { status: 0, stdout: '-9223372036854775808\n', stderr: '' });
    assert.equal(run(['--overflow=wrap', sum]).stdout, '-9223372036854775808\n');
    const r = run(['--overflow', 'throw', sum]);
    assert.equal(r.status, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /integer overflow at 20/);
    assert.equal(caretColumn(r.stderr, sum), 20);
    const piped = run(['--overflow', 'throw', '--json'], `${sum}\n1+1\n`);
    assert.match(piped.stdout, /"code":"OVERFLOW".*"index":20/);
    assert.match(piped.stdout, /"line":2,"value":"2"/);
    for (const args of [
      ['--overflow', 'checked', '1'],
      ['--overflow'],
      ['--overflow=', '1'],
      ['--overflow', 'wrap', 'serve'],
    ]) {
      const bad = run(args);
      assert.equal(bad.status, 2, args.join(' '));
      assert.match(bad.stderr, /--overflow/);
    }
  });

  test('too deep: LIMIT_EXCEEDED at the parenthesis, exit 1', () => {
    const text = `${'('.repeat(300)}1${')'.repeat(300)}`;
    const r = run([text]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /limit exceeded: parentheses nested deeper than 256 at 256/);
    assert.match(r.stderr, /\n {2}…\(+1\)+…\n {2} {61}\^\n/, 'a long line is cut around the caret');
  });

  test('the first npx nanocalc (an empty npx cache) runs the built bin without rebuilding the package', () => {
    const cache = mkdtempSync(join(TMP, 'npm-cache-'));
    const built = statSync(join(ROOT, 'dist', 'src', 'index.js')).mtimeMs;
    const started = Date.now();
    const r = spawnSync('npx', ['nanocalc', '1 + 2 * 3'], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 120_000,
      env: { ...process.env, npm_config_cache: cache },
    });
    const seconds = (Date.now() - started) / 1000;
    assert.equal(r.stdout, '7\n', r.stderr);
    assert.equal(r.status, 0);
    assert.equal(statSync(join(ROOT, 'dist', 'src', 'index.js')).mtimeMs, built, 'npm run build did not run');
    assert.ok(seconds < 20, `${seconds} s`);
  });

  test('npx nanocalc in a clone that is not built says on the terminal that it builds', {
    skip: hasScript ? false : 'util-linux script(1) is not installed',
  }, () => {
    const clone = mkdtempSync(join(TMP, 'clone-'));
    const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Record<string, unknown>;
    // The package as cloned, but no dependencies to fetch: only the bin and its prepare matter here
    // (whose build then fails at once: there are no sources).
    delete manifest.dependencies;
    delete manifest.devDependencies;
    writeFileSync(join(clone, 'package.json'), JSON.stringify(manifest));
    mkdirSync(join(clone, 'scripts'));
    copyFileSync(join(ROOT, 'scripts', 'prepare.mjs'), join(clone, 'scripts', 'prepare.mjs'));
    // npm hides the output of prepare under npx: the message goes to the terminal (/dev/tty).
    const r = spawnSync('script', ['-qec', 'npx nanocalc 1', '/dev/null'], {
      cwd: clone,
      encoding: 'utf8',
      timeout: 120_000,
      env: { ...process.env, npm_config_cache: mkdtempSync(join(TMP, 'npm-cache-')) },
    });
    assert.match(r.stdout, /nanocalc is not built yet: building it now \(npm run build/);
  });

  test('npx --no-install nanocalc, as a user runs it', () => {
    const r = spawnSync('npx', ['--no-install', 'nanocalc', '1 + 2 * 3'], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(r.stdout, '7\n', r.stderr);
    assert.equal(r.status, 0);
  });
});

describe('usage', () => {
  test('--help and help list the expression, the REPL and every command; exit 0', () => {
    for (const args of [['--help'], ['-h'], ['help']]) {
      const r = run(args);
      assert.equal(r.status, 0);
      for (const word of ["nanocalc '<expression>'", 'REPL', 'bench', 'serve', 'Exit status']) {
        assert.ok(r.stdout.includes(word), `${args.join(' ')}: ${word}`);
      }
    }
  });

  test('<command> --help for each command', () => {
    for (const args of [
      ['bench', '--help'],
      ['help', 'bench'],
    ]) {
      const r = run(args);
      assert.equal(r.status, 0);
      assert.match(r.stdout, /^usage: nanocalc bench/);
      assert.match(r.stdout, /--quick/);
    }
    const serve = run(['help', 'serve']);
    assert.equal(serve.status, 0);
    assert.match(serve.stdout, /--addr/);
  });

  test('an unknown option is a usage error: stderr, exit 2', () => {
    for (const flag of ['--frobnicate', '-x', '--verbose']) {
      const r = run([flag]);
      assert.equal(r.status, 2, flag);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, new RegExp(`^nanocalc: unknown option "${flag}"\nRun 'nanocalc --help' for usage.\n$`));
    }
    assert.equal(run(['-5', '*', '2']).stdout, '-10\n', 'a minus and a digit is a number');
  });

  test('help <unknown command> says unknown command, exit 2', () => {
    const r = run(['help', 'nope']);
    assert.equal(r.status, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^nanocalc: unknown command "nope"\n/);
  });

  test('--version, -v, -V and serve --version print the package version, exit 0', () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    for (const args of [
      ['--version'],
      ['-v'],
      ['-V'],
      ['serve', '--version'],
      ['serve', '-V'],
      ['serve', '--addr', '127.0.0.1:0', '--version'],
    ]) {
      assert.deepEqual(run(args), { status: 0, stdout: `nanocalc ${version}\n`, stderr: '' }, args.join(' '));
    }
    // The server binary's own --version agrees: one version in package.json and Cargo.toml.
    const cargo = /^\[workspace\.package\][^[]*?^version = "([^"]+)"/m.exec(
      readFileSync(join(ROOT, 'Cargo.toml'), 'utf8'),
    );
    assert.equal(cargo?.[1], version, 'Cargo.toml [workspace.package] version');
  });

  test('serve: an unknown flag is exit 2 naming it, with the usage of nanocalc serve', () => {
    const r = run(['serve', '--bogus']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /'--bogus'/);
    assert.match(r.stderr, /Usage: nanocalc serve /);
    assert.doesNotMatch(r.stderr, /nanocalc-server/);
    assert.match(run(['serve', '--help']).stdout, /Usage: nanocalc serve /);
  });

  test('bench: an unknown flag or a missing value is exit 2 before anything is measured', () => {
    for (const [args, message] of [
      [['bench', '--bogus'], /unknown option "--bogus"/],
      [['bench', '--quick', '--svg'], /--svg needs a value/],
      [['bench', '--compare', 'a.json'], /--compare needs a value/],
    ] as const) {
      const r = run([...args]);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, message);
      assert.match(r.stderr, /usage: nanocalc bench/);
    }
  });
});

describe('the REPL on piped stdin', () => {
  test('one output line per input line, in order: the result, an error line or an empty line', () => {
    const r = run([], '1+1\n2*(3\n4/0\n5\n');
    assert.equal(
      r.stdout,
      "2\nerror: SYNTAX_ERROR expected ')' at 4, found the end\nerror: DIVISION_BY_ZERO division by zero at 1\n5\n",
    );
    assert.equal(r.status, 1);
    assert.equal(run([], '1\n\n  \n2\n').stdout, '1\n\n\n2\n', 'an empty line gives an empty line');
  });

  test('--json: one object per input line, the value as a string, errors with code, message and index', () => {
    const r = run(['--json'], '1+1\n2*(3\n\n9223372036854775807\n');
    assert.equal(r.status, 1);
    assert.equal(r.stderr, '');
    assert.deepEqual(
      r.stdout
        .split('\n')
        .slice(0, -1)
        .map((line) => JSON.parse(line) as unknown),
      [
        { line: 1, value: '2' },
        { line: 2, error: { code: 'SYNTAX_ERROR', message: "expected ')' at 4, found the end", index: 4 } },
        { line: 3, value: null },
        { line: 4, value: '9223372036854775807' },
      ],
    );
    assert.deepEqual(run(['--json'], '1\n2\n'), {
      status: 0,
      stdout: '{"line":1,"value":"1"}\n{"line":2,"value":"2"}\n',
      stderr: '',
    });
    assert.deepEqual(run(['--json', '6 * 7']), { status: 0, stdout: '{"value":"42"}\n', stderr: '' });
    const failed = run(['--json', '1 / 0']);
    assert.equal(failed.status, 1);
    assert.deepEqual(JSON.parse(failed.stdout), {
      error: { code: 'DIVISION_BY_ZERO', message: 'division by zero at 2', index: 2 },
    });
    assert.equal(run(['--json', 'bench']).status, 2, '--json is not for commands');
  });

  test('errors are also on stderr with the line number and a caret; exit 1 if any failed', () => {
    const r = run([], '1 + 2 * 3\n\n2 * (3\n   -4 * -4\n7 % 0\n');
    assert.equal(
      r.stdout,
      "7\n\nerror: SYNTAX_ERROR expected ')' at 6, found the end\n16\nerror: DIVISION_BY_ZERO division by zero at 2\n",
    );
    assert.equal(r.status, 1);
    assert.match(
      r.stderr,
      /^nanocalc: line 3: syntax error: expected '\)' at 6, found the end\n {2}2 \* \(3\n {8}\^\n/,
    );
    assert.match(r.stderr, /nanocalc: line 5: division by zero at 2\n {2}7 % 0\n {4}\^\n$/);
  });

  test('all lines fine: exit 0; .exit stops reading; CRLF lines', () => {
    assert.deepEqual(run([], '1\r\n2 + 2\r\n'), { status: 0, stdout: '1\n4\n', stderr: '' });
    assert.deepEqual(run([], '5\n.exit\n1 / 0\n'), { status: 0, stdout: '5\n', stderr: '' });
    assert.deepEqual(run([], ''), { status: 0, stdout: '', stderr: '' });
    assert.match(run([], '.help\n').stdout, /\.exit/);
  });
});

/**
 * Runs the REPL in a pseudo-terminal; `steps` are [keys to type, text to wait for in the output].
 * Then the input ends, or with `leaves`, the REPL must exit by itself (within 10 s).
 */
async function pty(
  steps: [string, string][],
  history: string,
  leaves = false,
): Promise<{ output: string; status: number | null }> {
  const child = spawn('script', ['-qfec', `${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)}`, '/dev/null'], {
    env: { ...process.env, NANOCALC_HISTORY: history, TERM: 'xterm' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  const waiters: (() => void)[] = [];
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8');
    for (const w of waiters.splice(0)) w();
  });
  const waitFor = (text: string, from: number) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`timed out waiting for ${JSON.stringify(text)} in ${JSON.stringify(output)}`)),
        15_000,
      );
      const check = () => {
        if (output.indexOf(text, from) >= 0) {
          clearTimeout(timer);
          resolve();
        } else waiters.push(check);
      };
      check();
    });
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  try {
    await waitFor('nanocalc> ', 0);
    for (const [keys, expect] of steps) {
      const from = output.length;
      child.stdin.write(keys);
      await waitFor(expect, from);
    }
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  if (leaves) {
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    const status = await exited;
    clearTimeout(timer);
    child.stdin.end();
    return { output, status };
  }
  child.stdin.end();
  return { output, status: await exited };
}

describe('the REPL in a terminal', { skip: hasScript ? false : 'util-linux script(1) is not installed' }, () => {
  test('prompt, results, a caret under the typed text, history across sessions, Ctrl-D', async () => {
    const history = join(TMP, 'history');
    const first = await pty(
      [
        ['6 * 7\r', '42'],
        ['2 * (3 + 4\r', 'found the end'],
        ['\x1b[A\x1b[A\r', '42'], // up twice: 6 * 7 again
        ['\x04', ''],
      ],
      history,
    );
    assert.equal(first.status, 0, first.output);
    assert.match(first.output, /nanocalc> /);
    // The caret sits under the missing ')' as typed after the 10-character prompt.
    assert.match(first.output, new RegExp(`\\n {${10 + 10}}\\^\\r?\\n`), JSON.stringify(first.output));
    assert.match(first.output, /syntax error: expected '\)' at 10/);
    assert.deepEqual(readFileSync(history, 'utf8').split('\n').filter(Boolean), ['6 * 7', '2 * (3 + 4', '6 * 7']);
    // A new session recalls the saved lines.
    writeFileSync(history, '100 - 1\n');
    const second = await pty(
      [
        ['\x1b[A\r', '99'],
        ['.exit\r', ''],
      ],
      history,
    );
    assert.equal(second.status, 0, second.output);
  });
});

describe('the REPL in a terminal: help, exit, quit and Ctrl-C as in node', {
  skip: hasScript ? false : 'util-linux script(1) is not installed',
}, () => {
  test('help, exit and quit point to .help and .exit; they are not syntax errors', async () => {
    const r = await pty(
      [
        ['help\r', 'Type .help for help'],
        ['exit\r', '(To exit, press Ctrl+D or type .exit)'],
        ['quit\r', '(To exit, press Ctrl+D or type .exit)'],
        ['.exit\r', ''],
      ],
      '',
      true,
    );
    assert.equal(r.status, 0, r.output);
    assert.doesNotMatch(r.output, /syntax error/);
  });

  test('a first Ctrl-C on an empty line says how to leave, a second one leaves; Ctrl-C on a typed line clears it', async () => {
    const hint = '(To exit, press Ctrl+C again or Ctrl+D or type .exit)';
    const r = await pty(
      [
        ['1 + \x03', '^C'], // clears the line, no hint
        ['\x03', hint],
        ['2 * 21\r', '42'], // a line in between: the next Ctrl-C is a first one again
        ['\x03', hint],
        ['\x03', ''],
      ],
      '',
      true,
    );
    assert.equal(r.status, 0, r.output);
    assert.equal(r.output.split(hint).length - 1, 2, JSON.stringify(r.output));
  });
});

describe('nanocalc bench', () => {
  test('runs the benchmark with its arguments, shows its progress, passes the table and the exit status through', () => {
    const fake = join(TMP, 'fake-bench.mjs');
    writeFileSync(
      fake,
      `for (const row of ['add', 'batch']) process.stderr.write('  measured ' + row + ' / baseline\\n');
process.stderr.write('a warning\\n');
console.log('TABLE ' + process.argv.slice(2).join(' '));
process.exitCode = process.argv.includes('--fail') ? 3 : 0;`,
    );
    const r = run(['bench', '--quick'], undefined, { NANOCALC_BENCH_SCRIPT: fake });
    assert.equal(r.status, 0);
    assert.equal(r.stdout, 'TABLE --quick\n');
    assert.equal(r.stderr, '[1] measured add / baseline\n[2] measured batch / baseline\na warning\n');
    assert.equal(run(['bench', '--fail'], undefined, { NANOCALC_BENCH_SCRIPT: fake }).status, 3);
    const missing = run(['bench'], undefined, { NANOCALC_BENCH_SCRIPT: join(TMP, 'none.js') });
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /not built/);
  });
});
