//! The engine allocates nothing per call on canonical input: counted by a global allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use nanocalc_core::pb::{self, calculator_request::Operation as Member};
use nanocalc_core::{Limits, Outcome, process_into};
use prost::Message;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator, only counting.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|count| count.set(count.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_during(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

#[test]
fn no_allocation_per_call() {
    let requests: Vec<Vec<u8>> = vec![
        pb::CalculatorRequest { operation: Some(Member::Add(pb::BinaryOp { a: 2, b: 3 })), overflow: 0 }
            .encode_to_vec(),
        pb::CalculatorRequest { operation: Some(Member::Multiply(pb::BinaryOp { a: i64::MIN, b: -1 })), overflow: 0 }
            .encode_to_vec(),
        pb::CalculatorRequest { operation: Some(Member::Divide(pb::BinaryOp { a: 1, b: 0 })), overflow: 0 }
            .encode_to_vec(),
        pb::CalculatorRequest {
            operation: Some(Member::Batch(pb::BatchOperation {
                operation: 1,
                operations: vec![pb::BinaryOp { a: 1, b: 2 }; 100],
            })),
            overflow: 0,
        }
        .encode_to_vec(),
        pb::CalculatorRequest {
            operation: Some(Member::Columns(pb::ColumnBatch { operation: 3, a: vec![5; 100], b: vec![-7; 100] })),
            overflow: 0,
        }
        .encode_to_vec(),
        pb::CalculatorRequest {
            operation: Some(Member::Columns(pb::ColumnBatch { operation: 1, a: vec![5; 3], b: vec![-7; 2] })),
            overflow: 0,
        }
        .encode_to_vec(),
        vec![0xff, 0xff, 0xff],
        // Overflow errors, in one operation and in a column batch, and a wrapping row batch.
        pb::CalculatorRequest { operation: Some(Member::Add(pb::BinaryOp { a: i64::MAX, b: 1 })), overflow: 3 }
            .encode_to_vec(),
        pb::CalculatorRequest {
            operation: Some(Member::Columns(pb::ColumnBatch { operation: 3, a: vec![5, i64::MAX], b: vec![-7, 2] })),
            overflow: 3,
        }
        .encode_to_vec(),
        pb::CalculatorRequest {
            operation: Some(Member::Batch(pb::BatchOperation {
                operation: 1,
                operations: vec![pb::BinaryOp { a: i64::MAX, b: 2 }; 100],
            })),
            overflow: 2,
        }
        .encode_to_vec(),
        pb::CalculatorRequest {
            operation: Some(Member::Expression(pb::Expression { text: "2 * (3 + -4) % 5 - 1 / 0".to_string() })),
            overflow: 0,
        }
        .encode_to_vec(),
        pb::CalculatorRequest {
            operation: Some(Member::Expression(pb::Expression { text: "((1) + ".to_string() })),
            overflow: 0,
        }
        .encode_to_vec(),
    ];
    let limits = Limits::default();
    let mut out = vec![0u8; 4096];
    for request in &requests {
        let count = allocations_during(|| {
            for _ in 0..100 {
                let outcome = process_into(request, &mut out, &limits);
                assert!(matches!(outcome, Outcome::Written { .. }));
            }
        });
        assert_eq!(count, 0, "allocations for request {request:02x?}");
    }
}
