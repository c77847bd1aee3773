// The Node transport of RemoteCalculator and RemoteStream: @grpc/grpc-js clients with raw-bytes
// serializers (the request is already the engine's bytes, the response handed over as it came).
import * as grpc from '@grpc/grpc-js';
import { CALCULATE, type Endpoint } from './endpoints.js';
import { RemoteError, explainTransport } from './errors.js';
import type { Transport } from './core.js';

export const serialize = (u8: Uint8Array): Buffer => Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);
export const deserialize = (buffer: Buffer): Buffer => buffer;

export function toRemoteError(
  error: grpc.ServiceError,
  endpoint: string,
  signal: AbortSignal | undefined,
): RemoteError {
  const cause = error.code === grpc.status.CANCELLED && signal?.aborted ? signal.reason : error;
  return new RemoteError(error.code, explainTransport(error.details || error.message), endpoint, { cause });
}

/** The call's metadata: the bearer token, if any. */
export function metadataOf(token: string | undefined): grpc.Metadata {
  const metadata = new grpc.Metadata();
  if (token !== undefined) metadata.set('authorization', `Bearer ${token}`);
  return metadata;
}

/** Unary calls over one grpc-js client per replica. */
export function grpcTransport(
  credentials: grpc.ChannelCredentials,
  channelOptions: grpc.ChannelOptions,
): Transport<grpc.Client> {
  return {
    open: (address) => new grpc.Client(address, credentials, channelOptions),
    close: (client) => client.close(),
    calculate: (endpoint: Endpoint<grpc.Client>, request, token, deadline, signal) =>
      new Promise((resolve, reject) => {
        const callOptions: grpc.CallOptions = deadline === Infinity ? {} : { deadline };
        const call = endpoint.client.makeUnaryRequest<Uint8Array, Buffer>(
          CALCULATE,
          serialize,
          deserialize,
          request,
          metadataOf(token),
          callOptions,
          (error, value) => {
            signal?.removeEventListener('abort', onAbort);
            if (error) reject(toRemoteError(error, endpoint.address, signal));
            else resolve(value!);
          },
        );
        function onAbort(): void {
          call.cancel();
        }
        signal?.addEventListener('abort', onAbort, { once: true });
      }),
  };
}
