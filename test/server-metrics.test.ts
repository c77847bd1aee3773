// nanocalc-server --metrics-addr: Prometheus text on GET /metrics, scraped from a real server on
// 127.0.0.1 while and after RemoteCalculator calls it. Every count is checked exactly against the
// calls made; bytes against the encoded requests and the in-process engine's answers.
// nanocalc-test: node-only

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Calculator, CalculatorError } from 'nanocalc';
import { RemoteCalculator, RemoteError } from 'nanocalc/remote';
import { encodeBinary } from '../src/remote/wire.js';
import { OPERATION_FIELD } from '../src/validate.js';
import {
  ROOT,
  type Sample,
  type Server,
  handledCalls,
  metric,
  scrapeMetrics,
  startServerWithMetrics,
  stopAll,
} from './support/servers.js';

after(stopAll);

const TOKEN = `metrics-token-${Math.random().toString(36).slice(2)}`;
const PREFIX = 5; // gRPC's message prefix: a flag byte and a 4-byte length
const UNARY = 60;
const FAILING = 7;
const STREAMED = 40;
const STREAMED_FAILING = 3;
const UNAUTHENTICATED = 4;

const local = new Calculator();

/** The bytes of one gRPC-framed request and of its answer (as the in-process engine answers it). */
function framedBytes(op: 'add' | 'divide', a: bigint, b: bigint): { request: number; response: number } {
  const request = encodeBinary(OPERATION_FIELD[op], a, b, 0);
  return { request: PREFIX + request.length, response: PREFIX + local.process(request).length };
}

function inFlight(samples: readonly Sample[]): number {
  return metric(samples, 'nanocalc_calls_in_flight');
}

describe('metrics', () => {
  let server: Server & { metricsAddress: string };
  before(async () => {
    server = await startServerWithMetrics([], { env: { NANOCALC_TOKEN: TOKEN } });
  });
  after(async () => {
    await server?.stop();
  });

  test('the metrics address is printed and logged; build info carries the version; other paths are 404', async () => {
    assert.match(server.metricsAddress, /^127\.0\.0\.1:\d+$/);
    const logged = new RegExp(`metrics_addr=.*http://${server.metricsAddress}/metrics`);
    for (let i = 0; i < 100 && !logged.test(server.logs); i++) await new Promise((r) => setTimeout(r, 20));
    assert.match(server.logs, logged, 'the log line written after `listening on`');
    const version = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version as string;
    const samples = await scrapeMetrics(server.metricsAddress);
    assert.equal(metric(samples, 'nanocalc_build_info', { version }), 1);
    assert.equal(metric(samples, 'nanocalc_engine_requests_total'), 0);
    assert.equal(handledCalls(samples, 'Calculate'), 0);
    const other = await fetch(`http://${server.metricsAddress}/`);
    assert.equal(other.status, 404);
    await other.body?.cancel();
  });

  test('unary, streamed and failing calls under load are counted exactly, by method, status and ErrorCode', async () => {
    const calc = new RemoteCalculator(server.address, { token: TOKEN });
    const expected = { request: { Calculate: 0, CalculateStream: 0 }, response: { Calculate: 0, CalculateStream: 0 } };
    const count = (method: 'Calculate' | 'CalculateStream', bytes: { request: number; response: number }) => {
      expected.request[method] += bytes.request;
      expected.response[method] += bytes.response;
    };
    let scrapedUnderLoad: Sample[] | undefined;
    try {
      const unary = async () => {
        for (let k = 0; k < UNARY; k++) {
          const [a, b] = [BigInt(k) * 1_000_003n, -BigInt(k)];
          assert.equal(await calc.add(a, b), a + b);
          count('Calculate', framedBytes('add', a, b));
          if (k === UNARY / 2) scrapedUnderLoad = await scrapeMetrics(server.metricsAddress);
        }
      };
      const failing = async () => {
        for (let k = 0; k < FAILING; k++) {
          await assert.rejects(
            calc.divide(BigInt(k), 0n),
            (e: unknown) => e instanceof CalculatorError && e.code === 'DIVISION_BY_ZERO',
          );
          count('Calculate', framedBytes('divide', BigInt(k), 0n));
        }
      };
      const streamed = async () => {
        const stream = calc.stream();
        const answers: Promise<unknown>[] = [];
        for (let k = 0; k < STREAMED; k++) {
          const [a, b] = [BigInt(k), 9_000_000_000n];
          answers.push(stream.add(a, b).then((v) => assert.equal(v, a + b)));
          count('CalculateStream', framedBytes('add', a, b));
        }
        for (let k = 0; k < STREAMED_FAILING; k++) {
          const failed = stream.divide(1n, 0n);
          answers.push(assert.rejects(failed, (e: unknown) => e instanceof CalculatorError));
          count('CalculateStream', framedBytes('divide', 1n, 0n));
        }
        await Promise.all(answers);
        await stream.end();
      };
      await Promise.all([unary(), unary().then(unary), failing(), streamed()]);
    } finally {
      calc.close();
    }
    const unaryCalls = 3 * UNARY + FAILING;

    // Under load: what had been started is at least what had completed; nothing goes backwards.
    assert.ok(scrapedUnderLoad !== undefined);
    const startedThen = metric(scrapedUnderLoad, 'grpc_server_started_total');
    assert.ok(startedThen >= metric(scrapedUnderLoad, 'grpc_server_handled_total'));
    assert.ok(startedThen > 0 && startedThen <= unaryCalls + 1);

    const samples = await scrapeMetrics(server.metricsAddress);
    assert.equal(handledCalls(samples, 'Calculate', 'OK'), unaryCalls, 'a domain error is an OK call');
    assert.equal(handledCalls(samples, 'Calculate'), unaryCalls, 'no other status');
    assert.equal(handledCalls(samples, 'CalculateStream', 'OK'), 1);
    assert.equal(handledCalls(samples, 'CalculateStream'), 1);
    const calculate = { grpc_service: 'nanocalc.v1.CalculatorService', grpc_method: 'Calculate', grpc_type: 'unary' };
    const stream = { ...calculate, grpc_method: 'CalculateStream', grpc_type: 'bidi_stream' };
    assert.equal(metric(samples, 'grpc_server_started_total', calculate), unaryCalls);
    assert.equal(metric(samples, 'grpc_server_started_total', stream), 1);
    assert.equal(metric(samples, 'grpc_server_handling_seconds_count', calculate), unaryCalls);
    assert.equal(metric(samples, 'grpc_server_handling_seconds_bucket', { ...calculate, le: '+Inf' }), unaryCalls);
    assert.ok(metric(samples, 'grpc_server_handling_seconds_sum', calculate) > 0);
    assert.equal(metric(samples, 'grpc_server_handling_seconds_count', stream), 1);
    assert.equal(inFlight(samples), 0);

    assert.equal(metric(samples, 'nanocalc_engine_requests_total'), unaryCalls + STREAMED + STREAMED_FAILING);
    assert.equal(
      metric(samples, 'nanocalc_engine_errors_total', { code: 'DIVISION_BY_ZERO' }),
      FAILING + STREAMED_FAILING,
    );
    assert.equal(metric(samples, 'nanocalc_engine_errors_total'), FAILING + STREAMED_FAILING, 'no other error');

    assert.equal(metric(samples, 'nanocalc_request_bytes_total', calculate), expected.request.Calculate);
    assert.equal(metric(samples, 'nanocalc_response_bytes_total', calculate), expected.response.Calculate);
    assert.equal(metric(samples, 'nanocalc_request_bytes_total', stream), expected.request.CalculateStream);
    assert.equal(metric(samples, 'nanocalc_response_bytes_total', stream), expected.response.CalculateStream);
  });

  test('calls refused for their token are counted as UNAUTHENTICATED and computed nothing', async () => {
    const before = await scrapeMetrics(server.metricsAddress);
    const calc = new RemoteCalculator(server.address, { token: `${TOKEN}-wrong` });
    try {
      for (let k = 0; k < UNAUTHENTICATED; k++) {
        await assert.rejects(
          calc.add(1, 2),
          (e: unknown) => e instanceof RemoteError && e.status === 'UNAUTHENTICATED',
        );
      }
    } finally {
      calc.close();
    }
    const samples = await scrapeMetrics(server.metricsAddress);
    const delta = (read: (s: Sample[]) => number) => read(samples) - read(before);
    assert.equal(
      delta((s) => handledCalls(s, 'Calculate', 'UNAUTHENTICATED')),
      UNAUTHENTICATED,
    );
    assert.equal(
      delta((s) => handledCalls(s, 'Calculate')),
      UNAUTHENTICATED,
    );
    assert.equal(
      delta((s) => metric(s, 'nanocalc_engine_requests_total')),
      0,
    );
    assert.equal(inFlight(samples), 0);
  });

  test('a stream the client cancels is completed once, and no longer in flight', async () => {
    const before = await scrapeMetrics(server.metricsAddress);
    const calc = new RemoteCalculator(server.address, { token: TOKEN });
    const abort = new AbortController();
    try {
      const stream = calc.stream({ signal: abort.signal });
      assert.equal(await stream.add(1n, 2n), 3n);
      abort.abort(new Error('enough'));
      await assert.rejects(stream.end());
    } finally {
      calc.close();
    }
    let samples = before;
    for (let i = 0; i < 100; i++) {
      samples = await scrapeMetrics(server.metricsAddress);
      // The reset completes the call on the server after the client has let go: wait for both counts.
      const completed = handledCalls(samples, 'CalculateStream') > handledCalls(before, 'CalculateStream');
      if (completed && inFlight(samples) === 0) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const delta = (code?: string) =>
      handledCalls(samples, 'CalculateStream', code) - handledCalls(before, 'CalculateStream', code);
    const codes = samples
      .filter(
        (x) => x.name === 'grpc_server_handled_total' && x.labels.grpc_method === 'CalculateStream' && x.value > 0,
      )
      .map((x) => `${x.labels.grpc_code}=${x.value}`);
    // CANCELLED when the reset reaches the server's answer first; OK when the server's handler had
    // already ended the answer (under load the reset can arrive after it): counted once either way.
    assert.equal(delta(), 1, `completed: ${codes}`);
    assert.equal(delta('CANCELLED') + delta('OK'), 1, `completed: ${codes}`);
    assert.equal(inFlight(samples), 0);
  });
});
