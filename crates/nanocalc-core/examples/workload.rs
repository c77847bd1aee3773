//! A fixed workload for instruction counts (`perf stat -e instructions` or callgrind), which stay
//! comparable on a shared, noisy machine where timings do not:
//! `cargo run --release -p nanocalc-core --example workload -- rows|columns|add [iterations]`.

use nanocalc_core::pb::{self, calculator_request::Operation as Member};
use nanocalc_core::{Limits, Outcome, process_into};
use prost::Message;
use std::hint::black_box;

fn main() {
    let mut args = std::env::args().skip(1);
    let kind = args.next().unwrap_or_else(|| "rows".into());
    let iterations: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(1000);
    let n = 1000i64;
    let member = match kind.as_str() {
        "rows" => Member::Batch(pb::BatchOperation {
            operation: 1,
            operations: (0..n).map(|i| pb::BinaryOp { a: i * 7919 - 1_000_000, b: i + 1 }).collect(),
        }),
        "columns" => Member::Columns(pb::ColumnBatch {
            operation: 1,
            a: (0..n).map(|i| i * 7919 - 1_000_000).collect(),
            b: (0..n).map(|i| i + 1).collect(),
        }),
        _ => Member::Add(pb::BinaryOp { a: 2, b: 3 }),
    };
    let request = pb::CalculatorRequest { operation: Some(member), overflow: 0 }.encode_to_vec();
    let mut out = vec![0u64; 4096];
    // SAFETY: u64 has no padding and any byte pattern is a valid u8.
    let out: &mut [u8] = unsafe { std::slice::from_raw_parts_mut(out.as_mut_ptr().cast(), out.len() * 8) };
    let limits = Limits::default();
    for _ in 0..iterations {
        let outcome = process_into(black_box(&request), out, &limits);
        assert!(matches!(outcome, Outcome::Written { .. }));
    }
}
