// nanocalc/remote in a browser (the `browser` condition of package.json's exports): RemoteCalculator
// over gRPC-Web with fetch (./web.ts), the same errors as on Node. No `node:` import and no
// @grpc/grpc-js anywhere in this file's graph (test/browser.test.ts checks the bundle).

export { RemoteCalculator, DEFAULT_BATCH_CHUNK_LENGTH, DEFAULT_TIMEOUT_MS } from './web.js';
export type { CallOptions, RemoteBatchOptions, RemoteOptions, WebRemoteCalculatorOptions } from './web.js';
export type { BatchInput } from './values.js';
export { RemoteError, GRPC_STATUS_NAMES } from './errors.js';
export type { GrpcStatusName } from './errors.js';
export { CalculatorError } from '../errors.js';
export type { CalculatorErrorCode } from '../errors.js';
export type { Operation, OverflowMode } from '../validate.js';
