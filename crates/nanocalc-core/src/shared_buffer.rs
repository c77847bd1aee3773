//! The shared-buffer protocol: one request and its response in a single buffer owned by the
//! caller, so that a binding passes nothing per call but that buffer. Every binding that shares
//! memory with its host (the Node-API addon, the C ABI used by Bun and Deno) runs this same code.
//!
//! ```text
//! [0, 4)    u32  request length            (written by the caller)
//! [4, 8)    u32  response start            (written here; or the capacity needed, see below)
//! [8, 12)   u32  response length           (written here; NEED_CAPACITY when the buffer is too small)
//! [12, 16)       reserved
//! [16, …)        CalculatorRequest bytes   (written by the caller)
//! [align8(16 + request length), …)  CalculatorResponse bytes (written here)
//! ```
//!
//! All words are little-endian. Offsets are from the start of the buffer. When the response does
//! not fit, the response length word is [`NEED_CAPACITY`] and the start word holds the size the
//! whole buffer needs: the caller grows it (keeping the request) and calls again. Batch values in
//! the response sit at an 8-byte-aligned *address*, so a buffer that is itself 8-byte aligned
//! gives them at an 8-byte-aligned offset.
//!
//! Domain failures (malformed bytes, division by zero, limits) are answered inside the response.
//! A panic in the engine becomes an `ERROR_CODE_INTERNAL` response. Only misuse of the protocol
//! itself (a buffer shorter than the control words, a request running past the buffer) is an
//! `Err`, with a message for the binding to raise.

use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::{ErrorCode, Limits, Outcome, encode};

/// Offset of the request in the shared buffer, after the control words.
pub const REQUEST_OFFSET: usize = 16;
/// Response length written when the buffer is too small; the start word then holds the capacity
/// the whole buffer needs.
pub const NEED_CAPACITY: u32 = u32::MAX;

/// Runs the request in `buffer` and writes the response and its control words (see the module
/// docs for the layout).
#[inline]
pub fn run(buffer: &mut [u8], limits: &Limits) -> Result<(), &'static str> {
    if buffer.len() < REQUEST_OFFSET {
        return Err("nanocalc: the shared buffer is too small");
    }
    let request_len = read_u32(buffer, 0) as usize;
    let base = (REQUEST_OFFSET + request_len + 7) & !7;
    if base > buffer.len() {
        return Err("nanocalc: the request runs past the shared buffer");
    }
    let (head, out) = buffer.split_at_mut(base);
    let request = &head[REQUEST_OFFSET..REQUEST_OFFSET + request_len];
    let outcome = catch_unwind(AssertUnwindSafe(|| crate::process_into(request, out, limits)))
        .unwrap_or_else(|_| internal_error(out));
    let (start, len) = match outcome {
        Outcome::Written { start, len } => ((base + start) as u32, len as u32),
        Outcome::NeedCapacity(needed) => ((base + needed) as u32, NEED_CAPACITY),
    };
    buffer[4..8].copy_from_slice(&start.to_le_bytes());
    buffer[8..12].copy_from_slice(&len.to_le_bytes());
    Ok(())
}

fn read_u32(buffer: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([buffer[at], buffer[at + 1], buffer[at + 2], buffer[at + 3]])
}

/// The answer to a request whose handling panicked: the engine is unharmed and keeps serving.
fn internal_error(out: &mut [u8]) -> Outcome {
    if out.len() < encode::SMALL_RESPONSE_MAX {
        return Outcome::NeedCapacity(encode::SMALL_RESPONSE_MAX);
    }
    let len = encode::error(out, ErrorCode::Internal, "internal error: the engine panicked", 0);
    Outcome::Written { start: 0, len }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A buffer of `capacity` bytes holding `request` at REQUEST_OFFSET.
    fn buffer_with(request: &[u8], capacity: usize) -> Vec<u8> {
        let mut buffer = vec![0u8; capacity];
        buffer[..4].copy_from_slice(&(request.len() as u32).to_le_bytes());
        buffer[REQUEST_OFFSET..REQUEST_OFFSET + request.len()].copy_from_slice(request);
        buffer
    }

    fn response(buffer: &[u8]) -> &[u8] {
        let start = read_u32(buffer, 4) as usize;
        let len = read_u32(buffer, 8) as usize;
        &buffer[start..start + len]
    }

    #[test]
    fn answers_a_request_after_it_at_an_aligned_offset() {
        // add { a: 2, b: 3 } → value 5
        let mut buffer = buffer_with(&[0x0a, 0x04, 0x08, 0x02, 0x10, 0x03], 1024);
        run(&mut buffer, &Limits::default()).unwrap();
        assert_eq!(read_u32(&buffer, 4), 24);
        assert_eq!(response(&buffer), &[0x08, 0x05]);
        // The request is left as it was.
        assert_eq!(&buffer[REQUEST_OFFSET..REQUEST_OFFSET + 6], &[0x0a, 0x04, 0x08, 0x02, 0x10, 0x03]);
    }

    #[test]
    fn malformed_bytes_are_an_invalid_request_response() {
        let mut buffer = buffer_with(&[0xff, 0xff], 1024);
        run(&mut buffer, &Limits::default()).unwrap();
        let answer = response(&buffer);
        assert_eq!(&answer[..1], &[0x12]);
        assert_eq!(answer[3], ErrorCode::InvalidRequest as u8);
    }

    #[test]
    fn a_small_buffer_asks_for_the_capacity_it_needs() {
        let mut buffer = buffer_with(&[0x0a, 0x00], 40);
        run(&mut buffer, &Limits::default()).unwrap();
        assert_eq!(read_u32(&buffer, 8), NEED_CAPACITY);
        let needed = read_u32(&buffer, 4) as usize;
        assert!(needed > 40);
        buffer.resize(needed, 0);
        run(&mut buffer, &Limits::default()).unwrap();
        assert_eq!(response(&buffer), &[0x08, 0x00]);
    }

    #[test]
    fn protocol_misuse_is_an_error() {
        assert!(run(&mut [0u8; 8], &Limits::default()).is_err());
        let mut buffer = vec![0u8; 64];
        buffer[..4].copy_from_slice(&60u32.to_le_bytes());
        assert_eq!(run(&mut buffer, &Limits::default()), Err("nanocalc: the request runs past the shared buffer"));
    }
}
