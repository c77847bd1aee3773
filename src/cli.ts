#!/usr/bin/env node
// The `nanocalc` command:
//
//   nanocalc '2 * (3 + 4)'       evaluates an expression (arguments joined by spaces), prints 14
//   nanocalc                     a REPL (history; lines from stdin when it is not a terminal)
//   nanocalc <command> [args]    bench, serve, help
//
// Exit codes: 0 success, 1 a calculation failed (the error on stderr), 2 a usage error.
// One table of commands; each runs and resolves to the exit code.

import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Calculator } from './calculator.js';

interface Command {
  /** One line for the command list. */
  summary: string;
  usage: string;
  run(args: string[]): Promise<number>;
}

/** The package root: this file is dist/src/cli.js. */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The server binary `npm install` builds (`npm run build:server`); NANOCALC_SERVER_BIN overrides it. */
export function serverBinary(): string {
  return process.env['NANOCALC_SERVER_BIN'] ?? join(ROOT, 'target', 'release', 'nanocalc-server');
}

const FORWARDED_SIGNALS: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];
const SIGNAL_NUMBERS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

/** Runs `binary` with `args`, forwarding signals, and resolves to its exit code. */
function runForwarding(binary: string, args: string[]): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(binary, args, { stdio: 'inherit' });
    const forward = (signal: NodeJS.Signals) => child.kill(signal);
    for (const signal of FORWARDED_SIGNALS) process.on(signal, forward);
    const done = (code: number) => {
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
  return process.env['NANOCALC_BENCH_SCRIPT'] ?? join(ROOT, 'dist', 'bench', 'bench.js');
}

/**
 * Runs the benchmark with `args`: its table (stdout) passes through; its `measured ...` lines
 * (stderr) become a progress display, one line rewritten in place on a terminal.
 */
function runBench(args: string[]): Promise<number> {
  const script = benchScript();
  if (!existsSync(script)) {
    process.stderr.write(`nanocalc: the benchmark is not built (${script}); run: npm run build\n`);
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
  --svg PATH           write the chart there (a full run also writes docs/benchmark.svg)
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
    usage: 'nanocalc serve [--addr 127.0.0.1:50051] [--tls-cert PEM --tls-key PEM] [...]   (nanocalc serve --help lists every flag)',
    async run(args) {
      const binary = serverBinary();
      if (!existsSync(binary)) {
        process.stderr.write(`nanocalc: the server is not built (${binary}); run: npm run build:server\n`);
        return 1;
      }
      return runForwarding(binary, args);
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
       nanocalc                    a REPL: one expression per line (.help, .exit or Ctrl-D to leave)
       nanocalc <command> [args]

Expressions: 64-bit integers, + - * / %, unary minus, parentheses, the usual precedence; each
step saturates to [-2^63, 2^63-1], / truncates toward zero, % takes the sign of the dividend.
Use -- before an expression that could be taken for a command or an option: nanocalc -- -1 + 2

commands:
${lines.join('\n')}

Exit status: 0 success, 1 a calculation failed (division by zero, syntax error, ...), 2 a usage error.
`;
}

function unknownCommand(name: string): number {
  process.stderr.write(`nanocalc: unknown option ${JSON.stringify(name)}\n\n${usage()}`);
  return 2;
}

// ---- expressions ------------------------------------------------------------------------------

async function openCalculator(): Promise<Calculator> {
  const { Calculator } = await import('./calculator.js');
  return new Calculator();
}

/** The human name of an error code: 'SYNTAX_ERROR' → 'syntax error'. */
function describeCode(code: string): string {
  return code.toLowerCase().replaceAll('_', ' ');
}

/**
 * The line of `text` holding `index`, and under it a caret at that character (tabs kept so the
 * caret lines up); long lines are cut to a window around it.
 */
export function pointAt(text: string, index: number, indent = '  '): string {
  const lineStart = text.lastIndexOf('\n', index - 1) + 1;
  let lineEnd = text.indexOf('\n', index);
  if (lineEnd === -1) lineEnd = text.length;
  let from = lineStart;
  let to = lineEnd;
  const window = 60;
  if (index - from > window) from = index - window;
  if (to - index > window) to = index + window;
  const line = (from > lineStart ? '…' : '') + text.slice(from, to).replace(/\r$/, '') + (to < lineEnd ? '…' : '');
  const before = (from > lineStart ? ' ' : '') + text.slice(from, index).replace(/[^\t]/g, ' ');
  return `${indent}${line}\n${indent}${before}^\n`;
}

/**
 * An error of `evaluate(text)` for stderr: the message, then the text with a caret under the bad
 * character; or, with `prompt` (on a terminal, where the text is on screen just above), a caret
 * under the text as typed after the prompt, then the message.
 */
function formatError(error: unknown, text: string, prompt?: string, where = ''): string {
  if (!(error instanceof Error)) return `nanocalc: ${String(error)}\n`;
  const code = (error as { code?: unknown }).code;
  const index = (error as { index?: unknown }).index;
  if (error.name !== 'CalculatorError' || typeof code !== 'string') return `nanocalc: ${where}${error.message}\n`;
  const what = describeCode(code);
  const message = error.message.startsWith(what) ? error.message : `${what}: ${error.message}`;
  let out = `nanocalc: ${where}${message}\n`;
  // A position is shown when it names a character (not for a text that is too long as a whole).
  if (typeof index === 'number' && (code !== 'LIMIT_EXCEEDED' || text[index] === '(')) {
    out =
      prompt === undefined || text.includes('\n')
        ? out + pointAt(text, index)
        : `${' '.repeat(prompt.length)}${text.slice(0, index).replace(/[^\t]/g, ' ')}^\n${out}`;
  }
  return out;
}

async function evaluateArgs(args: string[]): Promise<number> {
  const text = args.join(' ');
  const calc = await openCalculator();
  try {
    process.stdout.write(`${calc.evaluate(text)}\n`);
    return 0;
  } catch (error) {
    process.stderr.write(formatError(error, text));
    return 1;
  } finally {
    calc.close();
  }
}

// ---- the REPL -----------------------------------------------------------------------------------

const PROMPT = 'nanocalc> ';
const REPL_HELP = `One expression per line: 64-bit integers, + - * / %, unary minus, parentheses.
  .help   this text
  .exit   leave (or Ctrl-D)
Arrow keys recall earlier lines (kept in ${'$'}NANOCALC_HISTORY, default ~/.nanocalc_history).
`;

/** The history file of the REPL on a terminal: $NANOCALC_HISTORY ('' for none), else ~/.nanocalc_history. */
function historyFile(): string | undefined {
  const configured = process.env['NANOCALC_HISTORY'];
  if (configured !== undefined) return configured === '' ? undefined : configured;
  return join(homedir(), '.nanocalc_history');
}

function loadHistory(file: string | undefined): string[] {
  if (file === undefined || !existsSync(file)) return [];
  try {
    // readline wants the most recent first.
    return readFileSync(file, 'utf8').split('\n').filter((line) => line.trim() !== '').slice(-1000).reverse();
  } catch {
    return [];
  }
}

/**
 * Reads expressions line by line. On a terminal: a prompt, line editing and history (saved to the
 * history file). Otherwise (piped stdin): no prompt, results on stdout, errors on stderr, and the
 * exit status is 1 if any line failed.
 */
async function repl(): Promise<number> {
  const calc = await openCalculator();
  const terminal = process.stdin.isTTY === true && process.stdout.isTTY === true;
  const file = terminal ? historyFile() : undefined;
  const rl = createInterface({
    input: process.stdin,
    output: process.stdout,
    terminal,
    prompt: PROMPT,
    historySize: 1000,
    history: loadHistory(file),
    removeHistoryDuplicates: true,
    crlfDelay: Infinity,
  });
  let failed = false;
  let number = 0;
  const done = new Promise<void>((resolve) => rl.once('close', resolve));
  rl.on('SIGINT', () => {
    // Ctrl-C clears the line being typed; on an empty line it leaves, as Ctrl-D does.
    if (rl.line === '') {
      process.stdout.write('\n');
      rl.close();
      return;
    }
    process.stdout.write('^C\n');
    rl.write(null, { ctrl: true, name: 'u' });
    rl.prompt();
  });
  if (terminal) {
    process.stdout.write(`nanocalc: 64-bit integer expressions; .help for help, .exit or Ctrl-D to leave\n`);
    rl.prompt();
  }
  for await (const line of rl) {
    number++;
    const text = line.trim();
    if (text === '.exit' || text === '.quit') break;
    if (text === '.help') {
      process.stdout.write(REPL_HELP);
    } else if (text !== '') {
      if (file !== undefined) {
        try {
          appendFileSync(file, `${line.replace(/\n/g, ' ')}\n`);
        } catch {
          // History is a convenience: an unwritable file is not an error.
        }
      }
      try {
        process.stdout.write(`${calc.evaluate(line)}\n`);
      } catch (error) {
        failed = true;
        // On a terminal the caret goes under the line as typed, after the prompt.
        process.stderr.write(formatError(error, line, terminal ? PROMPT : undefined, terminal ? '' : `line ${number}: `));
      }
    }
    if (terminal) rl.prompt();
  }
  rl.close();
  await done;
  calc.close();
  if (terminal) return 0;
  return failed ? 1 : 0;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined) return repl();
  if (name === '--help' || name === '-h') return commands['help']!.run([]);
  if (name === '--') return args.length === 0 ? repl() : evaluateArgs(args);
  const command = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (command !== undefined) return command.run(args);
  if (name.startsWith('--')) return unknownCommand(name);
  return evaluateArgs(argv);
}

process.exitCode = await main(process.argv.slice(2));
