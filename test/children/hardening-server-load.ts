// One client process of hardening-server-load.test.ts, against a running nanocalc-server:
//
//   node hardening-server-load-child.js load ADDRESS MS SEED
//     RemoteCalculator calls for MS milliseconds (unary calls, column batches, pipelined streams
//     and expressions, many in flight at once), every answer compared with the BigInt model.
//   node hardening-server-load-child.js faults ADDRESS MS SEED MAX_MESSAGE_BYTES
//     faults for MS milliseconds: streams dropped mid-way, raw TCP connections sending garbage and
//     malformed HTTP/2 frames, malformed protobuf payloads (each answer checked against the model
//     of prost's decoding), oversized messages, idle connections held open throughout.
//
// Prints one line of JSON figures on stdout at the end. Every loop is bounded by MS.

import * as http2 from 'node:http2';
import * as net from 'node:net';
import { isDeepStrictEqual } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { fromBinary } from '@bufbuild/protobuf';
import { CalculatorError } from 'nanocalc';
import { RemoteCalculator, RemoteError } from 'nanocalc/remote';
import { CalculatorResponseSchema, ErrorCode } from '../../gen/nanocalc/v1/calculator_pb.js';
import {
  OPS,
  type ExpectedResponse,
  decodeStrict,
  expectedResponse,
  reference,
  referenceBatch,
  summarize,
} from '../models/reference.js';
import { referenceEvaluate } from '../models/expressions.js';
import { pseudoRandomI64, show } from '../support/helpers.js';

const CALCULATE = '/nanocalc.v1.CalculatorService/Calculate';
const CALCULATE_STREAM = '/nanocalc.v1.CalculatorService/CalculateStream';

export interface LoadFigures {
  role: 'load';
  calls: number;
  batches: number;
  batchElements: number;
  streamCalls: number;
  expressions: number;
  wrong: number;
  transportErrors: number;
  firstProblem?: string;
}

export interface FaultFigures {
  role: 'faults';
  /** Faults injected, by kind. */
  faults: Record<string, number>;
  /** Malformed payloads whose answer was checked against the model. */
  payloadsChecked: number;
  /** Raw connections the server closed by itself (rather than us, after waiting). */
  closedByServer: number;
  wrong: number;
  firstProblem?: string;
}

const [role, address, msText, seedText, maxMessageText] = process.argv.slice(2);
if (address === undefined || msText === undefined || seedText === undefined) {
  throw new Error('usage: load|faults ADDRESS MS SEED [MAX_MESSAGE_BYTES]');
}
const deadline = performance.now() + Number(msText);
const random = pseudoRandomI64(BigInt(seedText));
const next = (): bigint => random.next().value as bigint;
const int = (n: number): number => Number(BigInt.asUintN(32, next()) % BigInt(n));
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 8) {
    const word = BigInt.asUintN(64, next());
    for (let k = 0; k < 8 && i + k < n; k++) out[i + k] = Number((word >> BigInt(8 * k)) & 0xffn);
  }
  return out;
}

/** An operand: often small (so division is interesting and zero divisors occur), else any i64. */
function operand(): bigint {
  const r = next();
  if ((r & 3n) === 0n) return next() % 7n;
  if ((r & 3n) === 1n) return next() % 1000n;
  return next();
}

// ---- load ----------------------------------------------------------------------------------

async function load(): Promise<LoadFigures> {
  const figures: LoadFigures = {
    role: 'load',
    calls: 0,
    batches: 0,
    batchElements: 0,
    streamCalls: 0,
    expressions: 0,
    wrong: 0,
    transportErrors: 0,
  };
  const problem = (what: string, transport = false): void => {
    if (transport) figures.transportErrors++;
    else figures.wrong++;
    figures.firstProblem ??= what;
  };
  /** Checks a settled call against the model: a value, or a CalculatorError with code and index. */
  const check = (what: string, got: PromiseSettledResult<unknown>, want: bigint | { code: string; index?: number }) => {
    if (got.status === 'fulfilled') {
      if (typeof want !== 'bigint' || got.value !== want)
        problem(`${what} = ${show(got.value)}, expected ${show(want)}`);
      return;
    }
    const error = got.reason as unknown;
    if (error instanceof RemoteError)
      return problem(`${what}: transport failure ${error.status}: ${error.details}`, true);
    const ok =
      error instanceof CalculatorError &&
      typeof want === 'object' &&
      error.code === want.code &&
      (want.index === undefined || error.index === want.index);
    if (!ok) problem(`${what} threw ${String(error)}, expected ${show(want)}`);
  };
  const settle = <T>(promise: Promise<T>): Promise<PromiseSettledResult<T>> =>
    promise.then(
      (value) => ({ status: 'fulfilled', value }),
      (reason: unknown) => ({ status: 'rejected', reason }),
    );
  const divisionByZero = { code: 'DIVISION_BY_ZERO' };

  const calc = new RemoteCalculator(address!, { timeoutMs: 20_000 });
  const unary = async () => {
    while (performance.now() < deadline) {
      const op = OPS[int(5)]!;
      const a = operand();
      const b = operand();
      const want = reference(op, a, b);
      check(`${op}(${a}n, ${b}n)`, await settle(calc[op](a, b)), want ?? divisionByZero);
      figures.calls++;
    }
  };
  const batches = async () => {
    while (performance.now() < deadline) {
      const op = OPS[int(5)]!;
      const n = 1 + int(2_000);
      const a = Array.from({ length: n }, operand);
      // Zero divisors in about one batch of four (a zero anywhere fails the whole batch).
      const b = Array.from({ length: n }, () => (int(4) === 0 ? next() % 50_000n : next() | 1n));
      const want = referenceBatch(op, a, b);
      const got = await settle(calc.batch(op, a, b));
      figures.batches++;
      figures.batchElements += n;
      if ('failsAt' in want) {
        check(`batch ${op} of ${n}`, got, { code: 'DIVISION_BY_ZERO', index: want.failsAt });
      } else if (got.status === 'rejected') {
        check(`batch ${op} of ${n}`, got, 0n);
      } else {
        const values = got.value;
        const bad = want.values.findIndex((v, i) => values[i] !== v);
        if (values.length !== n || bad !== -1)
          problem(`batch ${op} of ${n}: element ${bad} = ${values[bad]}, expected ${want.values[bad]}`);
      }
    }
  };
  const streams = async () => {
    while (performance.now() < deadline) {
      const stream = calc.stream();
      for (let round = 0; round < 8 && performance.now() < deadline; round++) {
        const calls: Promise<void>[] = [];
        for (let k = 0; k < 256; k++) {
          const op = OPS[int(5)]!;
          const a = operand();
          const b = operand();
          const want = reference(op, a, b);
          calls.push(
            settle(stream[op](a, b)).then((got) => check(`stream ${op}(${a}n, ${b}n)`, got, want ?? divisionByZero)),
          );
        }
        await Promise.all(calls);
        figures.streamCalls += calls.length;
      }
      await stream.end().catch((error: unknown) => problem(`stream end: ${String(error)}`, true));
    }
  };
  const SYMBOLS = ['+', '-', '*', '/', '%'];
  const expressions = async () => {
    while (performance.now() < deadline) {
      const term = () => (int(3) === 0 ? `(${operand()} ${SYMBOLS[int(5)]} ${operand()})` : String(operand()));
      let text = term();
      for (let k = int(6); k > 0; k--) text += ` ${SYMBOLS[int(5)]} ${term()}`;
      if (int(10) === 0) text += int(2) === 0 ? ' )' : ' *'; // a syntax error now and then
      const want = referenceEvaluate(text);
      check(
        `evaluate(${JSON.stringify(text)})`,
        await settle(calc.evaluate(text)),
        'value' in want ? want.value : want,
      );
      figures.expressions++;
    }
  };
  await Promise.all([
    ...Array.from({ length: 6 }, unary),
    ...Array.from({ length: 2 }, batches),
    streams(),
    expressions(),
  ]);
  calc.close();
  return figures;
}

// ---- faults --------------------------------------------------------------------------------

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

function frame(type: number, flags: number, stream: number, payload: Uint8Array, length = payload.length): Buffer {
  const out = Buffer.alloc(9 + payload.length);
  out.writeUIntBE(length, 0, 3);
  out[3] = type;
  out[4] = flags;
  out.writeUInt32BE(stream >>> 0, 5);
  out.set(payload, 9);
  return out;
}

const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};

/** Malformed HTTP/2 (after a correct preface and SETTINGS, unless `bare`), by name. */
const BAD_FRAMES: Record<string, () => { bytes: Buffer; bare?: boolean }> = {
  frameTooLarge: () => ({ bytes: Buffer.concat([frame(0, 0, 1, randomBytes(64), 0xffffff)]) }),
  dataOnStream0: () => ({ bytes: frame(0, 0, 0, Buffer.from('abc')) }),
  garbageHpack: () => ({ bytes: frame(1, 0x5, 1, randomBytes(1 + int(200))) }),
  settingsBadLength: () => ({ bytes: frame(4, 0, 0, randomBytes(5)) }),
  settingsBadValues: () => ({
    // ENABLE_PUSH = 2 and INITIAL_WINDOW_SIZE = 2^31: both protocol errors.
    bytes: frame(4, 0, 0, Buffer.from([0, 2, 0, 0, 0, 2, 0, 4, 0x80, 0, 0, 0])),
  }),
  windowUpdateZero: () => ({ bytes: frame(8, 0, 0, u32(0)) }),
  pingBadLength: () => ({ bytes: frame(6, 0, 0, randomBytes(7)) }),
  continuationAlone: () => ({ bytes: frame(9, 0x4, 1, randomBytes(16)) }),
  headersEvenStream: () => ({ bytes: frame(1, 0x5, 2, randomBytes(20)) }),
  rstIdleStream: () => ({ bytes: frame(3, 0, 7, u32(8)) }),
  priorityBadLength: () => ({ bytes: frame(2, 0, 1, u32(1)) }),
  goawayThenHeaders: () => ({
    bytes: Buffer.concat([frame(7, 0, 0, Buffer.concat([u32(0), u32(0)])), frame(1, 0x5, 1, randomBytes(12))]),
  }),
  unknownFrameTypes: () => ({
    bytes: Buffer.concat(
      Array.from({ length: 8 }, () => frame(0xa0 + int(0x50), int(256), int(100), randomBytes(int(64)))),
    ),
  }),
  randomFrames: () => ({
    bytes: Buffer.concat(Array.from({ length: 4 }, () => frame(int(10), int(256), int(10), randomBytes(int(100))))),
  }),
  http1Request: () => ({
    bytes: Buffer.from('POST /nanocalc.v1.CalculatorService/Calculate HTTP/1.1\r\nHost: x\r\n\r\n'),
    bare: true,
  }),
  badPreface: () => ({
    bytes: Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n'), randomBytes(32)]),
    bare: true,
  }),
  garbageBytes: () => ({ bytes: Buffer.from(randomBytes(1 + int(4096))), bare: true }),
};

async function faults(maxMessageBytes: number): Promise<FaultFigures> {
  const figures: FaultFigures = { role: 'faults', faults: {}, payloadsChecked: 0, closedByServer: 0, wrong: 0 };
  const count = (kind: string): void => {
    figures.faults[kind] = (figures.faults[kind] ?? 0) + 1;
  };
  const problem = (what: string): void => {
    figures.wrong++;
    figures.firstProblem ??= what;
  };
  const [host, port] = [
    address!.slice(0, address!.lastIndexOf(':')),
    Number(address!.slice(address!.lastIndexOf(':') + 1)),
  ];

  /** Writes `bytes` on a new TCP connection, waits up to `ms` for the server to close it, then closes it. */
  const rawTcp = (bytes: Buffer, ms = 300): Promise<void> =>
    new Promise((resolve) => {
      const socket = net.connect({ host, port });
      let closedByUs = false;
      const timer = setTimeout(() => {
        closedByUs = true;
        socket.destroy();
      }, ms);
      socket.on('error', () => {});
      socket.on('data', () => {});
      socket.on('connect', () => socket.write(bytes));
      socket.on('close', () => {
        clearTimeout(timer);
        if (!closedByUs) figures.closedByServer++;
        resolve();
      });
    });

  // Idle connections held open for the whole run: plain TCP, a bare preface, and an HTTP/2
  // stream opened with no message sent.
  const idle: { close(): void }[] = [];
  for (let i = 0; i < 8; i++) {
    const socket = net.connect({ host, port });
    socket.on('error', () => {});
    if (i % 2 === 1) socket.on('connect', () => socket.write(PREFACE));
    idle.push({ close: () => socket.destroy() });
    count('idleConnection');
  }
  for (let i = 0; i < 4; i++) {
    const session = http2.connect(`http://${address}`);
    session.on('error', () => {});
    const stream = session.request({
      ':method': 'POST',
      ':path': CALCULATE_STREAM,
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    stream.on('error', () => {});
    idle.push({ close: () => session.destroy() });
    count('idleStream');
  }

  /** A CalculateStream over node:http2, dropped in one of several ways after a few answers. */
  const droppedStream = async (how: number): Promise<void> => {
    const socket = net.connect({ host, port });
    socket.on('error', () => {});
    const session = http2.connect(`http://${address}`, { createConnection: () => socket });
    session.on('error', () => {});
    const stream = session.request({
      ':method': 'POST',
      ':path': CALCULATE_STREAM,
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    stream.on('error', () => {});
    let received = 0;
    stream.on('data', (chunk: Buffer) => (received += chunk.length));
    const message = (bytes: Uint8Array): Buffer => {
      const head = Buffer.alloc(5);
      head.writeUInt32BE(bytes.length, 1);
      return Buffer.concat([head, bytes]);
    };
    // add(2, 3) as CalculatorRequest bytes, 50 times, then wait for some answers.
    for (let i = 0; i < 50; i++) stream.write(message(new Uint8Array([0x0a, 0x04, 0x08, 0x02, 0x10, 0x03])));
    for (let i = 0; i < 20 && received === 0; i++) await sleep(5);
    switch (how % 4) {
      case 0: // the whole connection torn down at once
        session.destroy();
        count('streamDroppedConnection');
        break;
      case 1: // RST_STREAM (CANCEL), then the session closed politely
        stream.close(http2.constants.NGHTTP2_CANCEL);
        session.close();
        count('streamReset');
        break;
      case 2: // half a gRPC message (the header promises 1,000 bytes), then the socket destroyed
        stream.write(Buffer.concat([Buffer.from([0, 0, 0, 0x03, 0xe8]), Buffer.from(randomBytes(10))]));
        await sleep(5);
        socket.destroy();
        count('streamPartialMessage');
        break;
      default: {
        // a message header claiming 4 GiB: refused (RESOURCE_EXHAUSTED), then dropped
        let status: unknown;
        stream.on('trailers', (trailers) => (status = trailers['grpc-status']));
        stream.write(Buffer.from([0, 0xff, 0xff, 0xff, 0xff]));
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 5_000);
          stream.on('close', () => {
            clearTimeout(timer);
            resolve();
          });
        });
        session.destroy();
        if (status !== '8')
          problem(
            `a message header claiming 4 GiB was answered grpc-status ${String(status)}, not 8 (RESOURCE_EXHAUSTED)`,
          );
        count('streamHugeLengthPrefix');
      }
    }
  };

  // A grpc-js client with identity serializers for raw payloads (its own connection).
  const client = new grpc.Client(address!, grpc.credentials.createInsecure(), {
    'grpc.max_send_message_length': -1,
    'grpc.max_receive_message_length': -1,
  });
  const rawUnary = (payload: Uint8Array): Promise<{ error: grpc.ServiceError | null; value: Buffer | undefined }> =>
    new Promise((resolve) =>
      client.makeUnaryRequest<Uint8Array, Buffer>(
        CALCULATE,
        (u8) => Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength),
        (b) => b,
        payload,
        new grpc.Metadata(),
        { deadline: Date.now() + 10_000 },
        (error, value) => resolve({ error, value }),
      ),
    );

  /** Damaged protobuf: random bytes, valid requests cut short or with garbage appended, bad wire types, over-long varints. */
  const malformedPayload = (): Uint8Array => {
    const valid = [
      [0x0a, 0x04, 0x08, 0x02, 0x10, 0x03], // add(2, 3)
      [0x22, 0x04, 0x08, 0x07, 0x10, 0x00], // divide(7, 0)
      [0x3a, 0x14, 0x08, 0x01, 0x12, 0x08, ...randomBytes(8), 0x1a, 0x08, ...randomBytes(8)], // columns
      [0x32, 0x06, 0x08, 0x03, 0x12, 0x02, 0x08, 0x05], // rows
      [0x42, 0x07, 0x0a, 0x05, 0x31, 0x20, 0x2b, 0x20, 0x32], // expression "1 + 2"
    ][int(5)]!;
    switch (int(6)) {
      case 0:
        return randomBytes(int(64));
      case 1:
        return new Uint8Array(valid.slice(0, int(valid.length)));
      case 2:
        return new Uint8Array([...valid, ...randomBytes(1 + int(16))]);
      case 3: {
        const bytes = new Uint8Array(valid);
        const at = int(bytes.length);
        bytes[at] = bytes[at]! ^ (1 << int(8));
        return bytes;
      }
      case 4:
        return new Uint8Array([0x0a, 0x0b, 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]); // over-long varint
      default:
        return new Uint8Array([((1 + int(8)) << 3) | [0, 1, 5, 3, 4][int(5)]!, ...randomBytes(int(12))]); // a member with a wrong wire type
    }
  };

  const checkPayload = async (payload: Uint8Array): Promise<void> => {
    const { error, value } = await rawUnary(payload);
    const context = `payload ${Buffer.from(payload).toString('hex')}`;
    if (error !== null) return problem(`${context}: status ${error.code} ${error.details}`);
    let got: ReturnType<typeof summarize>;
    try {
      got = summarize(fromBinary(CalculatorResponseSchema, value!));
    } catch (e) {
      return problem(`${context}: undecodable response ${value!.toString('hex')}: ${String(e)}`);
    }
    const strict = decodeStrict(payload);
    const want: ExpectedResponse =
      'error' in strict
        ? { case: 'error', code: ErrorCode.INVALID_REQUEST, index: 0n }
        : expectedResponse(strict.request, payload.length);
    if (!isDeepStrictEqual(got, want)) problem(`${context}: answered ${show(got)}, expected ${show(want)}`);
    figures.payloadsChecked++;
  };

  const oversized = async (): Promise<void> => {
    const { error } = await rawUnary(new Uint8Array(maxMessageBytes + 1 + int(65_536)));
    if (error?.code !== grpc.status.RESOURCE_EXHAUSTED)
      problem(`oversized message: ${error === null ? 'answered' : `status ${error.code} ${error.details}`}`);
    count('oversizedMessage');
  };

  /** A stream of valid requests through RemoteCalculator, cancelled with calls in flight; a unary call cancelled at once. */
  const cancelled = async (): Promise<void> => {
    const calc = new RemoteCalculator(address!, { timeoutMs: 10_000 });
    const stream = calc.stream();
    const calls = Array.from({ length: 300 }, (_, i) => stream.add(BigInt(i), 1n).catch(() => undefined));
    await sleep(int(10));
    stream.cancel();
    await Promise.all(calls);
    const controller = new AbortController();
    const call = calc.multiply(6n, 7n, { signal: controller.signal }).catch(() => undefined);
    controller.abort();
    await call;
    calc.close();
    count('streamCancelledByClient');
    count('unaryCancelled');
  };

  const names = Object.keys(BAD_FRAMES);
  let round = 0;
  while (performance.now() < deadline) {
    const tasks: Promise<void>[] = [];
    // Several raw connections at once, each with one malformed thing.
    for (let k = 0; k < 4; k++) {
      const name = names[(round * 4 + k) % names.length]!;
      const { bytes, bare } = BAD_FRAMES[name]!();
      const settings = frame(4, 0, 0, new Uint8Array(0));
      tasks.push(rawTcp(bare ? bytes : Buffer.concat([PREFACE, settings, bytes])));
      count(name);
    }
    tasks.push(droppedStream(round));
    for (let k = 0; k < 16; k++) {
      tasks.push(checkPayload(malformedPayload()));
      count('malformedPayload');
    }
    if (round % 5 === 0) tasks.push(oversized());
    if (round % 3 === 0) tasks.push(cancelled());
    await Promise.all(tasks);
    round++;
  }
  for (const connection of idle) connection.close();
  client.close();
  return figures;
}

const figures = role === 'load' ? await load() : await faults(Number(maxMessageText ?? 1 << 20));
process.stdout.write(`${JSON.stringify(figures)}\n`);
// Sockets the server has not finished closing must not keep this process alive.
process.exit(0);
