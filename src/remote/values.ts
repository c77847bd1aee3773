// Operands in and results out, as RemoteCalculator and RemoteStream take and give them.
import { copyColumn, int32View } from '../validate.js';

/** Operands of a batch: one column of signed 64-bit integers. */
export type BatchInput = BigInt64Array | readonly bigint[] | readonly number[];

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
  if (column instanceof BigInt64Array) return column;
  const values = new BigInt64Array(n);
  copyColumn(column, 0, n, values, int32View(values), 0, name);
  return values;
}
