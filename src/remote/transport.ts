// How a RemoteCalculator reaches one replica: a Channel per endpoint, for unary calls and
// bidirectional streams of raw gRPC messages. Three implementations: ./native.ts (a client in Rust
// inside the addon, the default on Node for `host:port` endpoints), ./http2.ts (node:http2) and
// ./grpc.ts (@grpc/grpc-js: gRPC name resolution such as `dns:///` and `ipv4:` targets,
// channelOptions, and the runtimes other than Node).
import type { RemoteError } from './errors.js';

/** What a stream's channel tells its owner. */
export interface StreamHandlers {
  /** One response message, in order. */
  message(bytes: Uint8Array): void;
  /** The call ended: `undefined` for status OK, else its failure. Called once, after the last message. */
  end(error: RemoteError | undefined): void;
}

/** One bidirectional call. */
export interface StreamCall {
  /** Sends one request message. */
  write(message: Uint8Array): void;
  /** Half-closes: no more requests. */
  end(): void;
  /** Abandons the call: it ends with CANCELLED (its `cause` the signal's reason if the signal was aborted). */
  cancel(): void;
}

/** One replica's connection(s). Failures are RemoteErrors naming the endpoint. */
export interface Channel {
  /**
   * One unary call: resolves to the response message, or rejects with a RemoteError (DEADLINE_EXCEEDED
   * at `deadline`, a `Date.now()` time or Infinity; CANCELLED when `signal` aborts, its reason the cause).
   */
  unary(path: string, request: Uint8Array, deadline: number, signal: AbortSignal | undefined): Promise<Uint8Array>;
  /** Opens a bidirectional call; `signal` only gives a cancelled call's error its cause. */
  stream(path: string, deadline: number, signal: AbortSignal | undefined, handlers: StreamHandlers): StreamCall;
  /** Closes the connection once the calls on it are done; later calls fail. */
  close(): void;
}

/** `host:port` (or `[v6]:port`): an endpoint the node:http2 channel can reach without name resolution. */
export function hostAndPort(address: string): { host: string; port: number } | undefined {
  const match = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$/.exec(address);
  if (match === null) return undefined;
  const port = Number(match[2]);
  if (port < 1 || port > 65_535) return undefined;
  return { host: match[1]!, port };
}
