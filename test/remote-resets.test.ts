// nanocalc-test: node-only
// A stream reset before its gRPC status: what a proxy sends when the replica behind it dies
// mid-answer. A node:http2 server on 127.0.0.1 plays that proxy: it resets the stream of each of
// the next `resetNext(n)` messages after its response headers, then answers as nanocalc-server does (the in-process
// Calculator's process() on the request's bytes). RemoteCalculator and RemoteStream must retry
// the reset calls (calculations are pure), and fail with INTERNAL once the attempts run out.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { type Http2Server, type ServerHttp2Stream, constants, createServer } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { Calculator } from 'nanocalc';
import { RemoteCalculator, RemoteError } from 'nanocalc/remote';

const engine = new Calculator();

interface ResettingServer {
  address: string;
  /** Streams reset so far, and streams answered. */
  readonly counts: { reset: number; answered: number };
  /** How many of the next messages have their stream reset (after its headers, before any status). */
  resetNext(n: number): void;
  close(): Promise<void>;
}

/** One gRPC message frame: flag 0, big-endian length, the message. */
function frame(message: Uint8Array): Buffer {
  const out = Buffer.alloc(5 + message.length);
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

/** The messages of `data` so far, complete ones only, and what is left. */
function messagesOf(data: Buffer): [Uint8Array[], Buffer] {
  const messages: Uint8Array[] = [];
  let at = 0;
  while (data.length - at >= 5 && data.length - at >= 5 + data.readUInt32BE(at + 1)) {
    const length = data.readUInt32BE(at + 1);
    messages.push(data.subarray(at + 5, at + 5 + length));
    at += 5 + length;
  }
  return [messages, data.subarray(at)];
}

async function startResettingServer(): Promise<ResettingServer> {
  let toReset = 0;
  const counts = { reset: 0, answered: 0 };
  const server: Http2Server = createServer();
  server.on('stream', (stream: ServerHttp2Stream) => {
    let pending: Buffer = Buffer.alloc(0);
    let headersSent = false;
    // Trailers after the last data frame (waitForTrailers), as gRPC ends every answer.
    const respondOnce = () => {
      if (!headersSent)
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      headersSent = true;
    };
    stream.on('error', () => {});
    stream.on('data', (chunk: Buffer) => {
      const [messages, rest] = messagesOf(Buffer.concat([pending, chunk]));
      pending = rest;
      for (const message of messages) {
        respondOnce();
        if (toReset > 0) {
          toReset--;
          counts.reset++;
          stream.close(constants.NGHTTP2_INTERNAL_ERROR);
          return;
        }
        counts.answered++;
        stream.write(frame(engine.process(message)));
      }
    });
    stream.on('end', () => {
      if (stream.closed) return;
      respondOnce();
      stream.end();
    });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    counts,
    resetNext: (n) => {
      toReset = n;
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe('a stream reset before its status (a proxy whose replica died mid-answer)', () => {
  let server: ResettingServer;
  before(async () => {
    server = await startResettingServer();
  });
  after(async () => {
    await server.close();
    engine.close();
  });

  test('a unary call is retried and answered', async () => {
    const calc = new RemoteCalculator(server.address);
    try {
      server.resetNext(2);
      const before = { ...server.counts };
      assert.equal(await calc.add(2n, 3n), 5n);
      assert.equal(server.counts.reset - before.reset, 2, 'two attempts reset');
      assert.equal(server.counts.answered - before.answered, 1, 'the third answered');
      assert.equal(await calc.multiply(6, 7), 42);
    } finally {
      calc.close();
    }
  });

  test('once maxAttempts are used up, the call fails with INTERNAL naming the reset', async () => {
    const calc = new RemoteCalculator(server.address, { maxAttempts: 2 });
    try {
      server.resetNext(2);
      await assert.rejects(calc.add(2n, 3n), (error: unknown) => {
        assert.ok(error instanceof RemoteError, `${error}`);
        assert.equal(error.status, 'INTERNAL');
        assert.match(error.details, /RST_STREAM/);
        return true;
      });
      assert.equal(await calc.add(2n, 3n), 5n, 'the calculator still works');
    } finally {
      calc.close();
    }
  });

  test('a stream resends its unanswered calls, in order, on a new stream', async () => {
    const calc = new RemoteCalculator(server.address);
    try {
      server.resetNext(1);
      const stream = calc.stream();
      const answers = await Promise.all([stream.add(1n, 2n), stream.subtract(10n, 4n), stream.divide(9n, 2n)]);
      assert.deepEqual(answers, [3n, 6n, 4n]);
      await stream.end();
      assert.ok(server.counts.reset >= 1);
    } finally {
      calc.close();
    }
  });

  test('a stream answered between its cuts outlives maxAttempts cuts', async () => {
    const calc = new RemoteCalculator(server.address, { maxAttempts: 2 });
    try {
      const stream = calc.stream();
      const before = server.counts.reset;
      for (let i = 0n; i < 5n; i++) {
        server.resetNext(1);
        assert.equal(await stream.add(i, 1n), i + 1n, `call ${i} after its stream was reset`);
      }
      assert.equal(server.counts.reset - before, 5, 'each call was reset once, then answered');
      await stream.end();
    } finally {
      calc.close();
    }
  });
});
