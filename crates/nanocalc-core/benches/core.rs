//! Criterion benches of the engine alone, no boundary: `cargo bench -p nanocalc-core`.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use nanocalc_core::pb::{self, calculator_request::Operation as Member};
use nanocalc_core::{Limits, Outcome, process_into};
use nanocalc_testkit::encode;
use prost::Message;
use std::hint::black_box;

fn rows(n: usize) -> Vec<u8> {
    let operations = (0..n as i64).map(|i| pb::BinaryOp { a: i * 7919 - 1_000_000, b: i + 1 }).collect();
    encode(Member::Batch(pb::BatchOperation { operation: pb::Operation::Add as i32, operations }))
}

/// Rows of random sign and size (a xorshift sequence): varints of 1 to 10 bytes in an order no
/// branch predictor learns over 100,000 rows (over 1,000 it does, and branches look free).
fn rows_mixed(n: usize) -> Vec<u8> {
    let mut next = nanocalc_testkit::mixed_i64s(60);
    let operations = (0..n).map(|_| pb::BinaryOp { a: next(), b: next() | 1 }).collect();
    encode(Member::Batch(pb::BatchOperation { operation: pb::Operation::Add as i32, operations }))
}

fn columns(n: usize) -> Vec<u8> {
    columns_of(pb::Operation::Add, n)
}

fn columns_of(operation: pb::Operation, n: usize) -> Vec<u8> {
    let a = (0..n as i64).map(|i| i * 7919 - 1_000_000).collect();
    let b = (0..n as i64).map(|i| i + 1).collect();
    encode(Member::Columns(pb::ColumnBatch { operation: operation as i32, a, b }))
}

/// An output buffer aligned like the shared buffer (8 bytes).
fn out_buffer(bytes: usize) -> Vec<u64> {
    vec![0u64; bytes.div_ceil(8)]
}

fn run(c: &mut Criterion, name: &str, request: &[u8], ops: u64) {
    let limits = Limits::default();
    let mut out = out_buffer(request.len() * 4 + 256);
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements(ops));
    group.bench_function("process_into", |bench| {
        bench.iter(|| {
            let out: &mut [u8] = bytemuck_bytes(&mut out);
            let outcome = process_into(black_box(request), out, &limits);
            assert!(matches!(outcome, Outcome::Written { .. }));
            black_box(outcome)
        })
    });
    group.bench_function("prost_reference", |bench| {
        bench.iter_batched(
            || (),
            |()| {
                let decoded = pb::CalculatorRequest::decode(black_box(request)).expect("valid");
                black_box(decoded)
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

fn bytemuck_bytes(words: &mut [u64]) -> &mut [u8] {
    // SAFETY: u64 has no padding and any byte pattern is a valid u8.
    unsafe { std::slice::from_raw_parts_mut(words.as_mut_ptr().cast::<u8>(), words.len() * 8) }
}

fn benches(c: &mut Criterion) {
    let add = encode(Member::Add(pb::BinaryOp { a: 2, b: 3 }));
    run(c, "single_add_small", &add, 1);
    let add = encode(Member::Add(pb::BinaryOp { a: 123_456_789, b: -987_654_321 }));
    run(c, "single_add", &add, 1);
    run(c, "rows_1000", &rows(1000), 1000);
    run(c, "rows_100000_mixed", &rows_mixed(100_000), 100_000);
    run(c, "columns_8", &columns(8), 8);
    run(c, "columns_1000", &columns(1000), 1000);
    run(c, "columns_1000000", &columns(1_000_000), 1_000_000);
    // Eight steps in one request (throughput: steps).
    let expression =
        encode(Member::Expression(pb::Expression { text: "2 * (3 + -4) % 5 - (10 / 3) * -7 + 100 % 7".into() }));
    run(c, "expression_8_steps", &expression, 8);
}

/// A column batch of 1,000 through the shared-buffer protocol as the Node addon runs it: the
/// caller's columns copied into the request and the values out of the response (`copied`, the
/// path when `out` shares memory with an input), against the lists read and the values written
/// in place (`in_place`, `shared_buffer::run_columns`): `cargo bench -p nanocalc-core -- shared_buffer`.
fn shared_buffer_columns(c: &mut Criterion) {
    use nanocalc_core::{kernels, shared_buffer};
    let n = 1000;
    let request = columns(n);
    let mut words = out_buffer(shared_buffer::REQUEST_OFFSET + request.len() + 8 * n + 256);
    let buffer = bytemuck_bytes(&mut words);
    buffer[..4].copy_from_slice(&(request.len() as u32).to_le_bytes());
    buffer[shared_buffer::REQUEST_OFFSET..][..request.len()].copy_from_slice(&request);
    let (list_a, list_b) = shared_buffer::column_lists(buffer).expect("a column frame");
    let (mut a, mut b, mut values) = (out_buffer(8 * n), out_buffer(8 * n), out_buffer(8 * n));
    bytemuck_bytes(&mut a).copy_from_slice(&buffer[list_a.clone()]);
    bytemuck_bytes(&mut b).copy_from_slice(&buffer[list_b.clone()]);
    let (a, b, values) = (bytemuck_bytes(&mut a), bytemuck_bytes(&mut b), bytemuck_bytes(&mut values));
    let limits = Limits::default();
    let mut group = c.benchmark_group("shared_buffer_columns_1000");
    group.throughput(Throughput::Elements(n as u64));
    group.bench_function("copied", |bench| {
        bench.iter(|| {
            kernels::copy(&mut buffer[list_a.clone()], black_box(&*a));
            kernels::copy(&mut buffer[list_b.clone()], black_box(&*b));
            shared_buffer::run(buffer, &limits).expect("runs");
            let range = shared_buffer::batch_values(buffer).expect("a batch result");
            kernels::copy(values, &buffer[range]);
            black_box(&values[0]);
        })
    });
    group.bench_function("in_place", |bench| {
        bench.iter(|| {
            let written = shared_buffer::run_columns(buffer, black_box(&*a), black_box(&*b), values, &limits);
            assert_eq!(written, Ok(true));
            black_box(&values[0]);
        })
    });
    group.finish();
}

/// Column batches on one thread and on two, around the threshold where splitting starts
/// (by the costs `kernels` measures, about 100,000 elements of divide here) and far above it: `cargo bench -p nanocalc-core -- threads`.
fn threads(c: &mut Criterion) {
    let mut group = c.benchmark_group("threads");
    group.sample_size(20);
    for operation in [pb::Operation::Add, pb::Operation::Divide] {
        for n in [1 << 16, 1 << 17, 1 << 18, 1 << 20, 10_000_000] {
            let request = columns_of(operation, n);
            let mut out = out_buffer(n * 8 + 256);
            group.throughput(Throughput::Elements(n as u64));
            for max_threads in [1, 2] {
                let limits = Limits {
                    max_threads,
                    max_batch_length: usize::MAX,
                    max_request_bytes: usize::MAX,
                    ..Limits::default()
                };
                let name = format!("{}/{n}/{max_threads}", operation.as_str_name());
                bench_process(&mut group, name, &request, &mut out, &limits);
            }
        }
    }
    group.finish();
}

/// `process_into` of `request` into `out`, which must answer (not ask for room), as bench `name`.
fn bench_process(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: String,
    request: &[u8],
    out: &mut [u64],
    limits: &Limits,
) {
    group.bench_function(name, |bench| {
        bench.iter(|| {
            let outcome = process_into(black_box(request), bytemuck_bytes(out), limits);
            assert!(matches!(outcome, Outcome::Written { .. }));
            black_box(outcome)
        })
    });
}

/// Column batches of 1,000 (no element overflows) in each overflow mode: `saturate` and `wrap` run
/// one loop; `error` first scans for an element that overflows (`kernels::first_failure`), then
/// runs it: `cargo bench -p nanocalc-core -- overflow_modes`.
fn overflow_modes(c: &mut Criterion) {
    let limits = Limits::default();
    let mut group = c.benchmark_group("overflow_modes_1000");
    group.throughput(Throughput::Elements(1000));
    for operation in [pb::Operation::Add, pb::Operation::Multiply] {
        for overflow in [pb::Overflow::Saturate, pb::Overflow::Wrap, pb::Overflow::Error] {
            let a = (0..1000i64).map(|i| i * 7919 - 1_000_000).collect();
            let b = (0..1000i64).map(|i| i + 1).collect();
            let columns = pb::ColumnBatch { operation: operation as i32, a, b };
            let request =
                pb::CalculatorRequest { operation: Some(Member::Columns(columns)), overflow: overflow as i32 }
                    .encode_to_vec();
            let mut out = out_buffer(request.len() + 256);
            let name = format!("{}_{}", operation.as_str_name(), overflow.as_str_name()).to_lowercase();
            bench_process(&mut group, name, &request, &mut out, &limits);
        }
    }
    group.finish();
}

criterion_group!(core, benches, shared_buffer_columns, threads, overflow_modes);
criterion_main!(core);
