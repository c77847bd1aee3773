// The wire runtime of the generated codec (src/gen/**/*_codec.ts): protobuf primitives that write
// into a caller's Uint8Array and allocate nothing. Hand-written once, like protobuf-es's runtime;
// everything that depends on the schema (field numbers, layouts) is generated.

const TWO_32 = 4294967296;

/** Protobuf's wire types: the low three bits of a field's key (https://protobuf.dev/programming-guides/encoding/). */
export const WireType = {
  Varint: 0,
  I64: 1,
  Len: 2,
  StartGroup: 3,
  EndGroup: 4,
  I32: 5,
} as const;

// Scratch words for moving a bigint in and out of two's complement without BigInt arithmetic.
export const scratch64 = new BigInt64Array(1);
export const scratch32 = new Uint32Array(scratch64.buffer);

/** Writes an unsigned 64-bit varint given as two 32-bit halves; returns the position after it. */
export function writeVarint64(u8: Uint8Array, pos: number, lo: number, hi: number): number {
  while (hi !== 0) {
    u8[pos++] = (lo & 127) | 128;
    lo = ((lo >>> 7) | (hi << 25)) >>> 0;
    hi >>>= 7;
  }
  while (lo > 127) {
    u8[pos++] = (lo & 127) | 128;
    lo >>>= 7;
  }
  u8[pos++] = lo;
  return pos;
}

/** Writes 0 ≤ n < 16384 as a one- or two-byte varint: small enough for V8 to inline. */
export function writeSmallVarint(u8: Uint8Array, pos: number, n: number): number {
  if (n < 128) {
    u8[pos] = n;
    return pos + 1;
  }
  u8[pos] = (n & 127) | 128;
  u8[pos + 1] = n >>> 7;
  return pos + 2;
}

/** Writes a safe integer as an `int64` varint (negative values take ten bytes, as in protobuf). */
export function writeInt64Number(u8: Uint8Array, pos: number, n: number): number {
  if (n >>> 0 === n) {
    // 0 ≤ n < 2^32: 32-bit arithmetic only.
    while (n > 127) {
      u8[pos++] = (n & 127) | 128;
      n >>>= 7;
    }
    u8[pos] = n;
    return pos + 1;
  }
  return writeVarint64(u8, pos, n >>> 0, Math.floor(n / TWO_32) >>> 0);
}

/** Writes an in-range bigint as an `int64` varint. */
export function writeInt64Bigint(u8: Uint8Array, pos: number, n: bigint): number {
  scratch64[0] = n;
  const lo = scratch32[0]!;
  const hi = scratch32[1]!;
  if (hi === 0 && lo < 16384) return writeSmallVarint(u8, pos, lo);
  return writeVarint64(u8, pos, lo, hi);
}

/**
 * Writes `value` as a varint of exactly `width` bytes (non-minimal, which every protobuf parser
 * accepts): it fixes the header size of column batches so their values land 8-byte aligned.
 */
export function writePaddedVarint(u8: Uint8Array, pos: number, value: number, width: number): number {
  if ((width === 5 || width === 7) && value <= 0xffffffff) {
    // The widths of the column frames, whose lengths fit 32 bits: straight stores (a loop here
    // cost a column batch ~30 ns more per call).
    const v = value >>> 0;
    u8[pos] = (v & 127) | 128;
    u8[pos + 1] = ((v >>> 7) & 127) | 128;
    u8[pos + 2] = ((v >>> 14) & 127) | 128;
    u8[pos + 3] = ((v >>> 21) & 127) | 128;
    if (width === 5) {
      u8[pos + 4] = v >>> 28;
      return pos + 5;
    }
    u8[pos + 4] = (v >>> 28) | 128;
    u8[pos + 5] = 128;
    u8[pos + 6] = 0;
    return pos + 7;
  }
  for (; width > 1; width--, value = Math.floor(value / 128)) u8[pos++] = (value % 128) | 128;
  u8[pos] = value;
  return pos + 1;
}

// ---- reading -------------------------------------------------------------------------------

/** The low and high 32 bits of the varint {@link readVarint} read last (module state: no allocation). */
export let varintLo = 0;
export let varintHi = 0;

/**
 * Reads the varint at `pos` (before `end`) into {@link varintLo} and {@link varintHi}, accepting
 * exactly what protobuf's decoders (prost, protobuf-es) accept: at most ten bytes, the tenth
 * carrying only the top bit of a u64. Returns the position after it, or -1 when the bytes run out
 * first or the varint is longer or larger than that. The one varint reader of the package.
 */
export function readVarint(u8: Uint8Array, pos: number, end: number): number {
  if (pos >= end) return -1;
  let byte = u8[pos++]!;
  if (byte < 128) {
    varintLo = byte;
    varintHi = 0;
    return pos;
  }
  // Bits 0..27: four bytes of seven bits.
  let lo = byte & 127;
  for (let shift = 7; shift < 28; shift += 7) {
    if (pos >= end) return -1;
    byte = u8[pos++]!;
    lo |= (byte & 127) << shift;
    if (byte < 128) {
      varintLo = lo >>> 0;
      varintHi = 0;
      return pos;
    }
  }
  // The fifth byte straddles the halves: bits 28..31 and 32..34.
  if (pos >= end) return -1;
  byte = u8[pos++]!;
  lo |= (byte & 15) << 28;
  let hi = (byte & 127) >> 4;
  if (byte >= 128) {
    for (let shift = 3; ; shift += 7) {
      if (pos >= end) return -1;
      byte = u8[pos++]!;
      if (shift === 31) {
        // The tenth byte: 0 or 1 (the top bit), and it must end the varint.
        if (byte > 1) return -1;
        hi |= byte << 31;
        break;
      }
      hi |= (byte & 127) << shift;
      if (byte < 128) break;
    }
  }
  varintLo = lo >>> 0;
  varintHi = hi >>> 0;
  return pos;
}
