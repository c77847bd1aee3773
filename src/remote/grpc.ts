// The 'grpc-js' transport of RemoteCalculator and RemoteStream: a Channel on @grpc/grpc-js with raw-bytes
// serializers (the request is already the engine's bytes, the response handed over as it came), for gRPC
// targets (`dns:///…`, `ipv4:…`), `channelOptions`, and the runtimes other than Node.
import * as grpc from '@grpc/grpc-js';
import { RemoteError, explainTransport } from './errors.js';
import type { Channel, StreamCall, StreamHandlers } from './transport.js';

const serialize = (u8: Uint8Array): Buffer => Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);
const deserialize = (buffer: Buffer): Buffer => buffer;

export type ChannelOptions = grpc.ChannelOptions;

/** The credentials and channel options of RemoteCalculatorOptions' `tls` and `channelOptions`. */
export function grpcJsSettings(
  tls: { ca: Buffer | null; cert: Buffer | null; key: Buffer | null; serverName: string | undefined } | undefined,
  extra: grpc.ChannelOptions | undefined,
): { credentials: grpc.ChannelCredentials; channelOptions: grpc.ChannelOptions } {
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
  let credentials = grpc.credentials.createInsecure();
  if (tls !== undefined) {
    credentials = grpc.credentials.createSsl(tls.ca, tls.key, tls.cert);
    if (tls.serverName !== undefined) {
      channelOptions['grpc.ssl_target_name_override'] = tls.serverName;
      channelOptions['grpc.default_authority'] = tls.serverName;
    }
  }
  Object.assign(channelOptions, extra);
  return { credentials, channelOptions };
}

export class GrpcJsChannel implements Channel {
  readonly #client: grpc.Client;
  readonly #address: string;
  readonly #token: string | undefined;

  constructor(address: string, settings: ReturnType<typeof grpcJsSettings>, token: string | undefined) {
    this.#address = address;
    this.#token = token;
    this.#client = new grpc.Client(address, settings.credentials, settings.channelOptions);
  }

  #metadata(): grpc.Metadata {
    const metadata = new grpc.Metadata();
    if (this.#token !== undefined) metadata.set('authorization', `Bearer ${this.#token}`);
    return metadata;
  }

  unary(path: string, request: Uint8Array, deadline: number, signal: AbortSignal | undefined): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      const call = this.#client.makeUnaryRequest<Uint8Array, Buffer>(
        path,
        serialize,
        deserialize,
        request,
        this.#metadata(),
        deadline === Infinity ? {} : { deadline },
        (error, value) => {
          signal?.removeEventListener('abort', onAbort);
          if (error) reject(toRemoteError(error, this.#address, signal));
          else resolve(value!);
        },
      );
      function onAbort(): void {
        call.cancel();
      }
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  stream(path: string, deadline: number, signal: AbortSignal | undefined, handlers: StreamHandlers): StreamCall {
    const call = this.#client.makeBidiStreamRequest<Uint8Array, Buffer>(
      path,
      serialize,
      deserialize,
      this.#metadata(),
      deadline === Infinity ? {} : { deadline },
    );
    call.on('data', (bytes: Buffer) => handlers.message(bytes));
    call.on('error', (error: grpc.ServiceError) => handlers.end(toRemoteError(error, this.#address, signal)));
    call.on('status', (status: grpc.StatusObject) => {
      if (status.code === grpc.status.OK) handlers.end(undefined); // 'error' reports the others
    });
    return {
      write: (message) => call.write(message),
      end: () => call.end(),
      cancel: () => call.cancel(),
    };
  }

  close(): void {
    this.#client.close();
  }
}

function toRemoteError(error: grpc.ServiceError, endpoint: string, signal: AbortSignal | undefined): RemoteError {
  const cause = error.code === grpc.status.CANCELLED && signal?.aborted ? signal.reason : error;
  return new RemoteError(error.code, explainTransport(error.details || error.message), endpoint, { cause });
}
