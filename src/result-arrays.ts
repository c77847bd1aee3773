// The arrays a batch returns: each a new BigInt64Array with memory of its own. No `node:` import
// (a browser bundles this file): the Node entry (./calculator.ts) hands in Buffer.allocUnsafeSlow.
import { i64View } from './validate.js';

/** Allocates `bytes` bytes of memory of their own, not necessarily zeroed. */
export type AllocateBytes = (bytes: number) => Uint8Array;

// A browser's ArrayBuffer (zeroed), until an entry with a faster allocator sets one.
let allocateBytes: AllocateBytes = (bytes) => new Uint8Array(bytes);

/** Sets how result arrays past ON_HEAP_RESULT_MAX get their memory (the Node entry: Buffer.allocUnsafeSlow). */
export function setAllocateBytes(allocate: AllocateBytes): void {
  allocateBytes = allocate;
}

/** Up to this many elements, V8 keeps a new typed array's elements in its heap object. */
export const ON_HEAP_RESULT_MAX = 8;

/**
 * A new result array of `n` elements for the engine to fill, with a buffer of its own (no result
 * shares memory with another: any API that detaches one, a BYOB stream read among them, can harm
 * no other). Past V8's 64 bytes kept in the heap object, its memory is not zeroed first, since the
 * engine writes every element before the array is returned (docs/PERFORMANCE.md, ledger rows 52, 64).
 */
export function newResultArray(n: number): BigInt64Array {
  if (n <= ON_HEAP_RESULT_MAX) return new BigInt64Array(n);
  const bytes = allocateBytes(8 * n);
  return new BigInt64Array(bytes.buffer, bytes.byteOffset, n);
}

/** A copy of the first `n` elements of `column` in memory of its own. */
export function copyOf(column: BigInt64Array, n: number): BigInt64Array {
  const copy = newResultArray(n);
  copy.set(i64View(column, 0, n));
  return copy;
}
