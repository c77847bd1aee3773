// The replicas a RemoteCalculator reaches, whatever the transport (gRPC over @grpc/grpc-js on Node,
// gRPC-Web over fetch in a browser): the round-robin that skips a replica for a while after it
// fails (doubling up to 5 s), the failures worth retrying, and the errors a call fails with.
// Nothing here imports a transport: the browser's RemoteCalculator uses it as it is.
import { RemoteError } from './errors.js';
import type { MalformedResponse } from './wire.js';

/** gRPC status codes used by the client itself (the numbers are gRPC's, on every transport). */
export const Status = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  DEADLINE_EXCEEDED: 4,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

export const CALCULATE = '/nanocalc.v1.CalculatorService/Calculate';
export const CALCULATE_STREAM = '/nanocalc.v1.CalculatorService/CalculateStream';
/**
 * Whether a failed call is tried again, on another replica when there is one (calculations are
 * pure, so sending one twice is safe): UNAVAILABLE, and a call whose stream was reset before the
 * server's status arrived — what a proxy does when the replica behind it dies mid-answer (grpc-js
 * reports it as INTERNAL, "Received RST_STREAM with code N", as the gRPC spec maps a reset).
 */
export function isRetryable(error: RemoteError): boolean {
  return (
    error.code === Status.UNAVAILABLE ||
    (error.code === Status.INTERNAL && error.details.startsWith('Received RST_STREAM'))
  );
}
/** `grpc-timeout` for `ms` (at least 1 ms): at most 8 digits and a unit (ms, else seconds, else hours). */
export function grpcTimeout(ms: number): string {
  const m = Math.max(1, Math.ceil(ms));
  if (m < 100_000_000) return `${m}m`;
  const s = Math.ceil(m / 1000);
  if (s < 100_000_000) return `${s}S`;
  return `${Math.min(99_999_999, Math.ceil(s / 3600))}H`;
}

/** gRPC's status for an HTTP status that is not 200 (gRPC's http-grpc-status-mapping.md). */
export function statusOfHttp(status: number): number {
  switch (status) {
    case 400:
      return Status.INTERNAL;
    case 401:
      return Status.UNAUTHENTICATED;
    case 403:
      return Status.PERMISSION_DENIED;
    case 404:
      return Status.UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
      return Status.UNAVAILABLE;
    default:
      return Status.UNKNOWN;
  }
}

/** How long a replica that failed is skipped by the round-robin, at first and at most. */
const DOWN_MS_FIRST = 250;
const DOWN_MS_MAX = 5_000;

export interface Endpoint<C> {
  /** `host:port` (Node), or the server's URL (browser). */
  address: string;
  /** The transport's client of this replica. */
  client: C;
  /** Skipped by the round-robin until this time (`Date.now()`), after a failure. */
  downUntil: number;
  /** Failures since it last answered. */
  failures: number;
}

/** The replicas, a client each, in round-robin order. */
export class RoundRobin<C> {
  readonly all: readonly Endpoint<C>[];
  #cursor = 0;

  constructor(addresses: readonly string[], open: (address: string) => C) {
    this.all = addresses.map((address) => ({ address, client: open(address), downUntil: 0, failures: 0 }));
  }

  /** The next replica round-robin, skipping those tried for this call and those recently down. */
  pick(tried: Set<Endpoint<C>>): Endpoint<C> {
    const endpoints = this.all;
    const now = Date.now();
    let fallback: Endpoint<C> | undefined;
    for (let k = 0; k < endpoints.length; k++) {
      const index = (this.#cursor + k) % endpoints.length;
      const endpoint = endpoints[index]!;
      if (tried.has(endpoint)) continue;
      if (endpoint.downUntil <= now) {
        this.#cursor = index + 1;
        return endpoint;
      }
      if (fallback === undefined || endpoint.downUntil < fallback.downUntil) fallback = endpoint;
    }
    const chosen = fallback ?? endpoints[this.#cursor++ % endpoints.length]!;
    return chosen;
  }

  /** A replica failed: skip it for a while, twice as long as last time (up to DOWN_MS_MAX). */
  markDown(endpoint: Endpoint<C>): void {
    endpoint.failures++;
    endpoint.downUntil = Date.now() + Math.min(DOWN_MS_MAX, DOWN_MS_FIRST * 2 ** (endpoint.failures - 1));
  }

  /** A replica answered: it is up again. */
  markUp(endpoint: Endpoint<C>): void {
    endpoint.failures = 0;
    endpoint.downUntil = 0;
  }
}

export function cancelled(signal: AbortSignal): RemoteError {
  return new RemoteError(Status.CANCELLED, 'the call was cancelled by its AbortSignal', undefined, {
    cause: signal.reason,
  });
}

export function malformed(error: MalformedResponse, endpoint: string): RemoteError {
  return new RemoteError(Status.INTERNAL, `malformed response: ${error.message}`, endpoint, { cause: error });
}

export function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
