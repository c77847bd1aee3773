// Real nanocalc-server processes for the remote tests: started on ephemeral loopback ports, their
// address read from the 'listening on ADDR' line, and stopped by the tests (after hooks).

import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url)); // dist/test/support → the package root
// The server `npm run build:server` puts beside the addon (scripts/build-platform.mjs); the
// self-signed helper stays where cargo built it (zigbuild's target directory on linux-x64).
export const SERVER_BIN = join(ROOT, 'native', 'nanocalc-server');
export const SELFSIGNED_BIN =
  [
    join(ROOT, 'target', 'x86_64-unknown-linux-gnu', 'release', 'nanocalc-selfsigned'),
    join(ROOT, 'target', 'release', 'nanocalc-selfsigned'),
  ].find((path) => existsSync(path)) ?? join(ROOT, 'target', 'release', 'nanocalc-selfsigned');

export interface Server {
  address: string;
  /** Where `GET /metrics` is served, when started with `--metrics-addr` (`metrics on ADDR`). */
  metricsAddress: string | undefined;
  process: ChildProcess;
  /** Everything the server logged on stderr so far. */
  readonly logs: string;
  /** Resolves with the exit code (or signal) once the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when it has exited. */
  stop(graceMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const running = new Set<Server>();

/**
 * Starts `nanocalc-server --addr 127.0.0.1:0 ...args` (or another command with the same
 * contract, e.g. the CLI; `addr` for a fixed address, e.g. a replica restarted where it was)
 * and resolves once it listens.
 */
export function startServer(
  args: string[] = [],
  options: { env?: Record<string, string>; command?: string[]; addr?: string } = {},
): Promise<Server> {
  const command = options.command ?? [SERVER_BIN];
  const child = spawn(command[0]!, [...command.slice(1), '--addr', options.addr ?? '127.0.0.1:0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NANOCALC_LOG_FORMAT: 'text', ...options.env },
  });
  let logs = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => (logs += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return new Promise((resolve, reject) => {
    let stdout = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the server did not start within 10 s; stderr:\n${logs}`));
    }, 10_000);
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      stdout += chunk;
      const match = /listening on (\S+)/.exec(stdout);
      if (match === null) return;
      clearTimeout(timer);
      const server: Server = {
        address: match[1]!,
        metricsAddress: /metrics on (\S+)/.exec(stdout)?.[1],
        process: child,
        get logs() {
          return logs;
        },
        exited,
        async stop(graceMs = 5_000) {
          if (child.exitCode === null && child.signalCode === null) {
            child.kill('SIGTERM');
            const killer = setTimeout(() => child.kill('SIGKILL'), graceMs);
            const result = await exited;
            clearTimeout(killer);
            running.delete(server);
            return result;
          }
          running.delete(server);
          return exited;
        },
      };
      running.add(server);
      resolve(server);
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`the server exited before listening (${code ?? signal}); stderr:\n${logs}`));
    });
  });
}

/** Stops every server still running (for after hooks). */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((server) => server.stop(2_000)));
}

/** A throwaway self-signed certificate for localhost/127.0.0.1, made by nanocalc-selfsigned. */
export function selfSignedCertificate(): { dir: string; cert: string; key: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'nanocalc-tls-'));
  execFileSync(SELFSIGNED_BIN, [dir]);
  return {
    dir,
    cert: join(dir, 'cert.pem'),
    key: join(dir, 'key.pem'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Starts a server as {@link startServer} does, with its metrics served on a free port. */
export function startServerWithMetrics(
  args: string[] = [],
  options: { env?: Record<string, string>; addr?: string } = {},
): Promise<Server & { metricsAddress: string }> {
  return startServer(['--metrics-addr', '127.0.0.1:0', ...args], options) as Promise<
    Server & { metricsAddress: string }
  >;
}

/** One sample of Prometheus's text format: `name{label="value",...} number`. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Fetches `http://ADDRESS/metrics` and parses its samples (comments skipped). */
export async function scrapeMetrics(address: string): Promise<Sample[]> {
  const response = await fetch(`http://${address}/metrics`);
  if (response.status !== 200) throw new Error(`GET /metrics answered ${response.status}`);
  const samples: Sample[] = [];
  for (const line of (await response.text()).split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null) continue;
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[key!] = value!;
    }
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

/** The sum of the samples named `name` whose labels include `labels` (0 if none). */
export function metric(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const sample of samples) {
    if (sample.name !== name) continue;
    if (Object.entries(labels).every(([key, value]) => sample.labels[key] === value)) total += sample.value;
  }
  return total;
}

/** Calls the nanocalc.v1.CalculatorService method `method` completed with each gRPC code. */
export function handledCalls(samples: readonly Sample[], method: string, code?: string): number {
  const labels: Record<string, string> = { grpc_service: 'nanocalc.v1.CalculatorService', grpc_method: method };
  if (code !== undefined) labels.grpc_code = code;
  return metric(samples, 'grpc_server_handled_total', labels);
}

/** A client authority and a client certificate it signed, with the server's self-signed certificate. */
export function mutualTlsCertificates(): ReturnType<typeof selfSignedCertificate> & {
  clientCa: string;
  clientCert: string;
  clientKey: string;
} {
  const dir = mkdtempSync(join(tmpdir(), 'nanocalc-mtls-'));
  execFileSync(SELFSIGNED_BIN, [dir, '--client']);
  return {
    dir,
    cert: join(dir, 'cert.pem'),
    key: join(dir, 'key.pem'),
    clientCa: join(dir, 'client-ca.pem'),
    clientCert: join(dir, 'client.pem'),
    clientKey: join(dir, 'client-key.pem'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
