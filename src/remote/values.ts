// Operands in and results out, as RemoteCalculator and RemoteStream take and give them.
import { type BatchInput, copyColumn, int32View, isBigInt64Array } from '../validate.js';

export type { BatchInput } from '../validate.js';

const SAFE_MAX = BigInt(Number.MAX_SAFE_INTEGER);
const SAFE_MIN = BigInt(Number.MIN_SAFE_INTEGER);

/** A result for operands given as numbers: a number, if it is a safe integer. */
export function toNumber(value: bigint): number {
  if (value > SAFE_MAX || value < SAFE_MIN) {
    throw new RangeError(`nanocalc: the result ${value} is outside the safe integer range; use bigint operands`);
  }
  return Number(value);
}

/** A column of `n` elements as a BigInt64Array: itself if it is one, else a copy. */
export function asColumn(column: BatchInput, n: number, name: string): BigInt64Array {
  if (isBigInt64Array(column)) return column;
  const values = new BigInt64Array(n);
  copyColumn(column, 0, n, values, int32View(values), 0, name);
  return values;
}
