/** gRPC status code names by number (https://grpc.github.io/grpc/core/md_doc_statuscodes.html). */
export const GRPC_STATUS_NAMES = [
  'OK',
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
] as const;

export type GrpcStatusName = (typeof GRPC_STATUS_NAMES)[number];

/** What a server that closes the connection before HTTP/2's settings likely is. */
export const CLOSED_BEFORE_HTTP2 =
  ' — the server closed the connection before speaking HTTP/2: if it serves TLS (nanocalc serve --tls-cert), pass tls: true or { ca } to RemoteCalculator';

/**
 * A remote call that failed in transport, not in arithmetic: the server could not be reached or
 * refused the call (token, message size), the deadline passed, or the call was cancelled.
 * Domain failures (division by zero, ...) are `CalculatorError`s, as in-process.
 * Recognise it by `name === 'RemoteError'` and `code` (the gRPC status number) or `status` (its name).
 */
export class RemoteError extends Error {
  override readonly name = 'RemoteError';
  /** The gRPC status code, e.g. 14. */
  readonly code: number;
  /** The gRPC status name, e.g. 'UNAVAILABLE'. */
  readonly status: GrpcStatusName | 'UNKNOWN';
  /** The server's (or the transport's) status message. */
  readonly details: string;
  /** The endpoint of the last attempt, if one was made. */
  readonly endpoint: string | undefined;

  constructor(code: number, details: string, endpoint?: string, options?: { cause?: unknown }) {
    const status = GRPC_STATUS_NAMES[code] ?? 'UNKNOWN';
    super(`nanocalc remote: ${status} (${code})${endpoint ? ` from ${endpoint}` : ''}: ${details}`, options);
    this.code = code;
    this.status = status;
    this.details = details;
    this.endpoint = endpoint;
  }
}

/**
 * The text of a connection that failed (grpc-js's, or the node:http2 channel's), made readable: grpc-js's
 * empty "Resolution note: " is dropped, and the two bare failures of a TLS mismatch say what they likely mean.
 */
export function explainTransport(details: string): string {
  let text = details.replace(/\s*\.?\s*Resolution note:\s*$/, '').replace(/\s+$/, '');
  // The server accepted the TCP connection and closed it before any HTTP/2 settings: what a TLS
  // server does to a plaintext client.
  if (/Last error: Failed to connect \(/.test(text)) {
    text += CLOSED_BEFORE_HTTP2;
  } else if (/wrong version number/.test(text)) {
    text += ' — the server does not speak TLS: omit the tls option to call it in plaintext';
  }
  return text;
}
