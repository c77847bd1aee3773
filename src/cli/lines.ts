// The REPL of `nanocalc` (a terminal) and its line mode (piped stdin): one expression per line.

import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Calculator } from '../calculator.js';

/** The human name of an error code: 'SYNTAX_ERROR' → 'syntax error'. */
function describeCode(code: string): string {
  return code.toLowerCase().replaceAll('_', ' ');
}

/** The code, message and index of a `CalculatorError`, or undefined for any other error. */
export function calculatorError(
  error: unknown,
): { code: string; message: string; index: number | undefined } | undefined {
  if (!(error instanceof Error) || error.name !== 'CalculatorError') return undefined;
  const { code, index } = error as { code?: unknown; index?: unknown };
  if (typeof code !== 'string') return undefined;
  // The command line says `nanocalc:` once, in front of the whole line.
  const message = error.message.replace(/^nanocalc: /, '');
  return { code, message, index: typeof index === 'number' ? index : undefined };
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
export function formatError(error: unknown, text: string, prompt?: string, where = ''): string {
  if (!(error instanceof Error)) return `nanocalc: ${String(error)}\n`;
  const e = calculatorError(error);
  if (e === undefined) return `nanocalc: ${where}${error.message}\n`;
  const what = describeCode(e.code);
  const message = e.message.startsWith(what) ? e.message : `${what}: ${e.message}`;
  let out = `nanocalc: ${where}${message}\n`;
  // A position is shown when it names a character (not for a text that is too long as a whole).
  const { index } = e;
  if (index !== undefined && (e.code !== 'LIMIT_EXCEEDED' || text[index] === '(')) {
    out =
      prompt === undefined || text.includes('\n')
        ? out + pointAt(text, index)
        : `${' '.repeat(prompt.length)}${text.slice(0, index).replace(/[^\t]/g, ' ')}^\n${out}`;
  }
  return out;
}

/**
 * The one line of line mode for one input line (without its newline): the result, or
 * `error: CODE message`; with `json`, a JSON object `{"line":N,"value":"…"}` (the value a string:
 * i64 does not fit a JSON number) or `{"line":N,"error":{"code","message","index"}}`; a blank
 * input line gives an empty line (`{"line":N,"value":null}`). Without `line` (one expression given as
 * arguments), the JSON has no "line".
 */
export function resultLine(
  line: number | undefined,
  outcome: { value: bigint | null } | { error: unknown },
  json: boolean,
): string {
  if ('value' in outcome) {
    if (json) return JSON.stringify({ line, value: outcome.value === null ? null : String(outcome.value) });
    return outcome.value === null ? '' : String(outcome.value);
  }
  const e = calculatorError(outcome.error);
  const code = e?.code ?? 'ERROR';
  const message = e?.message ?? (outcome.error instanceof Error ? outcome.error.message : String(outcome.error));
  if (json)
    return JSON.stringify({ line, error: { code, message, ...(e?.index === undefined ? {} : { index: e.index }) } });
  return `error: ${code} ${message}`;
}

const PROMPT = 'nanocalc> ';
const REPL_HELP = `One expression per line: 64-bit integers, + - * / %, unary minus, parentheses.
  .help   this text
  .exit   leave (or Ctrl-D, or Ctrl-C twice)
Arrow keys recall earlier lines (kept in ${'$'}NANOCALC_HISTORY, default ~/.nanocalc_history).
`;
/** What the REPL says to `help`, `exit` and `quit`, which are not expressions. */
const WORDS: Record<string, string> = {
  help: 'Type .help for help, .exit or Ctrl-D to leave.\n',
  exit: '(To exit, press Ctrl+D or type .exit)\n',
  quit: '(To exit, press Ctrl+D or type .exit)\n',
};
/** Node's REPL says this to a first Ctrl-C on an empty line; a second one leaves. */
export const CTRL_C_HINT = '(To exit, press Ctrl+C again or Ctrl+D or type .exit)\n';

/** The history file of the REPL on a terminal: $NANOCALC_HISTORY ('' for none), else ~/.nanocalc_history. */
function historyFile(): string | undefined {
  const configured = process.env.NANOCALC_HISTORY;
  if (configured !== undefined) return configured === '' ? undefined : configured;
  return join(homedir(), '.nanocalc_history');
}

function loadHistory(file: string | undefined): string[] {
  if (file === undefined || !existsSync(file)) return [];
  try {
    // readline wants the most recent first.
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter((line) => line.trim() !== '')
      .slice(-1000)
      .reverse();
  } catch {
    return [];
  }
}

/**
 * Reads expressions line by line. On a terminal (and without `json`): a prompt, line editing and
 * history (saved to the history file). Otherwise (line mode, e.g. piped stdin): no prompt, exactly
 * one line on stdout per input line (see `resultLine`), so outputs match inputs line for line; an
 * error is also described on stderr with its line number and a caret (not with `json`); the exit
 * status is 1 if any line failed. `.exit` stops reading in both modes.
 */
export async function repl(calc: Calculator, json: boolean): Promise<number> {
  const terminal = !json && process.stdin.isTTY === true && process.stdout.isTTY === true;
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
  let sawCtrlC = false;
  const done = new Promise<void>((resolve) => rl.once('close', resolve));
  rl.on('SIGINT', () => {
    // As node's REPL: Ctrl-C clears the line being typed; on an empty line it says how to leave,
    // and a second Ctrl-C in a row leaves.
    if (rl.line === '') {
      if (sawCtrlC) {
        process.stdout.write('\n');
        rl.close();
        return;
      }
      sawCtrlC = true;
      process.stdout.write(`\n${CTRL_C_HINT}`);
    } else {
      sawCtrlC = false;
      process.stdout.write('^C\n');
      rl.write(null, { ctrl: true, name: 'u' });
    }
    rl.prompt();
  });
  if (terminal) {
    process.stdout.write(`nanocalc: 64-bit integer expressions; .help for help, .exit or Ctrl-D to leave\n`);
    rl.prompt();
  }
  for await (const line of rl) {
    number++;
    sawCtrlC = false;
    const text = line.trim();
    if (text === '.exit' || text === '.quit') break;
    if (text === '.help') {
      process.stdout.write(REPL_HELP);
    } else if (terminal && Object.hasOwn(WORDS, text)) {
      process.stdout.write(WORDS[text]!);
    } else if (text === '') {
      if (!terminal) process.stdout.write(`${resultLine(number, { value: null }, json)}\n`);
    } else {
      if (file !== undefined) {
        try {
          appendFileSync(file, `${line.replace(/\n/g, ' ')}\n`);
        } catch {
          // History is a convenience: an unwritable file is not an error.
        }
      }
      let outcome: { value: bigint } | { error: unknown };
      try {
        outcome = { value: calc.evaluate(line) };
      } catch (error) {
        outcome = { error };
        failed = true;
        // On a terminal the caret goes under the line as typed, after the prompt.
        if (!json)
          process.stderr.write(
            formatError(error, line, terminal ? PROMPT : undefined, terminal ? '' : `line ${number}: `),
          );
      }
      if (!terminal) process.stdout.write(`${resultLine(number, outcome, json)}\n`);
      else if ('value' in outcome) process.stdout.write(`${outcome.value}\n`);
    }
    if (terminal) rl.prompt();
  }
  rl.close();
  await done;
  if (terminal) return 0;
  return failed ? 1 : 0;
}
