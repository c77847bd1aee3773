// RemoteCalculator on Node, Bun and Deno: the transport-independent RemoteCalculatorCore (./core.ts)
// over a Channel per replica (./transport.ts): a client in Rust inside the addon (./native.ts, the default
// on Node), node:http2 (./http2.ts) or @grpc/grpc-js (./grpc.ts); plus stream(), the pipelined CalculateStream.
import { integerOption } from '../validate.js';
import { type CallOptions, RemoteCalculatorCore, type RemoteOptions, type Transport } from './core.js';
import { CALCULATE } from './endpoints.js';
import { type ChannelOptions, GrpcJsChannel, grpcJsSettings } from './grpc.js';
import { Http2Channel } from './http2.js';
import { NativeChannel, nativeRemote } from './native.js';
import { RemoteStream, type StreamRoute } from './stream.js';
import { type Channel, hostAndPort } from './transport.js';

export { DEFAULT_BATCH_CHUNK_LENGTH, DEFAULT_TIMEOUT_MS } from './core.js';
export type { CallOptions, RemoteBatchOptions, RemoteOptions } from './core.js';

export const DEFAULT_KEEPALIVE_MS = 10_000;

export interface RemoteCalculatorOptions extends RemoteOptions {
  /**
   * TLS: `true` to trust the system's roots, or `{ ca }` with a PEM certificate (authority) to
   * trust instead; `serverName` overrides the name checked in the server's certificate; `cert`
   * and `key` (PEM, both or neither) are this client's certificate and key, for a server that
   * requires client certificates (`--tls-client-ca`, mutual TLS).
   * Default: plaintext (for loopback and trusted networks only).
   */
  tls?:
    | boolean
    | { ca?: string | Uint8Array; serverName?: string; cert?: string | Uint8Array; key?: string | Uint8Array }
    | undefined;
  /**
   * How calls travel: `'native'`, a gRPC client in Rust inside the Node-API addon (one HTTP/2
   * connection per endpoint on the addon's own thread, for calls and streams alike; the default on
   * Node when every endpoint is `host:port`, there are no `channelOptions` and the addon loaded),
   * `'http2'`, a lean gRPC client on `node:http2` (one HTTP/2 session per endpoint; the default on Node
   * without the addon), or `'grpc-js'`, @grpc/grpc-js (gRPC targets such as `dns:///name:port` or
   * `ipv4:a,b`, `channelOptions`; the default elsewhere and on Bun and Deno). All keep the same contract.
   */
  transport?: 'http2' | 'native' | 'grpc-js' | undefined;
  /**
   * With the `'http2'` and `'native'` transports: while calls are in flight on a connection, it is PINGed every this
   * many ms, and destroyed if a PING is still unanswered one period later, so that calls to a replica
   * that vanished without a reset (host down, network cut, process stopped) end UNAVAILABLE and are
   * retried on another replica instead of waiting for their deadline (default 10,000; 0 for none).
   * With `'grpc-js'`, use the channel options `grpc.keepalive_time_ms` and `grpc.keepalive_timeout_ms`.
   */
  keepaliveMs?: number | undefined;
  /** Extra @grpc/grpc-js channel options (with the `'grpc-js'` transport, which they select by default). */
  channelOptions?: ChannelOptions | undefined;
}

/** The `tls` option checked and read: undefined for plaintext. */
function tlsOption(tls: RemoteCalculatorOptions['tls']) {
  if (!tls) return undefined;
  const ca = typeof tls === 'object' && tls.ca !== undefined ? Buffer.from(tls.ca) : null;
  const cert = typeof tls === 'object' && tls.cert !== undefined ? Buffer.from(tls.cert) : null;
  const key = typeof tls === 'object' && tls.key !== undefined ? Buffer.from(tls.key) : null;
  if ((cert === null) !== (key === null)) {
    throw new TypeError('nanocalc: tls.cert and tls.key go together (a client certificate and its key)');
  }
  const serverName = typeof tls === 'object' ? tls.serverName : undefined;
  return { ca, cert, key, serverName };
}

/** Node itself (not Bun or Deno, whose node:http2 clients differ). */
const ON_NODE =
  typeof process === 'object' &&
  process.release?.name === 'node' &&
  process.versions.bun === undefined &&
  !('Deno' in globalThis);

/** The `transport` option checked, or chosen. */
function transportOption(
  options: RemoteCalculatorOptions,
  endpoints: readonly unknown[],
): 'http2' | 'native' | 'grpc-js' {
  const { transport, channelOptions } = options;
  const plain = endpoints.every((e) => typeof e === 'string' && hostAndPort(e) !== undefined);
  if (transport === undefined) {
    if (!ON_NODE || !plain || channelOptions !== undefined) return 'grpc-js';
    return nativeRemote() === undefined ? 'http2' : 'native';
  }
  if (transport === 'grpc-js') return transport;
  if (transport !== 'http2' && transport !== 'native') {
    throw new TypeError(`nanocalc: transport must be 'http2', 'native' or 'grpc-js'`);
  }
  if (channelOptions !== undefined) throw new TypeError(`nanocalc: channelOptions are for the 'grpc-js' transport`);
  if (!plain) {
    throw new TypeError(
      `nanocalc: the '${transport}' transport takes "host:port" endpoints (gRPC targets need 'grpc-js')`,
    );
  }
  if (transport === 'native' && (!ON_NODE || nativeRemote() === undefined)) {
    throw new TypeError(`nanocalc: the 'native' transport needs Node and the Node-API addon with its remote client`);
  }
  return transport;
}

/** The core's Transport over a Channel per replica, opened as `options` say. */
function transportOf(endpoints: string | readonly string[], options: RemoteCalculatorOptions): Transport<Channel> {
  if (typeof options !== 'object' || options === null) options = {}; // refused by the core's checks
  const list: readonly unknown[] =
    typeof endpoints === 'string' ? [endpoints] : Array.isArray(endpoints) ? endpoints : [];
  const tls = tlsOption(options.tls);
  const transport = transportOption(options, list);
  const token = options.token;
  const keepaliveMs = integerOption(options.keepaliveMs, DEFAULT_KEEPALIVE_MS, 'keepaliveMs', 0, 2 ** 31 - 1);
  let open: (address: string) => Channel;
  if (transport === 'http2') {
    open = (address) => {
      const { host, port } = hostAndPort(address)!;
      return new Http2Channel(address, host, port, { tls, token, keepaliveMs });
    };
  } else if (transport === 'native') {
    const binding = nativeRemote()!;
    open = (address) => {
      const { host, port } = hostAndPort(address)!;
      return new NativeChannel(address, host, port, { tls, token, keepaliveMs }, binding);
    };
  } else {
    const settings = grpcJsSettings(tls, options.channelOptions);
    open = (address) => new GrpcJsChannel(address, settings, token);
  }
  return {
    open,
    close: (channel) => channel.close(),
    // The token is the channel's (set when it was opened, from the same option).
    calculate: (endpoint, request, _token, deadline, signal) =>
      endpoint.client.unary(CALCULATE, request, deadline, signal),
  };
}

/**
 * A 64-bit integer calculator whose engine runs in nanocalc-server processes reached over gRPC.
 * The methods and arguments are the in-process `Calculator`'s, each returning a Promise and
 * taking optional {@link CallOptions} last. Domain failures reject with the same
 * `CalculatorError`s; transport failures with a {@link RemoteError}.
 */
export class RemoteCalculator extends RemoteCalculatorCore<Channel> {
  /** `endpoints`: one `host:port` or several (replicas, balanced round-robin). */
  constructor(endpoints: string | readonly string[], options: RemoteCalculatorOptions = {}) {
    super(endpoints, options, transportOf(endpoints, options));
  }

  /**
   * Opens a pipelined stream (the CalculateStream RPC) to the next replica: calls on it are sent
   * at once without waiting for earlier answers, and answered in order. For many small calls.
   */
  stream(options?: CallOptions): RemoteStream {
    this.checkOpen();
    const route: StreamRoute = {
      open: (tried) => {
        const skip = new Set(this.endpointsRoundRobin.all.filter((e) => tried.has(e.address)));
        if (skip.size >= this.endpointsRoundRobin.all.length) skip.clear();
        const endpoint = this.endpointsRoundRobin.pick(skip);
        return { channel: endpoint.client, address: endpoint.address };
      },
      failed: (address) => {
        const endpoint = this.endpointsRoundRobin.all.find((e) => e.address === address);
        if (endpoint !== undefined) this.endpointsRoundRobin.markDown(endpoint);
      },
      maxAttempts: this.maxAttempts,
      closed: () => this.closed,
    };
    return new RemoteStream(route, this.deadlineOf(options), options?.signal, this.overflowOf(options));
  }
}
