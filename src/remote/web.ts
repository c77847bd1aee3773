// RemoteCalculator in a browser: the transport-independent RemoteCalculatorCore (./core.ts) over
// gRPC-Web with `fetch` (https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-WEB.md), which
// `nanocalc serve` speaks beside gRPC. No `node:` import and no @grpc/grpc-js in this file's graph.
//
// A call is one POST of `application/grpc-web+proto`: the request in one 5-byte-prefixed frame
// (flag 0x00); the answer is the response message in a frame and the status in a trailers frame
// (flag 0x80, `grpc-status: N` lines), or, for a call refused before any answer, in the headers.
// Only unary calls: gRPC-Web cannot carry the bidirectional CalculateStream.
import { type CallOptions, RemoteCalculatorCore, type RemoteOptions, type Transport } from './core.js';
import { CALCULATE, type Endpoint, Status, grpcTimeout, statusOfHttp } from './endpoints.js';
import { RemoteError } from './errors.js';

export { DEFAULT_BATCH_CHUNK_LENGTH, DEFAULT_TIMEOUT_MS } from './core.js';
export type { CallOptions, RemoteBatchOptions, RemoteOptions } from './core.js';

/** The options of the browser's RemoteCalculator: those of every RemoteCalculator (no TLS option: the URL says). */
export type WebRemoteCalculatorOptions = RemoteOptions;

const FRAME_PREFIX = 5;
const TRAILERS_FLAG = 0x80;
const COMPRESSED_FLAG = 0x01;

/**
 * The URL of Calculate on the server at `address`: `http(s)://host:port` (a path prefix kept, for a
 * server behind a proxy), or `host:port` for `http://host:port`.
 */
export function calculateUrl(address: string): string {
  const base = /^https?:\/\//i.test(address) ? address : `http://${address}`;
  return base.replace(/\/+$/, '') + CALCULATE;
}

function percentDecoded(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

const utf8 = new TextDecoder();

/** The response message of a gRPC-Web answer, or the RemoteError its status (or HTTP status) says. */
export function readAnswer(httpStatus: number, headers: Headers, body: Uint8Array, endpoint: string): Uint8Array {
  if (httpStatus !== 200) {
    const text = utf8.decode(body.subarray(0, 200)).trim();
    const why = httpStatus === 403 ? ' (is this page’s origin in the server’s --cors-origin?)' : '';
    return fail(statusOfHttp(httpStatus), `HTTP ${httpStatus}${why}${text ? `: ${text}` : ''}`, endpoint);
  }
  const type = headers.get('content-type') ?? '';
  if (!/^application\/grpc-web(\+proto)?\s*(;|$)/i.test(type)) {
    return fail(Status.INTERNAL, `not a gRPC-Web answer (HTTP 200, content-type ${type || 'none'})`, endpoint);
  }
  const messages: Uint8Array[] = [];
  let status = headers.get('grpc-status');
  let message = headers.get('grpc-message') ?? '';
  let at = 0;
  while (at < body.length) {
    if (body.length - at < FRAME_PREFIX)
      return fail(Status.INTERNAL, 'malformed gRPC-Web answer: a cut frame', endpoint);
    const flags = body[at]!;
    const length = new DataView(body.buffer, body.byteOffset + at + 1, 4).getUint32(0);
    const start = at + FRAME_PREFIX;
    if (body.length - start < length) return fail(Status.INTERNAL, 'malformed gRPC-Web answer: a cut frame', endpoint);
    const payload = body.subarray(start, start + length);
    at = start + length;
    if (flags & TRAILERS_FLAG) {
      for (const line of utf8.decode(payload).split('\r\n')) {
        const colon = line.indexOf(':');
        if (colon < 0) continue;
        const name = line.slice(0, colon).trim().toLowerCase();
        const value = line.slice(colon + 1).trim();
        if (name === 'grpc-status') status = value;
        else if (name === 'grpc-message') message = value;
      }
    } else if (flags & COMPRESSED_FLAG) {
      return fail(Status.INTERNAL, 'malformed gRPC-Web answer: a compressed message (none was asked for)', endpoint);
    } else {
      messages.push(payload);
    }
  }
  if (status === null) return fail(Status.INTERNAL, 'malformed gRPC-Web answer: no grpc-status', endpoint);
  const code = Number(status);
  if (!Number.isInteger(code) || code < 0) {
    return fail(Status.INTERNAL, `malformed gRPC-Web answer: grpc-status ${status}`, endpoint);
  }
  if (code !== Status.OK) return fail(code, percentDecoded(message), endpoint);
  if (messages.length !== 1) {
    return fail(Status.INTERNAL, `malformed gRPC-Web answer: ${messages.length} messages to a unary call`, endpoint);
  }
  return messages[0]!;
}

function fail(code: number, details: string, endpoint: string): never {
  throw new RemoteError(code, details, endpoint);
}

/** Unary calls over gRPC-Web with `fetch`; an endpoint's client is its Calculate URL. */
export const fetchTransport: Transport<string> = {
  open: calculateUrl,
  close: () => {},
  async calculate(endpoint: Endpoint<string>, request, token, deadline, signal) {
    const controller = new AbortController();
    let timedOut = false;
    const timer =
      deadline === Infinity
        ? undefined
        : setTimeout(
            () => {
              timedOut = true;
              controller.abort();
            },
            Math.max(0, deadline - Date.now()),
          );
    const onAbort = () => controller.abort(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    const headers: Record<string, string> = {
      'content-type': 'application/grpc-web+proto',
      accept: 'application/grpc-web+proto',
      'x-grpc-web': '1',
    };
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    if (deadline !== Infinity) headers['grpc-timeout'] = grpcTimeout(deadline - Date.now());
    const body = new Uint8Array(FRAME_PREFIX + request.length);
    new DataView(body.buffer).setUint32(1, request.length);
    body.set(request, FRAME_PREFIX);
    try {
      const response = await fetch(endpoint.client, { method: 'POST', headers, body, signal: controller.signal });
      const answer = new Uint8Array(await response.arrayBuffer());
      return readAnswer(response.status, response.headers, answer, endpoint.address);
    } catch (error) {
      if (error instanceof RemoteError) throw error;
      if (signal?.aborted) {
        throw new RemoteError(Status.CANCELLED, 'the call was cancelled by its AbortSignal', endpoint.address, {
          cause: signal.reason,
        });
      }
      if (timedOut) throw new RemoteError(Status.DEADLINE_EXCEEDED, 'deadline exceeded', endpoint.address);
      // A browser tells a refused CORS preflight and a server that is down apart to nobody: both
      // are a TypeError from fetch.
      const what = error instanceof Error ? error.message : String(error);
      throw new RemoteError(
        Status.UNAVAILABLE,
        `no answer (${what}): the server is down or unreachable, or does not allow this page's origin (nanocalc serve --cors-origin)`,
        endpoint.address,
        { cause: error },
      );
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  },
};

/**
 * A 64-bit integer calculator whose engine runs in nanocalc-server processes, called from a
 * browser over gRPC-Web (`nanocalc serve --cors-origin <this page's origin>`). The same methods,
 * answers and errors as Node's RemoteCalculator, each call one round trip; `stream()` is not
 * available (it needs HTTP/2 gRPC). `endpoints`: `http(s)://host:port` URLs (or `host:port` for
 * `http://`), one or several (replicas, balanced round-robin, a call retried on another replica
 * while it fails with UNAVAILABLE).
 */
export class RemoteCalculator extends RemoteCalculatorCore<string> {
  constructor(endpoints: string | readonly string[], options: WebRemoteCalculatorOptions = {}) {
    super(endpoints, options, fetchTransport);
  }

  /** Not over gRPC-Web: throws a RemoteError UNIMPLEMENTED. Use the unary methods (batch, evaluate). */
  stream(_options?: CallOptions): never {
    this.checkOpen();
    throw new RemoteError(
      Status.UNIMPLEMENTED,
      'stream() needs HTTP/2 gRPC (CalculateStream is bidirectional), which a browser cannot speak; over gRPC-Web use the unary methods (batch or evaluate for many values in one call)',
    );
  }
}
