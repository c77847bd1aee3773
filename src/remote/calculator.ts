// RemoteCalculator on Node, Bun and Deno: the transport-independent RemoteCalculatorCore
// (./core.ts) over @grpc/grpc-js (./grpc.ts), plus stream(), the pipelined CalculateStream.
import * as grpc from '@grpc/grpc-js';
import { type CallOptions, RemoteCalculatorCore, type RemoteOptions } from './core.js';
import { grpcTransport, metadataOf } from './grpc.js';
import { RemoteStream, type StreamRoute } from './stream.js';

export { DEFAULT_BATCH_CHUNK_LENGTH, DEFAULT_TIMEOUT_MS } from './core.js';
export type { CallOptions, RemoteBatchOptions, RemoteOptions } from './core.js';

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
  /** Extra @grpc/grpc-js channel options. */
  channelOptions?: grpc.ChannelOptions | undefined;
}

/** The grpc-js credentials and channel options of `options`. */
function transportOf(options: RemoteCalculatorOptions) {
  if (typeof options !== 'object' || options === null) options = {}; // refused by the core's checks
  const { tls } = options;
  let credentials = grpc.credentials.createInsecure();
  const channelOptions: grpc.ChannelOptions = {
    'grpc.max_receive_message_length': -1,
    'grpc.max_send_message_length': -1,
    // A replica that comes back is used again soon.
    'grpc.initial_reconnect_backoff_ms': 200,
    'grpc.max_reconnect_backoff_ms': 2_000,
    // RemoteCalculator retries itself; grpc-js's retry layer also buffers every message sent on
    // a stream, which costs more than the call with many in flight.
    'grpc.enable_retries': 0,
  };
  if (tls) {
    const ca = typeof tls === 'object' && tls.ca !== undefined ? Buffer.from(tls.ca) : null;
    const cert = typeof tls === 'object' && tls.cert !== undefined ? Buffer.from(tls.cert) : null;
    const key = typeof tls === 'object' && tls.key !== undefined ? Buffer.from(tls.key) : null;
    if ((cert === null) !== (key === null)) {
      throw new TypeError('nanocalc: tls.cert and tls.key go together (a client certificate and its key)');
    }
    credentials = grpc.credentials.createSsl(ca, key, cert);
    if (typeof tls === 'object' && tls.serverName !== undefined) {
      channelOptions['grpc.ssl_target_name_override'] = tls.serverName;
      channelOptions['grpc.default_authority'] = tls.serverName;
    }
  }
  Object.assign(channelOptions, options.channelOptions);
  return grpcTransport(credentials, channelOptions);
}

/**
 * A 64-bit integer calculator whose engine runs in nanocalc-server processes reached over gRPC.
 * The methods and arguments are the in-process `Calculator`'s, each returning a Promise and
 * taking optional {@link CallOptions} last. Domain failures reject with the same
 * `CalculatorError`s; transport failures with a {@link RemoteError}.
 */
export class RemoteCalculator extends RemoteCalculatorCore<grpc.Client> {
  /** `endpoints`: one `host:port` or several (replicas, balanced round-robin). */
  constructor(endpoints: string | readonly string[], options: RemoteCalculatorOptions = {}) {
    super(endpoints, options, transportOf(options));
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
        return { client: endpoint.client, address: endpoint.address };
      },
      failed: (address) => {
        const endpoint = this.endpointsRoundRobin.all.find((e) => e.address === address);
        if (endpoint !== undefined) this.endpointsRoundRobin.markDown(endpoint);
      },
      metadata: () => metadataOf(this.token),
      maxAttempts: this.maxAttempts,
      closed: () => this.closed,
    };
    return new RemoteStream(route, this.deadlineOf(options), options?.signal, this.overflowOf(options));
  }
}
