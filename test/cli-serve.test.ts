// nanocalc-test: node-only
// `nanocalc serve` signalled the way a process manager does it: SIGTERM or SIGINT to the outer
// process (`node dist/src/cli.js serve`, or `npm exec nanocalc serve` as `npx` runs it) must stop
// the wrapper and its nanocalc-server child, close the port and pass the exit status on.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'dist', 'src', 'cli.js');
const linux = existsSync('/proc/self/stat');

/** The parent of `pid` and whether it is a zombie (dead, not yet reaped), from /proc. */
function stat(pid: number): { ppid: number; zombie: boolean } | undefined {
  try {
    // pid (comm) state ppid ...: comm may hold spaces and parentheses, so split after the last ')'.
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const [state, ppid] = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(ppid), zombie: state === 'Z' };
  } catch {
    return undefined;
  }
}

/** Every live descendant of `root`. */
function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    const s = stat(pid);
    if (s === undefined || s.zombie) continue;
    children.set(s.ppid, [...(children.get(s.ppid) ?? []), pid]);
  }
  const out: number[] = [];
  const walk = (pid: number) => {
    for (const child of children.get(pid) ?? []) {
      out.push(child);
      walk(child);
    }
  };
  walk(root);
  return out;
}

const alive = (pid: number) => {
  const s = stat(pid);
  return s !== undefined && !s.zombie;
};

function portOpen(address: string): Promise<boolean> {
  const [host, port] = [
    address.slice(0, address.lastIndexOf(':')),
    Number(address.slice(address.lastIndexOf(':') + 1)),
  ];
  return new Promise((resolve) => {
    const socket = connect({ host, port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

/** Starts `command` (a `serve` with --addr 127.0.0.1:0); resolves once it prints its address. */
function start(
  command: string[],
  detached = false,
): Promise<{
  child: ChildProcess;
  address: string;
  exited: Promise<{ code: number | null; signal: string | null }>;
  stderr: () => string;
}> {
  const child = spawn(command[0]!, command.slice(1), { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached });
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no 'listening on' within 60 s; stderr: ${stderr}`));
    }, 60_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = /listening on (\S+)/.exec(stdout);
      if (match === null) return;
      clearTimeout(timer);
      // nanocalc-server prints its address before it installs its SIGTERM/SIGINT handlers (the
      // termination_signal() future is first polled after the line): a signal sent at once can
      // find the default action and kill it with 128+n. Give it a moment (a server-side race).
      setTimeout(() => resolve({ child, address: match[1]!, exited, stderr: () => stderr }), 500);
    });
    void exited.then(() => reject(new Error(`exited before listening; stderr: ${stderr}`)));
  });
}

/** Waits until none of `pids` is alive (or 15 s). */
async function allGone(pids: number[]): Promise<number[]> {
  for (let i = 0; i < 150 && pids.some(alive); i++) await new Promise((r) => setTimeout(r, 100));
  return pids.filter(alive);
}

describe('nanocalc serve, signalled as a process manager does', { skip: linux ? false : 'reads /proc' }, () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    test(`${signal} to node dist/src/cli.js serve: the server stops, the port closes, exit 0`, {
      timeout: 60_000,
    }, async () => {
      const server = await start([process.execPath, CLI, 'serve', '--addr', '127.0.0.1:0']);
      const tree = descendants(server.child.pid!);
      assert.equal(tree.length, 1, `one child, nanocalc-server: ${tree.join(' ')}`);
      server.child.kill(signal);
      assert.deepEqual(await server.exited, { code: 0, signal: null }, server.stderr());
      assert.deepEqual(await allGone(tree), [], 'nanocalc-server is gone');
      assert.equal(await portOpen(server.address), false);
    });

    // SIGTERM goes to npm's process alone (what a process manager sends), which dies of it without
    // passing it on. SIGINT goes to the process group, as Ctrl-C in a terminal sends it: to npm's
    // process alone, npm passes it to the `sh -c` it runs the bin with, and sh waits for its
    // child without passing it on (neither is ours to change).
    test(`${signal} to npm exec nanocalc serve (npx${signal === 'SIGINT' ? ', its process group' : ''}): nothing is left behind`, {
      timeout: 120_000,
    }, async () => {
      const server = await start(['npm', 'exec', '--', 'nanocalc', 'serve', '--addr', '127.0.0.1:0'], true);
      const tree = descendants(server.child.pid!);
      assert.ok(tree.length >= 2, `the node wrapper and nanocalc-server: ${tree.join(' ')}`);
      if (signal === 'SIGTERM') server.child.kill(signal);
      else process.kill(-server.child.pid!, signal);
      await server.exited;
      assert.deepEqual(await allGone(tree), [], `every process npm exec started is gone (of ${tree.join(' ')})`);
      assert.equal(await portOpen(server.address), false);
    });
  }

  test('not run by npm exec, the server outlives the shell that started it (nohup nanocalc serve &)', async () => {
    const log = join(tmpdir(), `nanocalc-serve-nohup-${process.pid}.log`);
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.npm_command;
    // The shell outlives the start of the wrapper (its parent), then exits.
    const shell = spawn(
      'sh',
      [
        '-c',
        `${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} serve --addr 127.0.0.1:0 >${log} 2>&1 & echo $!; sleep 2`,
      ],
      { env, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    shell.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    await new Promise((resolve) => shell.on('exit', resolve));
    const wrapper = Number(out.trim());
    assert.notEqual(stat(wrapper)?.ppid, shell.pid, 'the wrapper lost its parent');
    try {
      let address: string | undefined;
      for (let i = 0; i < 100 && address === undefined; i++) {
        await new Promise((r) => setTimeout(r, 100));
        address = /listening on (\S+)/.exec(existsSync(log) ? readFileSync(log, 'utf8') : '')?.[1];
      }
      assert.ok(address !== undefined, 'the server started');
      await new Promise((r) => setTimeout(r, 1_000)); // five turns of the orphan check
      assert.ok(alive(wrapper), 'the wrapper is still running');
      assert.equal(await portOpen(address), true);
    } finally {
      const tree = descendants(wrapper);
      process.kill(wrapper, 'SIGTERM');
      assert.deepEqual(await allGone([wrapper, ...tree]), []);
      rmSync(log, { force: true });
    }
  });

  test('the exit status of nanocalc-server passes through: a port in use is exit 1', async () => {
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const { port } = busy.address() as { port: number };
    try {
      const r = spawnSync(process.execPath, [CLI, 'serve', '--addr', `127.0.0.1:${port}`], {
        encoding: 'utf8',
        timeout: 30_000,
      });
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, /cannot listen/);
    } finally {
      busy.close();
    }
  });
});
