// Pure-TypeScript implementations of the same operations: the baselines every row is measured beside.

import type { Row } from './report.js';

export const I64_MIN = -(2n ** 63n);
export const I64_MAX = 2n ** 63n - 1n;

export function saturatingAdd(a: bigint, b: bigint): bigint {
  const sum = a + b;
  return sum > I64_MAX ? I64_MAX : sum < I64_MIN ? I64_MIN : sum;
}

/** Element-wise saturating add into `out`. */
export function addInto(a: BigInt64Array, b: BigInt64Array, out: BigInt64Array): BigInt64Array {
  for (let i = 0; i < a.length; i++) out[i] = saturatingAdd(a[i]!, b[i]!);
  return out;
}

/** Element-wise saturating add into a new array. */
export function addNew(a: BigInt64Array, b: BigInt64Array): BigInt64Array {
  return addInto(a, b, new BigInt64Array(a.length));
}

/**
 * Fixed reference rows: the original Dart + Rust design's published figures (from its design document),
 * not measured here, each beside that design's own projection after all its optimizations.
 */
export const PUBLISHED_ROWS: Row[] = [
  {
    name: 'original Dart + Rust design, individual call (published, not measured here)',
    ns: 637,
    baseline: 'its projection after all optimizations (published, not measured here)',
    baselineNs: 296,
    kind: 'reference',
  },
  {
    name: 'original Dart + Rust design, batch of 1000, per op (published, not measured here)',
    ns: 219,
    baseline: 'its projection after all optimizations (published, not measured here)',
    baselineNs: 58,
    kind: 'reference',
  },
];
