#!/usr/bin/env node
// The `nanocalc` command: `nanocalc <command> [args]`. One table of commands; each runs and
// resolves to the exit code.

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

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

const commands: Record<string, Command> = {
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
};

function usage(): string {
  const width = Math.max(...Object.keys(commands).map((name) => name.length));
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}\n    ${c.usage}`);
  return `usage: nanocalc <command> [args]\n\ncommands:\n${lines.join('\n')}\n`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  const command = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (command === undefined) {
    process.stderr.write(`nanocalc: unknown command ${JSON.stringify(name)}\n\n${usage()}`);
    return 2;
  }
  return command.run(args);
}

process.exitCode = await main(process.argv.slice(2));
