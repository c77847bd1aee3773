//! Writes `CalculatorResponse` bytes straight into a caller's buffer, byte-for-byte as prost
//! encodes them (the tests hold it to that), so no response is built as a message first.

use crate::ErrorCode;
use crate::wire::{batch_result_key, calculation_error_key, calculator_response_key};

pub use crate::wire::SMALL_RESPONSE_MAX;
/// Longest error message written (messages are truncated to it).
pub const MAX_MESSAGE_LEN: usize = 120;

#[inline(always)]
pub const fn varint_len(value: u64) -> usize {
    // 1 byte per 7 bits, at least 1.
    (64 - (value | 1).leading_zeros() as usize).div_ceil(7)
}

/// Writes `value` as a varint at `out[at..]`, returning the position after it.
/// The caller guarantees room for `varint_len(value)` bytes.
#[inline(always)]
pub fn put_varint(out: &mut [u8], mut at: usize, mut value: u64) -> usize {
    while value >= 0x80 {
        out[at] = (value as u8) | 0x80;
        value >>= 7;
        at += 1;
    }
    out[at] = value as u8;
    at + 1
}

/// `CalculatorResponse { value }` (field 1, varint). Needs at most 11 bytes.
#[inline(always)]
pub fn value(out: &mut [u8], value: i64) -> usize {
    out[0] = calculator_response_key::VALUE;
    put_varint(out, 1, value as u64)
}

/// `CalculatorResponse { error: CalculationError { code, message, index } }` (field 2).
/// Needs at most [`SMALL_RESPONSE_MAX`] bytes.
pub fn error(out: &mut [u8], code: ErrorCode, message: &str, index: u64) -> usize {
    let mut cut = message.len().min(MAX_MESSAGE_LEN);
    while !message.is_char_boundary(cut) {
        cut -= 1;
    }
    let message = &message.as_bytes()[..cut];
    let code = code as u64;
    let mut body_len = 0;
    if code != 0 {
        body_len += 1 + varint_len(code);
    }
    if !message.is_empty() {
        body_len += 1 + varint_len(message.len() as u64) + message.len();
    }
    if index != 0 {
        body_len += 1 + varint_len(index);
    }
    out[0] = calculator_response_key::ERROR;
    let mut at = put_varint(out, 1, body_len as u64);
    if code != 0 {
        out[at] = calculation_error_key::CODE;
        at = put_varint(out, at + 1, code);
    }
    if !message.is_empty() {
        out[at] = calculation_error_key::MESSAGE;
        at = put_varint(out, at + 1, message.len() as u64);
        out[at..at + message.len()].copy_from_slice(message);
        at += message.len();
    }
    if index != 0 {
        out[at] = calculation_error_key::INDEX;
        at = put_varint(out, at + 1, index);
    }
    at
}

/// Length of the header `1A <len> 0A <len>` before `count` packed values of a `BatchResult`
/// (just `1A 00` when there are none, as prost omits an empty packed field).
#[inline(always)]
pub const fn batch_header_len(count: usize) -> usize {
    if count == 0 {
        return 2;
    }
    let values_len = (count as u64) * 8;
    let body_len = 1 + varint_len(values_len) + values_len as usize;
    1 + varint_len(body_len as u64) + 1 + varint_len(values_len)
}

/// Writes the header of a batch result of `count` values; the values follow it.
#[inline(always)]
pub fn batch_header(out: &mut [u8], count: usize) -> usize {
    out[0] = calculator_response_key::BATCH;
    if count == 0 {
        out[1] = 0;
        return 2;
    }
    let values_len = (count as u64) * 8;
    let body_len = 1 + varint_len(values_len) as u64 + values_len;
    let at = put_varint(out, 1, body_len);
    out[at] = batch_result_key::VALUES;
    put_varint(out, at + 1, values_len)
}
