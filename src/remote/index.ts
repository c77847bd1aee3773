// nanocalc/remote: the Calculator's API over gRPC (nanocalc.v1.CalculatorService), to one server
// or to several replicas balanced round-robin, with retries on another replica.
//
// Requests and responses travel as raw protobuf bytes (encoded and decoded by ./wire.ts), exactly
// as the server hands them to the engine: a remote answer is the in-process answer.
//
// RemoteCalculator is in ./calculator.ts (its transport-independent part in ./core.ts; each replica a
// Channel of ./transport.ts: node:http2 in ./http2.ts, @grpc/grpc-js in ./grpc.ts), RemoteStream in
// ./stream.ts, the replicas' round-robin in ./endpoints.ts, RemoteError in ./errors.ts. In a browser, the `browser` condition gives ./browser.ts instead (gRPC-Web).

export {
  RemoteCalculator,
  DEFAULT_BATCH_CHUNK_LENGTH,
  DEFAULT_KEEPALIVE_MS,
  DEFAULT_TIMEOUT_MS,
} from './calculator.js';
export type { CallOptions, RemoteBatchOptions, RemoteCalculatorOptions, RemoteOptions } from './calculator.js';
export { RemoteStream } from './stream.js';
export type { StreamRoute } from './stream.js';
export type { BatchInput } from './values.js';
export { RemoteError, GRPC_STATUS_NAMES } from './errors.js';
export type { GrpcStatusName } from './errors.js';
export { CalculatorError } from '../errors.js';
export type { CalculatorErrorCode } from '../errors.js';
export type { Operation, OverflowMode } from '../validate.js';
