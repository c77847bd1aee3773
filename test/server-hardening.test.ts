// nanocalc-test: node-only
// nanocalc-server against an outside attack (issue 13, server items 5–8), on real servers:
// idle connections at shutdown, streams/connections/pending bytes bounded with memory given back,
// a stream that ends inside a message, and content types other than gRPC's.
//
// NANOCALC_TEST_SERVER_BIN runs these against another build of the server (e.g. main's, to see
// them fail there).

import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';
import { RemoteCalculator } from 'nanocalc/remote';
import { SERVER_BIN, type Server, startServer, stopAll } from './support/servers.js';

after(stopAll);

const BIN = process.env.NANOCALC_TEST_SERVER_BIN ?? SERVER_BIN;
const start = (args: string[] = []): Promise<Server> => startServer(args, { command: [BIN] });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const CALCULATE = '/nanocalc.v1.CalculatorService/Calculate';
const CALCULATE_STREAM = '/nanocalc.v1.CalculatorService/CalculateStream';
/** add(2, 3) as CalculatorRequest bytes. */
const ADD_2_3 = Buffer.from([0x0a, 0x04, 0x08, 0x02, 0x10, 0x03]);
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

/** A gRPC message: flag 0, big-endian length, bytes. */
function message(bytes: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(bytes.length, 1);
  return Buffer.concat([head, bytes]);
}

/** A bare gRPC prefix announcing `length` bytes. */
function prefix(length: number): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(length, 1);
  return head;
}

/** An HTTP/2 frame. */
function frame(type: number, flags: number, stream: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(stream, 5);
  return Buffer.concat([head, payload]);
}

/** An HPACK header block of literals without indexing (new names, no Huffman). */
function hpack(headers: [string, string][]): Buffer {
  const parts: Buffer[] = [];
  const string = (s: string) => {
    const bytes = Buffer.from(s);
    assert.ok(bytes.length < 127);
    parts.push(Buffer.from([bytes.length]), bytes);
  };
  for (const [name, value] of headers) {
    parts.push(Buffer.from([0]));
    string(name);
    string(value);
  }
  return Buffer.concat(parts);
}

function vmRssKiB(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  assert.ok(match, 'VmRSS in /proc/PID/status');
  return Number(match[1]);
}

function hostPort(address: string): { host: string; port: number } {
  const at = address.lastIndexOf(':');
  return { host: address.slice(0, at), port: Number(address.slice(at + 1)) };
}

/** A TCP connection to `address`, once connected. */
function tcp(address: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(hostPort(address));
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Resolves when `socket` has been closed (by either side), or rejects after `ms`. */
function closedWithin(socket: net.Socket, ms: number): Promise<void> {
  if (socket.destroyed) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the connection was not closed within ${ms} ms`)), ms);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

async function answersAdd(server: Server): Promise<void> {
  const calc = new RemoteCalculator(server.address, { timeoutMs: 10_000 });
  try {
    assert.equal(await calc.add(2n, 3n), 5n);
  } finally {
    calc.close();
  }
}

/** SIGTERM; resolves with the exit and how long it took. */
async function terminate(server: Server, what = ''): Promise<{ code: number | null; ms: number }> {
  const started = Date.now();
  server.process.kill('SIGTERM');
  const { code } = await server.exited;
  const ms = Date.now() - started;
  if (what !== '') console.log(`# shutdown with ${what}: exit ${code} after ${ms} ms`);
  return { code, ms };
}

interface Answer {
  status?: number;
  grpcStatus?: string;
  grpcMessage?: string;
  messages: Buffer[];
}

/** One request over node:http2: `headers` plus whatever `send` writes, then the whole answer. */
function http2Call(
  address: string,
  headers: http2.OutgoingHttpHeaders,
  send: (stream: http2.ClientHttp2Stream) => void | Promise<void>,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://${address}`);
    session.on('error', reject);
    const stream = session.request({ ':method': 'POST', te: 'trailers', ...headers });
    const answer: Answer = { messages: [] };
    let body = Buffer.alloc(0);
    const grpc = (h: http2.IncomingHttpHeaders) => {
      if (h['grpc-status'] !== undefined) answer.grpcStatus = String(h['grpc-status']);
      if (h['grpc-message'] !== undefined) answer.grpcMessage = decodeURIComponent(String(h['grpc-message']));
    };
    stream.on('response', (h) => {
      answer.status = Number(h[':status']);
      grpc(h);
    });
    stream.on('trailers', grpc);
    stream.on('data', (chunk: Buffer) => (body = Buffer.concat([body, chunk])));
    stream.on('error', reject);
    stream.on('close', () => {
      while (answer.status === 200 && body.length >= 5 && body.length >= 5 + body.readUInt32BE(1)) {
        const length = body.readUInt32BE(1);
        answer.messages.push(body.subarray(5, 5 + length));
        body = body.subarray(5 + length);
      }
      session.close();
      resolve(answer);
    });
    void Promise.resolve(send(stream)).catch(reject);
  });
}

/**
 * Starts a server with a 10 s grace period, opens a raw TCP connection to it, lets `prepare` use
 * it, and SIGTERMs the server: it must exit 0 within `withinMs`, without "still in flight".
 */
async function shutsDownPromptlyWith(
  what: string,
  withinMs: number,
  prepare: (socket: net.Socket) => void,
): Promise<void> {
  const server = await start(['--shutdown-grace-seconds', '10']);
  const socket = await tcp(server.address);
  socket.on('error', () => {});
  prepare(socket);
  await sleep(200);
  const { code, ms } = await terminate(server, what);
  socket.destroy();
  assert.equal(code, 0, `exit code; logs:\n${server.logs}`);
  assert.ok(ms < withinMs, `exited after ${ms} ms (grace period 10 s)`);
  assert.doesNotMatch(server.logs, /still in flight/);
}

describe('item 5: idle connections do not hold up a graceful shutdown', { timeout: 120_000 }, () => {
  test("a SIGTERM sent as soon as the server says 'listening on' is a graceful shutdown (exit 0)", async () => {
    // The handlers were installed only once serving began: a process manager's prompt SIGTERM
    // killed the server by the signal's default action.
    for (let round = 0; round < 5; round++) {
      const server = await start();
      const { code } = await terminate(server);
      assert.equal(code, 0, `round ${round}: ${server.logs}`);
      assert.match(server.logs, /signal received/);
    }
  });

  test('a bare TCP connection (no HTTP/2 preface): SIGTERM exits 0 at once, not after the grace period', async () => {
    await shutsDownPromptlyWith('a bare TCP connection', 3_000, () => {});
  });

  test('a connection that sent the preface and stopped reading: exit 0 within about a second', async () => {
    await shutsDownPromptlyWith('a preface sent, then nothing read', 4_000, (socket) => {
      socket.write(Buffer.concat([PREFACE, frame(4, 0, 0)]));
      socket.pause(); // never reads the server's GOAWAY nor answers its PING
    });
  });

  test('an idle HTTP/2 session is told GOAWAY and the server exits 0 at once', async () => {
    const server = await start(['--shutdown-grace-seconds', '10']);
    const session = http2.connect(`http://${server.address}`);
    session.on('error', () => {});
    await new Promise<void>((resolve) => session.once('remoteSettings', () => resolve()));
    const goaway = new Promise<void>((resolve) => session.once('goaway', () => resolve()));
    const { code, ms } = await terminate(server, 'an idle HTTP/2 session');
    await goaway;
    session.destroy();
    assert.equal(code, 0);
    assert.ok(ms < 3_000, `exited after ${ms} ms`);
  });

  test('a connection that does not send the preface within --handshake-timeout-seconds is closed', async () => {
    const server = await start(['--handshake-timeout-seconds', '0.3']);
    const socket = await tcp(server.address);
    socket.on('error', () => {});
    socket.resume();
    await closedWithin(socket, 5_000);
    await answersAdd(server);
    assert.equal((await terminate(server)).code, 0);
  });
});

/** What a connection flooding the server with HEADERS-only streams saw, and the server's RSS. */
interface Flood {
  advertised: number;
  refused: number;
  goaway?: number;
  peakKiB: number;
}

/**
 * Opens `perConnection` Calculate streams on each of `connections` raw connections, headers and
 * no body, ignoring the server's SETTINGS_MAX_CONCURRENT_STREAMS; samples the server's RSS until
 * the server has said nothing for a second, then closes the connections.
 */
async function flood(server: Server, connections: number, perConnection: number): Promise<Flood> {
  const result: Flood = { advertised: Infinity, refused: 0, peakKiB: 0 };
  // The second of silence counts from the connection (a reset connection hears nothing more).
  let lastHeard = Date.now();
  const block = hpack([
    [':method', 'POST'],
    [':scheme', 'http'],
    [':path', CALCULATE],
    [':authority', server.address],
    ['content-type', 'application/grpc'],
    ['te', 'trailers'],
  ]);
  const frames: Buffer[] = [PREFACE, frame(4, 0, 0)];
  for (let i = 0; i < perConnection; i++) frames.push(frame(1, 0x4, 2 * i + 1, block)); // END_HEADERS, no END_STREAM
  const attack = Buffer.concat(frames);
  const sockets = await Promise.all(Array.from({ length: connections }, () => tcp(server.address)));
  for (const socket of sockets) {
    socket.on('error', () => {});
    let pending = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      lastHeard = Date.now();
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 9 && pending.length >= 9 + pending.readUIntBE(0, 3)) {
        const length = pending.readUIntBE(0, 3);
        const [type, flags] = [pending[3]!, pending[4]!];
        const payload = pending.subarray(9, 9 + length);
        pending = pending.subarray(9 + length);
        if (type === 4 && (flags & 1) === 0) {
          for (let at = 0; at + 6 <= payload.length; at += 6) {
            if (payload.readUInt16BE(at) === 3) result.advertised = payload.readUInt32BE(at + 2);
          }
          socket.write(frame(4, 1, 0)); // SETTINGS ACK
        } else if (type === 3 && payload.readUInt32BE(0) === 7) {
          result.refused++;
        } else if (type === 7) {
          result.goaway = payload.readUInt32BE(4);
        } else if (type === 6 && (flags & 1) === 0) {
          socket.write(frame(6, 1, 0, payload)); // PING ACK
        }
      }
    });
    void writeInPieces(socket, attack);
  }
  const pid = server.process.pid!;
  const started = Date.now();
  while (Date.now() - lastHeard < 1_000 && Date.now() - started < 30_000) {
    result.peakKiB = Math.max(result.peakKiB, vmRssKiB(pid));
    await sleep(50);
  }
  result.peakKiB = Math.max(result.peakKiB, vmRssKiB(pid));
  for (const socket of sockets) socket.destroy();
  return result;
}

/**
 * Writes `bytes` 64 KiB at a time, each once the one before has drained. Written at once, the
 * server's GOAWAY and close (after 1,024 refusals) met megabytes still queued: the write failed
 * with EPIPE, and Node destroyed the socket before handing over the frames it had received.
 */
async function writeInPieces(socket: net.Socket, bytes: Buffer): Promise<void> {
  for (let at = 0; at < bytes.length && !socket.destroyed; at += 64 * 1024) {
    if (socket.write(bytes.subarray(at, at + 64 * 1024))) continue;
    await new Promise<void>((resolve) => {
      socket.once('drain', resolve);
      socket.once('close', resolve);
    });
  }
}

/** Floods `server`, waits for the connections' memory to be given back; the figures, logged. */
async function floodAndMeasure(server: Server, connections: number, perConnection: number) {
  await answersAdd(server);
  const beforeKiB = vmRssKiB(server.process.pid!);
  const seen = await flood(server, connections, perConnection);
  await sleep(2_000); // the trim comes a second after the connections close
  const afterKiB = vmRssKiB(server.process.pid!);
  const mib = (kib: number) => (kib / 1024).toFixed(1);
  const figures = `RSS before ${mib(beforeKiB)} MiB, peak ${mib(seen.peakKiB)} MiB, after ${mib(afterKiB)} MiB; advertised ${seen.advertised}, refused ${seen.refused}, GOAWAY ${seen.goaway}`;
  console.log(`# ${connections} connection(s) x ${perConnection} streams: ${figures}`);
  return { ...seen, beforeKiB, afterKiB, figures };
}

describe('item 6: streams, connections and pending request bytes are bounded; memory comes back', {
  timeout: 120_000,
}, () => {
  test('40,000 HEADERS-only streams on one connection: refused beyond the limit, RSS bounded and given back', async () => {
    const server = await start();
    // The server closes the flooding connection with some of the flood still unread, so its kernel
    // resets the connection, and a reset drops what the client had received and not yet read: in
    // about one run in three, the client read nothing at all. Up to three connections, until one
    // reads the server's frames up to its last, the GOAWAY (each measured the same way).
    let seen = await floodAndMeasure(server, 1, 40_000);
    for (let k = 0; k < 2 && seen.goaway === undefined; k++) seen = await floodAndMeasure(server, 1, 40_000);
    assert.equal(seen.advertised, 256, `SETTINGS_MAX_CONCURRENT_STREAMS (${seen.figures})`);
    assert.ok(seen.refused > 0, `streams beyond the limit are refused (${seen.figures})`);
    assert.equal(seen.goaway, 11, `after 1,024 refusals, GOAWAY ENHANCE_YOUR_CALM (${seen.figures})`);
    assert.ok(seen.peakKiB - seen.beforeKiB < 48 * 1024, `peak RSS grew by less than 48 MiB (${seen.figures})`);
    assert.ok(
      seen.afterKiB - seen.beforeKiB < 16 * 1024,
      `RSS after the connection closed is within 16 MiB of before (${seen.figures})`,
    );
    await answersAdd(server);
  });

  test('32 connections x 256 HEADERS-only streams (within the stream limit): --max-open-calls bounds them; RSS given back', async () => {
    const server = await start();
    const seen = await floodAndMeasure(server, 32, 256);
    // 8,192 streams admitted by HTTP/2, of which 4,096 (the default --max-open-calls) stay open, ~9 KiB each.
    assert.equal(seen.refused, 0, `no stream refused within the limit (${seen.figures})`);
    assert.ok(seen.peakKiB - seen.beforeKiB < 96 * 1024, `peak RSS grew by less than 96 MiB (${seen.figures})`);
    assert.ok(
      seen.afterKiB - seen.beforeKiB < 16 * 1024,
      `RSS after the connections closed is within 16 MiB of before (${seen.figures})`,
    );
    await answersAdd(server);
  });

  test('--max-connections: one connection more is closed when accepted; a place freed is used again', async () => {
    const server = await start(['--max-connections', '2']);
    const sessions = [0, 1].map(() => http2.connect(`http://${server.address}`));
    // Both listeners from the start: the second session's settings may arrive while the first is awaited.
    await Promise.all(
      sessions.map((session) => {
        session.on('error', () => {});
        return new Promise<void>((resolve) => session.once('remoteSettings', () => resolve()));
      }),
    );
    const third = await tcp(server.address);
    third.on('error', () => {});
    let heard = 0;
    third.on('data', (chunk: Buffer) => (heard += chunk.length));
    await closedWithin(third, 5_000);
    assert.equal(heard, 0, 'the connection above the limit is closed before HTTP/2 says anything');
    sessions[0]!.destroy();
    await sleep(300);
    await answersAdd(server);
    sessions[1]!.destroy();
    assert.match(server.logs, /--max-connections are open/);
  });

  test('--max-open-calls: one call more over all connections ends RESOURCE_EXHAUSTED at once', async () => {
    const server = await start(['--max-open-calls', '10']);
    const sessions = [0, 1].map(() => http2.connect(`http://${server.address}`));
    for (const session of sessions) session.on('error', () => {});
    const open = Array.from({ length: 10 }, (_, i) =>
      sessions[i % 2]!.request({
        ':method': 'POST',
        ':path': CALCULATE,
        'content-type': 'application/grpc',
        te: 'trailers',
      }),
    );
    const answered = open.map(
      (stream) =>
        new Promise<string | undefined>((resolve) => {
          let status: string | undefined;
          stream.on('response', (h) => (status ??= h['grpc-status'] as string | undefined));
          stream.on('trailers', (h) => (status ??= h['grpc-status'] as string | undefined));
          stream.on('error', () => {});
          stream.on('close', () => resolve(status));
          stream.resume();
        }),
    );
    await sleep(300); // the ten are open, waiting for their request
    const refused = await http2Call(
      server.address,
      { ':path': CALCULATE, 'content-type': 'application/grpc' },
      (stream) => void stream.end(message(ADD_2_3)),
    );
    assert.equal(refused.grpcStatus, '8', JSON.stringify(refused));
    assert.match(refused.grpcMessage ?? '', /max-open-calls/);
    for (const stream of open) stream.end(message(ADD_2_3));
    assert.deepEqual(await Promise.all(answered), Array(10).fill('0'), 'the ten open calls are answered');
    await answersAdd(server);
    for (const session of sessions) session.close();
  });

  test('--max-pending-request-bytes: a call that would go above it ends RESOURCE_EXHAUSTED; the others go on', async () => {
    const MiB = 1 << 20;
    const server = await start([
      '--max-message-bytes',
      String(4 * MiB),
      '--max-pending-request-bytes',
      String(5 * MiB),
    ]);
    const headers = { ':path': CALCULATE, 'content-type': 'application/grpc' };
    let finishFirst!: () => void;
    const firstMayFinish = new Promise<void>((resolve) => (finishFirst = resolve));
    // The first call holds 3 MiB of a 4 MiB message, and waits.
    const first = http2Call(server.address, headers, async (stream) => {
      stream.write(Buffer.concat([prefix(4 * MiB), Buffer.alloc(3 * MiB)]));
      await firstMayFinish;
      stream.end(Buffer.alloc(MiB));
    });
    await sleep(1_000);
    // The second would take 3 MiB more: above 5 MiB.
    const second = await http2Call(server.address, headers, (stream) => {
      stream.on('error', () => {});
      stream.end(Buffer.concat([prefix(4 * MiB), Buffer.alloc(3 * MiB)]));
    });
    assert.equal(second.grpcStatus, '8', `RESOURCE_EXHAUSTED: ${JSON.stringify(second)}`);
    assert.match(second.grpcMessage ?? '', /max-pending-request-bytes/);
    finishFirst();
    const answered = await first;
    assert.equal(answered.grpcStatus, '0');
    assert.equal(answered.messages.length, 1, 'the first call is answered (an INVALID_REQUEST response for zeros)');
    await answersAdd(server);
  });
});

describe('item 7: a stream that ends inside a message ends with an error status', { timeout: 120_000 }, () => {
  test('CalculateStream whose last frame is a bare prefix: earlier answers, then INTERNAL', async () => {
    const server = await start();
    for (const tail of [prefix(10), prefix(10).subarray(0, 3), Buffer.concat([prefix(10), ADD_2_3])]) {
      const answer = await http2Call(
        server.address,
        { ':path': CALCULATE_STREAM, 'content-type': 'application/grpc' },
        (stream) => {
          stream.end(Buffer.concat([message(ADD_2_3), message(ADD_2_3), tail]));
        },
      );
      assert.equal(answer.status, 200);
      assert.equal(answer.messages.length, 2, 'the two whole requests are answered');
      assert.equal(answer.grpcStatus, '13', `INTERNAL for a tail of ${tail.length} bytes: ${JSON.stringify(answer)}`);
      assert.match(answer.grpcMessage ?? '', /ended inside a message/);
    }
    const unary = await http2Call(
      server.address,
      { ':path': CALCULATE, 'content-type': 'application/grpc' },
      (stream) => void stream.end(prefix(10)),
    );
    assert.equal(unary.grpcStatus, '13', 'a unary call says INTERNAL too');
  });

  test('a stream that ends on a message boundary is still answered OK', async () => {
    const server = await start();
    const answer = await http2Call(
      server.address,
      { ':path': CALCULATE_STREAM, 'content-type': 'application/grpc' },
      (stream) => {
        stream.end(Buffer.concat([message(ADD_2_3), message(Buffer.alloc(0)), message(ADD_2_3)]));
      },
    );
    assert.equal(answer.grpcStatus, '0');
    assert.equal(answer.messages.length, 3);
  });
});

describe("item 8: a content type other than gRPC's (or gRPC-Web's) is answered HTTP 415", { timeout: 120_000 }, () => {
  test('text/plain, application/json and none: 415; application/grpc, application/grpc+proto and application/grpc-web: served', async () => {
    const server = await start();
    const body = message(ADD_2_3);
    for (const contentType of ['text/plain', 'application/json', undefined, 'application/grpcx']) {
      const headers: http2.OutgoingHttpHeaders = { ':path': CALCULATE };
      if (contentType !== undefined) headers['content-type'] = contentType;
      const answer = await http2Call(server.address, headers, (stream) => void stream.end(body));
      assert.equal(answer.status, 415, `content-type ${contentType}`);
      assert.equal(answer.grpcStatus, undefined);
    }
    for (const contentType of ['application/grpc', 'application/grpc+proto']) {
      const answer = await http2Call(
        server.address,
        { ':path': CALCULATE, 'content-type': contentType },
        (stream) => void stream.end(body),
      );
      assert.equal(answer.status, 200, contentType);
      assert.equal(answer.grpcStatus, '0', contentType);
      assert.equal(answer.messages.length, 1, contentType);
    }
    // gRPC-Web over HTTP/2 (issue 19): the answer, then its status in a trailers frame of the body.
    const web = await http2Call(
      server.address,
      { ':path': CALCULATE, 'content-type': 'application/grpc-web' },
      (stream) => void stream.end(body),
    );
    assert.equal(web.status, 200, 'application/grpc-web');
    assert.equal(web.grpcStatus, undefined, 'no HTTP/2 trailers: the status is in the body');
    assert.deepEqual(web.messages[0], Buffer.from([0x08, 0x05]), 'value: 5');
    assert.match(web.messages[1]?.toString('latin1') ?? '', /^grpc-status: ?0\r\n/);
    await answersAdd(server); // @grpc/grpc-js
  });
});
