// A lean gRPC Channel on node:http2: one HTTP/2 session per endpoint, reused by every call and opened
// again after it dies; each call a stream with the 5-byte gRPC message prefix written by hand, its
// status read from the trailers (or a trailers-only response), failures mapped as gRPC specifies
// (https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md, http-grpc-status-mapping.md) and
// as @grpc/grpc-js words them, so a RemoteError is the same whichever channel carried the call.
import * as http2 from 'node:http2';
import { Status, grpcTimeout, statusOfHttp } from './endpoints.js';
import { CLOSED_BEFORE_HTTP2, RemoteError, explainTransport } from './errors.js';
import type { Channel, StreamCall, StreamHandlers } from './transport.js';

const {
  NGHTTP2_CANCEL,
  NGHTTP2_ENHANCE_YOUR_CALM,
  NGHTTP2_INADEQUATE_SECURITY,
  NGHTTP2_INTERNAL_ERROR,
  NGHTTP2_NO_ERROR,
  NGHTTP2_REFUSED_STREAM,
} = http2.constants;

/** Flow-control windows: a stream's (a 2 MiB column answer in one window) and the connection's. */
const STREAM_WINDOW_BYTES = 4 << 20;
const CONNECTION_WINDOW_BYTES = 16 << 20;
/** The longest a timer can wait (a longer delay fires after 1 ms, with a warning). */
const TIMER_MAX_MS = 2 ** 31 - 1;
/** Messages at least this long are written after their prefix, not copied behind it. */
const COPY_MAX = 16 << 10;
/** The call a stream belongs to, for the listeners every call shares. */
const CALL = Symbol('nanocalc.call');
type OwnedStream = http2.ClientHttp2Stream & { [CALL]?: Http2Call };
/** A request stream with a body to follow (the default would end it with the headers). */
const REQUEST_OPTIONS: http2.ClientSessionRequestOptions = { endStream: false };

export interface Http2ChannelOptions {
  /** TLS, as RemoteCalculatorOptions' `tls` resolved; undefined for plaintext. */
  tls: { ca: Buffer | null; cert: Buffer | null; key: Buffer | null; serverName: string | undefined } | undefined;
  token: string | undefined;
  /** PING period while calls are in flight, in ms (0: none); see RemoteCalculatorOptions.keepaliveMs. */
  keepaliveMs: number;
}

/** One HTTP/2 session and what became of it. */
class Connection {
  readonly session: http2.ClientHttp2Session;
  readonly plaintext: boolean;
  /** The server's SETTINGS arrived: it speaks HTTP/2. */
  connected = false;
  /** GOAWAY received: calls already on it finish, new ones go to a new session. */
  draining = false;
  /** The session closed (or failed): calls still on it that have no status end UNAVAILABLE. */
  dropped = false;
  error: Error | undefined;
  /** Calls on it not yet ended: the session keeps the process alive only while some are. */
  active = 0;
  readonly #keepaliveMs: number;
  #pinger: ReturnType<typeof setInterval> | undefined;
  #pingUnanswered = false;

  constructor(session: http2.ClientHttp2Session, plaintext: boolean, keepaliveMs: number) {
    this.session = session;
    this.plaintext = plaintext;
    this.#keepaliveMs = keepaliveMs;
  }

  /**
   * A call starts on it: the session keeps the process alive while calls are in flight, and is PINGed
   * then (the timer, started with the first call and stopped when the session closes, does nothing
   * while it is idle: no timer set and cleared per call).
   */
  callStarted(): void {
    if (this.active++ !== 0) return;
    this.session.ref();
    if (this.#keepaliveMs > 0 && this.#pinger === undefined) {
      this.#pinger = setInterval(() => this.#ping(), this.#keepaliveMs);
      this.#pinger.unref();
    }
  }

  callEnded(): void {
    if (--this.active === 0 && !this.session.destroyed) this.session.unref();
  }

  /** The session closed: no more PINGs. */
  closed(): void {
    this.dropped = true;
    if (this.#pinger !== undefined) clearInterval(this.#pinger);
  }

  /**
   * Keepalive: a PING each period while calls are in flight; one still unanswered a period later
   * means the server or the path to it is gone (a host that vanished sends no reset): the session is
   * destroyed, its calls end UNAVAILABLE and are retried on another replica.
   */
  #ping(): void {
    const session = this.session;
    if (session.destroyed) return;
    if (this.active === 0) {
      this.#pingUnanswered = false; // idle: nothing waits on it
      return;
    }
    if (this.#pingUnanswered) {
      session.destroy(new Error(`keepalive: a PING was not answered within ${this.#keepaliveMs} ms`));
      return;
    }
    this.#pingUnanswered = true;
    try {
      session.ping(() => {
        this.#pingUnanswered = false;
      });
    } catch {
      // too many PINGs unanswered or the session closing: the next period decides
    }
  }

  /** The details of UNAVAILABLE for a call this connection's failure ended. */
  failure(): string {
    if (this.connected)
      return this.error === undefined ? 'Connection dropped' : `Connection dropped: ${this.error.message}`;
    if (this.error === undefined) {
      return `No connection established${this.plaintext ? CLOSED_BEFORE_HTTP2 : ': the server closed the connection during the TLS handshake'}`;
    }
    return explainTransport(`No connection established. Last error: ${this.error.message}`);
  }
}

export class Http2Channel implements Channel {
  readonly #address: string;
  readonly #origin: string;
  readonly #options: http2.SecureClientSessionOptions;
  readonly #plaintext: boolean;
  /** The request headers but the path and grpc-timeout. */
  readonly #headers: Record<string, string>;
  #connection: Connection | undefined;
  #closed = false;
  readonly #keepaliveMs: number;

  constructor(address: string, host: string, port: number, options: Http2ChannelOptions) {
    this.#address = address;
    this.#keepaliveMs = options.keepaliveMs;
    const { tls } = options;
    this.#plaintext = tls === undefined;
    this.#origin = `${tls === undefined ? 'http' : 'https'}://${host}:${port}`;
    this.#options = {
      settings: { enablePush: false, initialWindowSize: STREAM_WINDOW_BYTES },
      maxSessionMemory: 64,
    };
    if (tls !== undefined) {
      if (tls.ca !== null) this.#options.ca = tls.ca;
      if (tls.cert !== null) this.#options.cert = tls.cert;
      if (tls.key !== null) this.#options.key = tls.key;
      if (tls.serverName !== undefined) this.#options.servername = tls.serverName;
    }
    this.#headers = {
      ':method': 'POST',
      ':authority': tls?.serverName ?? address,
      ':scheme': tls === undefined ? 'http' : 'https',
      'content-type': 'application/grpc',
      te: 'trailers',
      'user-agent': 'nanocalc-remote (node:http2)',
    };
    if (options.token !== undefined) this.#headers.authorization = `Bearer ${options.token}`;
  }

  /** The session for a new call: the current one, or a new one if it died or is draining. */
  connection(): Connection {
    const current = this.#connection;
    if (current !== undefined && !current.dropped && !current.draining) return current;
    if (this.#closed) throw new RemoteError(Status.UNAVAILABLE, 'the RemoteCalculator was closed', this.#address);
    const session = http2.connect(this.#origin, this.#options);
    const connection = new Connection(session, this.#plaintext, this.#keepaliveMs);
    this.#connection = connection;
    session.on('connect', () => session.setLocalWindowSize(CONNECTION_WINDOW_BYTES));
    session.once('remoteSettings', () => {
      connection.connected = true;
    });
    session.on('error', (error: Error) => {
      connection.error ??= error;
    });
    session.on('goaway', () => {
      connection.draining = true;
      if (this.#connection === connection) this.#connection = undefined;
    });
    session.on('close', () => {
      connection.closed();
      if (this.#connection === connection) this.#connection = undefined;
    });
    session.unref(); // until a call is on it
    return connection;
  }

  /** The headers of a call to `path` with `deadline`. */
  headers(path: string, deadline: number): Record<string, string> {
    const headers: Record<string, string> = { ...this.#headers, ':path': path };
    if (deadline !== Infinity) headers['grpc-timeout'] = grpcTimeout(deadline - Date.now());
    return headers;
  }

  get address(): string {
    return this.#address;
  }

  unary(path: string, request: Uint8Array, deadline: number, signal: AbortSignal | undefined): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      let response: Uint8Array | undefined;
      let count = 0;
      const call: Http2Call = new Http2Call(
        this,
        path,
        deadline,
        signal,
        (bytes) => {
          if (++count === 1) response = bytes;
          else call.fail(Status.UNIMPLEMENTED, 'Too many responses received');
        },
        (error) => {
          if (error !== undefined) reject(error);
          else if (response === undefined)
            reject(new RemoteError(Status.UNIMPLEMENTED, 'No message received', this.#address));
          else resolve(response);
        },
      );
      call.write(request);
      call.end();
    });
  }

  stream(path: string, deadline: number, signal: AbortSignal | undefined, handlers: StreamHandlers): StreamCall {
    return new Http2Call(
      this,
      path,
      deadline,
      signal,
      (bytes) => handlers.message(bytes),
      (error) => handlers.end(error),
      true,
    );
  }

  close(): void {
    this.#closed = true;
    this.#connection?.session.close();
    this.#connection = undefined;
  }
}

/**
 * One call on a stream of the endpoint's session: writes framed messages, reads framed messages
 * and the status, ends once with a RemoteError or none. The deadline is sent as grpc-timeout and
 * also kept by a local timer; the timer and an AbortSignal reset the stream with CANCEL.
 */
class Http2Call implements StreamCall {
  readonly #channel: Http2Channel;
  readonly #signal: AbortSignal | undefined;
  readonly #onMessage: (bytes: Uint8Array) => void;
  readonly #onEnd: (error: RemoteError | undefined) => void;
  #connection: Connection | undefined;
  #stream: http2.ClientHttp2Stream | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #deadline = Infinity;
  #done = false;
  #httpStatus = 0;
  #grpcStatus = -1;
  #grpcMessage = '';
  #streamError: (Error & { code?: string }) | undefined;
  /** Messages written in this turn of the event loop, sent as one DATA write (streams only). */
  readonly #batching: boolean;
  readonly #queue = new TurnQueue(() => this.#flush());
  #ending = false;
  // The message being read: its 5-byte prefix, then its body.
  #prefix: Buffer | undefined;
  #prefixRead = 0;
  #body: Buffer | undefined;
  #bodyRead = 0;

  constructor(
    channel: Http2Channel,
    path: string,
    deadline: number,
    signal: AbortSignal | undefined,
    onMessage: (bytes: Uint8Array) => void,
    onEnd: (error: RemoteError | undefined) => void,
    batching = false,
  ) {
    this.#channel = channel;
    this.#signal = signal;
    this.#onMessage = onMessage;
    this.#onEnd = onEnd;
    this.#batching = batching;
    // A call that cannot start ends in a microtask, once its owner holds it.
    if (signal?.aborted) {
      queueMicrotask(() => this.#cancelled());
      return;
    }
    if (deadline !== Infinity) {
      const ms = deadline - Date.now();
      if (ms <= 0) {
        const error = new RemoteError(Status.DEADLINE_EXCEEDED, 'Deadline exceeded', channel.address);
        queueMicrotask(() => this.#finish(error));
        return;
      }
      this.#deadline = deadline;
      this.#timer = setTimeout(Http2Call.#deadlineFired, Math.min(ms, TIMER_MAX_MS), this);
    }
    if (signal !== undefined) {
      this.#onAbort = () => this.#cancelled();
      signal.addEventListener('abort', this.#onAbort, { once: true });
    }
    let connection: Connection;
    let stream: http2.ClientHttp2Stream;
    try {
      connection = channel.connection();
      stream = connection.session.request(channel.headers(path, deadline), REQUEST_OPTIONS);
    } catch (error) {
      // A session that closed or received GOAWAY in this very turn refuses new streams.
      const remote =
        error instanceof RemoteError
          ? error
          : new RemoteError(Status.UNAVAILABLE, `Connection dropped: ${(error as Error).message}`, channel.address, {
              cause: error,
            });
      queueMicrotask(() => this.#finish(remote));
      return;
    }
    this.#connection = connection;
    this.#stream = stream;
    connection.callStarted();
    // The listeners are shared by every call (fewer closures per call: less garbage).
    (stream as OwnedStream)[CALL] = this;
    stream.on('response', Http2Call.#listeners.response);
    stream.on('data', Http2Call.#listeners.data);
    stream.on('trailers', Http2Call.#listeners.trailers);
    stream.on('end', Http2Call.#listeners.end);
    stream.on('error', Http2Call.#listeners.error);
    stream.on('close', Http2Call.#listeners.close);
  }

  write(message: Uint8Array): void {
    const stream = this.#stream;
    if (this.#done || stream === undefined) return;
    if (message.length > COPY_MAX) {
      this.#flush();
      const prefix = Buffer.allocUnsafe(5);
      prefix[0] = 0;
      prefix.writeUInt32BE(message.length, 1);
      stream.write(prefix);
      stream.write(message);
      return;
    }
    if (!this.#batching) {
      stream.write(frame([message], 5 + message.length));
      return;
    }
    this.#queue.push(message);
  }

  end(): void {
    if (this.#done || this.#stream === undefined || this.#ending) return;
    this.#ending = true;
    this.#flush();
    this.#stream.end();
  }

  cancel(): void {
    this.#cancelled();
  }

  /** Ends the call with this status (the server is told with RST_STREAM CANCEL). */
  fail(code: number, details: string): void {
    this.#reset();
    this.#finish(new RemoteError(code, details, this.#channel.address));
  }

  #flush(): void {
    const bytes = this.#queue.take();
    if (bytes === undefined || this.#done || this.#stream === undefined) return;
    this.#stream.write(bytes);
  }

  #cancelled(): void {
    this.#reset();
    const cause = this.#signal?.aborted ? this.#signal.reason : undefined;
    this.#finish(new RemoteError(Status.CANCELLED, 'Cancelled on client', this.#channel.address, { cause }));
  }

  #onAbort: (() => void) | undefined;

  static #deadlineFired(call: Http2Call): void {
    const left = call.#deadline - Date.now();
    if (left > 0) {
      // A deadline beyond what one timer can wait (about 24.8 days): wait again.
      call.#timer = setTimeout(Http2Call.#deadlineFired, Math.min(left, TIMER_MAX_MS), call);
      return;
    }
    call.#timer = undefined;
    call.#reset();
    call.#finish(new RemoteError(Status.DEADLINE_EXCEEDED, 'Deadline exceeded', call.#channel.address));
  }

  #reset(): void {
    const stream = this.#stream;
    if (stream !== undefined && !stream.closed && !stream.destroyed) stream.close(NGHTTP2_CANCEL);
  }

  static readonly #listeners = {
    response(this: OwnedStream, headers: http2.IncomingHttpHeaders): void {
      this[CALL]!.#onResponse(headers);
    },
    data(this: OwnedStream, chunk: Buffer): void {
      this[CALL]!.#onData(chunk);
    },
    trailers(this: OwnedStream, headers: http2.IncomingHttpHeaders): void {
      this[CALL]!.#readStatus(headers);
    },
    end(this: OwnedStream): void {
      this[CALL]!.#onEndOfData();
    },
    error(this: OwnedStream, error: Error): void {
      this[CALL]!.#streamError ??= error;
    },
    close(this: OwnedStream): void {
      this[CALL]!.#onClose();
    },
  };

  #onResponse(headers: http2.IncomingHttpHeaders): void {
    this.#httpStatus = Number(headers[':status']);
    if (headers['grpc-status'] !== undefined) {
      this.#readStatus(headers); // a trailers-only response
    } else if (this.#httpStatus === 200) {
      const type = headers['content-type'];
      if (typeof type !== 'string' || !type.startsWith('application/grpc')) {
        this.fail(Status.UNKNOWN, `Received invalid content-type ${String(type)}`);
      }
    }
  }

  #readStatus(headers: http2.IncomingHttpHeaders): void {
    const status = headers['grpc-status'];
    if (typeof status !== 'string') return;
    this.#grpcStatus = Number(status);
    const message = headers['grpc-message'];
    if (typeof message === 'string') {
      try {
        this.#grpcMessage = decodeURI(message);
      } catch {
        this.#grpcMessage = message;
      }
    }
  }

  /** The messages in a chunk of DATA: whole ones as views of it, split ones copied together. */
  #onData(chunk: Buffer): void {
    if (this.#done || (this.#httpStatus !== 200 && this.#httpStatus !== 0)) return; // an error page
    let at = 0;
    const n = chunk.length;
    while (at < n && !this.#done) {
      const body = this.#body;
      if (body !== undefined) {
        const take = Math.min(n - at, body.length - this.#bodyRead);
        chunk.copy(body, this.#bodyRead, at, at + take);
        this.#bodyRead += take;
        at += take;
        if (this.#bodyRead === body.length) {
          this.#body = undefined;
          this.#onMessage(body);
        }
        continue;
      }
      if (this.#prefixRead === 0 && n - at >= 5) {
        const length = chunk.readUInt32BE(at + 1);
        if (chunk[at] !== 0) {
          this.#compressed();
          return;
        }
        if (n - at - 5 >= length) {
          this.#onMessage(chunk.subarray(at + 5, at + 5 + length));
          at += 5 + length;
          continue;
        }
        this.#body = Buffer.allocUnsafe(length);
        this.#bodyRead = 0;
        at += 5;
        continue;
      }
      this.#prefix ??= Buffer.alloc(5);
      const prefix = this.#prefix;
      const take = Math.min(n - at, 5 - this.#prefixRead);
      chunk.copy(prefix, this.#prefixRead, at, at + take);
      this.#prefixRead += take;
      at += take;
      if (this.#prefixRead === 5) {
        this.#prefixRead = 0;
        if (prefix[0] !== 0) {
          this.#compressed();
          return;
        }
        const length = prefix.readUInt32BE(1);
        if (length === 0) this.#onMessage(Buffer.alloc(0));
        else {
          this.#body = Buffer.allocUnsafe(length);
          this.#bodyRead = 0;
        }
      }
    }
  }

  #compressed(): void {
    this.fail(Status.INTERNAL, 'Received a compressed message, but no compression was asked for');
  }

  #onEndOfData(): void {
    if (this.#grpcStatus >= 0) this.#finishWithStatus();
  }

  #onClose(): void {
    if (this.#done) return;
    if (this.#grpcStatus >= 0) {
      this.#finishWithStatus();
      return;
    }
    // No status: the stream was reset, or its connection dropped. The session's own 'close' and
    // 'error' may come later in this turn: decide once they have.
    setImmediate(() => this.#closedWithoutStatus());
  }

  #closedWithoutStatus(): void {
    if (this.#done) return;
    const address = this.#channel.address;
    const connection = this.#connection!;
    const rstCode = this.#stream!.rstCode ?? NGHTTP2_NO_ERROR;
    const error = this.#streamError;
    // An error that is not a RST_STREAM from the server is the connection's (reset, refused, TLS).
    const connectionFailed = connection.dropped || (error !== undefined && error.code !== 'ERR_HTTP2_STREAM_ERROR');
    let code: number;
    let details: string;
    let cause: Error | undefined = error;
    if (rstCode === NGHTTP2_REFUSED_STREAM) {
      code = Status.UNAVAILABLE;
      details = 'Stream refused by server';
    } else if (this.#httpStatus !== 0 && this.#httpStatus !== 200) {
      code = statusOfHttp(this.#httpStatus);
      details = `Received HTTP status code ${this.#httpStatus}`;
    } else if (connectionFailed) {
      code = Status.UNAVAILABLE;
      // Streams not yet sent when the session failed are cancelled with its error as their cause.
      connection.error ??= error?.cause instanceof Error ? error.cause : error;
      details = connection.failure();
      cause = connection.error;
    } else if (rstCode === NGHTTP2_NO_ERROR) {
      code = Status.INTERNAL;
      details = `Received RST_STREAM with code ${rstCode} (Call ended without gRPC status)`;
    } else if (rstCode === NGHTTP2_CANCEL) {
      code = Status.CANCELLED;
      details = 'Call cancelled';
    } else if (rstCode === NGHTTP2_ENHANCE_YOUR_CALM) {
      code = Status.RESOURCE_EXHAUSTED;
      details = 'Bandwidth exhausted or memory limit exceeded';
    } else if (rstCode === NGHTTP2_INADEQUATE_SECURITY) {
      code = Status.PERMISSION_DENIED;
      details = 'Protocol not secure enough';
    } else if (rstCode === NGHTTP2_INTERNAL_ERROR) {
      code = Status.INTERNAL;
      details = `Received RST_STREAM with code ${rstCode} (Internal server error)`;
    } else {
      code = Status.INTERNAL;
      details = `Received RST_STREAM with code ${rstCode}`;
    }
    this.#finish(new RemoteError(code, details, address, { cause }));
  }

  #finishWithStatus(): void {
    if (this.#done) return;
    if (this.#body !== undefined || this.#prefixRead !== 0) {
      this.#finish(new RemoteError(Status.INTERNAL, 'the response ended inside a gRPC message', this.#channel.address));
    } else if (this.#grpcStatus === Status.OK) {
      this.#finish(undefined);
    } else {
      this.#finish(new RemoteError(this.#grpcStatus, this.#grpcMessage, this.#channel.address));
    }
  }

  #finish(error: RemoteError | undefined): void {
    if (this.#done) return;
    this.#done = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    if (this.#onAbort !== undefined) this.#signal?.removeEventListener('abort', this.#onAbort);
    this.#connection?.callEnded();
    this.#onEnd(error);
  }
}

/** A stream's messages written in one turn of the event loop, framed together when it ends (`flush`). */
export class TurnQueue {
  readonly #flush: () => void;
  #messages: Uint8Array[] = [];
  #length = 0;
  #scheduled = false;

  constructor(flush: () => void) {
    this.#flush = flush;
  }

  push(message: Uint8Array): void {
    this.#messages.push(message);
    this.#length += 5 + message.length;
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(this.#flush);
    }
  }

  /** The messages queued, framed in one buffer (undefined if none), and the queue emptied. */
  take(): Buffer | undefined {
    this.#scheduled = false;
    if (this.#messages.length === 0) return undefined;
    const bytes = frame(this.#messages, this.#length);
    this.#messages = [];
    this.#length = 0;
    return bytes;
  }
}

/** Messages with their 5-byte prefixes (uncompressed), in one buffer of `length` bytes. */
function frame(messages: Uint8Array[], length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  let at = 0;
  for (const message of messages) {
    out[at] = 0;
    out.writeUInt32BE(message.length, at + 1);
    out.set(message, at + 5);
    at += 5 + message.length;
  }
  return out;
}
