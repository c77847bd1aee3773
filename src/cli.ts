#!/usr/bin/env node
// The `nanocalc` command:
//
//   nanocalc '2 * (3 + 4)'       evaluates an expression (arguments joined by spaces), prints 14
//   nanocalc                     a REPL (history); from a pipe, one output line per input line
//   nanocalc --json ...          the same, one JSON object per result
//   nanocalc --version           the package's version (also -v, -V, nanocalc serve --version)
//   nanocalc <command> [args]    bench, serve, help
//
// Exit codes: 0 success, 1 a calculation failed (the error on stderr), 2 a usage error.
// One table of commands; each runs and resolves to the exit code.

import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Calculator, OverflowMode } from './calculator.js';
import { formatError, repl, resultLine } from './cli/lines.js';
import { requireNative } from './runtime/locate.js';

interface Command {
  /** One line for the command list. */
  summary: string;
  usage: string;
  run(args: string[]): Promise<number>;
}

/** The package root: this file is dist/src/cli.js. */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * The server binary: NANOCALC_SERVER_BIN, else where src/runtime/locate.ts finds it (NANOCALC_NATIVE_DIR,
 * a clone's build, the platform package); throws a NativeNotFoundError naming what was tried.
 */
export function serverBinary(): string {
  return process.env.NANOCALC_SERVER_BIN ?? requireNative('server');
}

const FORWARDED_SIGNALS: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];
const SIGNAL_NUMBERS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

/**
 * Runs `binary` with `args` (and `argv0`, the name its usage and errors show), forwarding
 * signals, and resolves to its exit code.
 */
function runForwarding(binary: string, args: string[], argv0: string): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(binary, args, { stdio: 'inherit', argv0 });
    const forward = (signal: NodeJS.Signals) => child.kill(signal);
    for (const signal of FORWARDED_SIGNALS) process.on(signal, forward);
    // `npm exec` (npx) dies of a SIGTERM without passing it on, leaving this process and the server
    // under PID 1: run by npm exec, when the parent goes away, stop the server as its SIGTERM
    // would have. (Not otherwise: `nohup nanocalc serve &` must outlive its shell.)
    const parent = process.ppid;
    const orphaned =
      process.env.npm_command === 'exec'
        ? setInterval(() => {
            if (process.ppid === parent) return;
            clearInterval(orphaned);
            forward('SIGTERM');
          }, 200).unref()
        : undefined;
    const done = (code: number) => {
      clearInterval(orphaned);
      for (const signal of FORWARDED_SIGNALS) process.off(signal, forward);
      resolve(code);
    };
    child.on('error', (error) => {
      process.stderr.write(`nanocalc: cannot run ${binary}: ${error.message}\n`);
      done(127);
    });
    child.on('exit', (code, signal) => done(code ?? 128 + (signal ? (SIGNAL_NUMBERS[signal] ?? 0) : 0)));
  });
}

/** The benchmark script (dist/bench/bench.js); NANOCALC_BENCH_SCRIPT overrides it (tests). */
function benchScript(): string {
  return process.env.NANOCALC_BENCH_SCRIPT ?? join(ROOT, 'dist', 'bench', 'bench.js');
}

/**
 * Runs the benchmark with `args`: its table (stdout) passes through; its `measured ...` lines
 * (stderr) become a progress display, one line rewritten in place on a terminal.
 */
function runBench(args: string[]): Promise<number> {
  const script = benchScript();
  if (!existsSync(script)) {
    // The benchmark and its harness (mitata) are development parts, not in the published package.
    process.stderr.write(
      `nanocalc: the benchmark is not built here (${script}): it runs from a clone of the repository ` +
        '(git clone, npm install, npx nanocalc bench), not from an installed package\n',
    );
    return Promise.resolve(1);
  }
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [script, ...args], { stdio: ['inherit', 'inherit', 'pipe'] });
    const live = process.stderr.isTTY === true;
    let count = 0;
    let shown = false;
    const lines = createInterface({ input: child.stderr!, crlfDelay: Infinity });
    lines.on('line', (line) => {
      const measured = /^\s*measured (.*)$/.exec(line);
      if (measured === null) {
        if (shown) process.stderr.write('\r\x1b[K');
        shown = false;
        process.stderr.write(`${line}\n`);
        return;
      }
      count++;
      if (live) {
        process.stderr.write(`\r\x1b[K[${count}] measured ${measured[1]!}`);
        shown = true;
      } else {
        process.stderr.write(`[${count}] measured ${measured[1]!}\n`);
      }
    });
    const forward = (signal: NodeJS.Signals) => child.kill(signal);
    for (const signal of FORWARDED_SIGNALS) process.on(signal, forward);
    child.on('error', (error) => {
      process.stderr.write(`nanocalc: cannot run the benchmark: ${error.message}\n`);
      resolve(127);
    });
    child.on('close', (code, signal) => {
      for (const signal of FORWARDED_SIGNALS) process.off(signal, forward);
      if (shown) process.stderr.write(`\r\x1b[K${count} rows measured\n`);
      resolve(code ?? 128 + (signal ? (SIGNAL_NUMBERS[signal] ?? 0) : 0));
    });
  });
}

const BENCH_HELP = `usage: nanocalc bench [--quick] [--json out.json] [--svg chart.svg]
       nanocalc bench --compare a.json b.json

Runs the benchmark: each row's median beside a baseline measured in the same run, and the ratio.
Progress (one line per row measured) goes to stderr, the table to stdout.

  --quick              fewer samples and sizes (about a minute)
  --json PATH          also write the rows as JSON
  --svg PATH           also write the chart (SVG) there; no file is written unless asked
  --compare A B        print each row's two medians and B/A from two JSON files; measures nothing
`;

const commands: Record<string, Command> = {
  bench: {
    summary: 'run the benchmark with a progress display and print the table',
    usage: 'nanocalc bench [--quick] [--json out.json] [--svg chart.svg] [--compare a.json b.json]',
    async run(args) {
      if (args.includes('--help') || args.includes('-h')) {
        process.stdout.write(BENCH_HELP);
        return 0;
      }
      return runBench(args);
    },
  },
  serve: {
    summary: 'run the engine as a gRPC server (nanocalc.v1.CalculatorService)',
    usage:
      'nanocalc serve [--addr 127.0.0.1:50051] [--tls-cert PEM --tls-key PEM] [...]   (nanocalc serve --help lists every flag)',
    async run(args) {
      // The package's version, as `nanocalc --version` prints it (the server's flags stop at --).
      const flags = args.includes('--') ? args.slice(0, args.indexOf('--')) : args;
      if (flags.includes('--version') || flags.includes('-V')) {
        process.stdout.write(version());
        return 0;
      }
      let binary: string;
      try {
        binary = serverBinary();
      } catch (error) {
        process.stderr.write(`${(error as Error).message}\n`);
        return 1;
      }
      if (!existsSync(binary)) {
        process.stderr.write(`nanocalc: the server is not built (${binary}); run: npm run build:server\n`);
        return 1;
      }
      return runForwarding(binary, args, 'nanocalc serve');
    },
  },
  help: {
    summary: 'this help; `nanocalc <command> --help` for one command',
    usage: 'nanocalc help [command]',
    async run(args) {
      const name = args[0];
      if (name === undefined || name === '--help' || name === '-h') {
        process.stdout.write(usage());
        return 0;
      }
      if (!Object.hasOwn(commands, name)) return unknownCommand(name);
      return commands[name]!.run(['--help']);
    },
  },
};

function usage(): string {
  const width = Math.max(...Object.keys(commands).map((name) => name.length));
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}\n    ${c.usage}`);
  return `usage: nanocalc '<expression>'     evaluate it and print the result, e.g. nanocalc '2 * (3 + 4)'
       nanocalc                    a REPL: one expression per line (.help; .exit, Ctrl-D or Ctrl-C twice to leave)
       nanocalc <command> [args]

options (before the expression):
  --json          print {"value":"14"} or {"error":{"code","message","index"}}, one object a line
  --overflow MODE what a step beyond the i64 range does: saturate (the default), wrap, or throw
                  (an OVERFLOW error at the operator)
  -v, --version   print nanocalc's version
  -h, --help      this help

From a pipe (stdin not a terminal), each input line gives exactly one output line, in order: the
result, "error: CODE message" (the details, with a caret, on stderr), or an empty line for an
empty one; with --json one object a line with its "line" number. Exit status 1 if any line failed.

Expressions: 64-bit integers, + - * / %, unary minus, parentheses, the usual precedence; each
step saturates to [-2^63, 2^63-1] (see --overflow), / truncates toward zero, % takes the sign of
the dividend.
Use -- before an expression that could be taken for a command or an option: nanocalc -- -1 + 2

commands:
${lines.join('\n')}

Exit status: 0 success, 1 a calculation failed (division by zero, syntax error, ...), 2 a usage error.
`;
}

/** `nanocalc 0.1.0`: the package's version, for --version here and for `serve --version`. */
export function version(): string {
  const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  return `nanocalc ${version}\n`;
}

/** A usage error: the message, where to find the usage, exit 2 (as git and cargo do). */
function usageError(message: string): number {
  process.stderr.write(`nanocalc: ${message}\nRun 'nanocalc --help' for usage.\n`);
  return 2;
}

function unknownCommand(name: string): number {
  return usageError(`unknown command ${JSON.stringify(name)}`);
}

/** An argument that is an option, not an expression: `--x`, or `-` and a letter (`-5` is a number). */
function isOption(arg: string): boolean {
  return /^--./.test(arg) || /^-[A-Za-z]/.test(arg);
}

/** The options before the expression or the command. */
interface Options {
  json: boolean;
  overflow: OverflowMode | undefined;
}

const OVERFLOW_MODES: readonly string[] = ['saturate', 'wrap', 'throw'] satisfies OverflowMode[];

async function openCalculator(options: Options): Promise<Calculator> {
  const { Calculator } = await import('./calculator.js');
  return new Calculator({ overflow: options.overflow });
}

async function evaluateArgs(args: string[], options: Options): Promise<number> {
  const { json } = options;
  const text = args.join(' ');
  const calc = await openCalculator(options);
  try {
    const value = calc.evaluate(text);
    process.stdout.write(`${json ? resultLine(undefined, { value }, true) : value}\n`);
    return 0;
  } catch (error) {
    if (json) process.stdout.write(`${resultLine(undefined, { error }, true)}\n`);
    else process.stderr.write(formatError(error, text));
    return 1;
  } finally {
    calc.close();
  }
}

async function lines(options: Options): Promise<number> {
  const calc = await openCalculator(options);
  try {
    return await repl(calc, options.json);
  } finally {
    calc.close();
  }
}

export async function main(argv: string[]): Promise<number> {
  const options: Options = { json: false, overflow: undefined };
  let at = 0;
  // Options before the expression or the command.
  for (; at < argv.length; at++) {
    const arg = argv[at]!;
    if (arg === '--') {
      const rest = argv.slice(at + 1);
      return rest.length === 0 ? lines(options) : evaluateArgs(rest, options);
    }
    if (arg === '--json') options.json = true;
    else if (arg === '--overflow' || arg.startsWith('--overflow=')) {
      const mode = arg === '--overflow' ? argv[++at] : arg.slice('--overflow='.length);
      if (mode === undefined || !OVERFLOW_MODES.includes(mode)) {
        return usageError(
          `--overflow takes saturate, wrap or throw, got ${mode === undefined ? 'nothing' : JSON.stringify(mode)}`,
        );
      }
      options.overflow = mode as OverflowMode;
    } else if (arg === '--help' || arg === '-h') return commands.help!.run([]);
    else if (arg === '--version' || arg === '-v' || arg === '-V') {
      process.stdout.write(version());
      return 0;
    } else if (isOption(arg)) return usageError(`unknown option ${JSON.stringify(arg)}`);
    else break;
  }
  const name = argv[at];
  if (name === undefined) return lines(options);
  if (Object.hasOwn(commands, name)) {
    if (options.json) return usageError(`--json is for expressions, not for ${name}`);
    if (options.overflow !== undefined) return usageError(`--overflow is for expressions, not for ${name}`);
    return commands[name]!.run(argv.slice(at + 1));
  }
  return evaluateArgs(argv.slice(at), options);
}

process.exitCode = await main(process.argv.slice(2));
