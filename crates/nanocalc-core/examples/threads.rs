//! One thread, two pieces forced, and the split `kernels::columns` chooses, alternating in rounds
//! so that the machine's drift falls on all three alike: `cargo run --release -p nanocalc-core
//! --example threads [rounds]`. Prints each case's medians and the ratios to one thread.

use nanocalc_core::{Op, Overflow, kernels};
use std::hint::black_box;
use std::time::Instant;

fn main() {
    let rounds: usize = std::env::args().nth(1).and_then(|r| r.parse().ok()).unwrap_or(9);
    let cases = [
        ("add", Op::Add, Overflow::Saturate),
        ("subtract_wrap", Op::Subtract, Overflow::Wrap),
        ("add_throw", Op::Add, Overflow::Error),
        ("multiply", Op::Multiply, Overflow::Saturate),
        ("divide", Op::Divide, Overflow::Saturate),
        ("remainder", Op::Remainder, Overflow::Saturate),
    ];
    let (_, costs) = kernels::columns_split(Op::Add, Overflow::Saturate, 1 << 30, usize::MAX);
    println!("costs: {costs}");
    println!("case n pieces(default) 1-thread 2-pieces default 2/1 default/1");
    for (name, op, mode) in cases {
        for n in [1usize << 15, 1 << 17, 1 << 18, 1 << 20, 2_000_000, 4 << 20] {
            let a: Vec<u8> = (0..n as i64).flat_map(|i| (i * 7919 - 1_000_000).to_le_bytes()).collect();
            let b: Vec<u8> = (0..n as i64).flat_map(|i| (i % 1000 + 1).to_le_bytes()).collect();
            let mut out = vec![0u8; n * 8];
            let reps = (20_000_000 / n).clamp(3, 200);
            let mut run = |how: usize| -> f64 {
                let mut times: Vec<f64> = (0..reps)
                    .map(|_| {
                        let start = Instant::now();
                        let (a, b) = (black_box(&a[..]), black_box(&b[..]));
                        let max_threads = if how == 2 { usize::MAX } else { 1 };
                        if mode == Overflow::Error {
                            assert_eq!(kernels::first_failure(op, mode, a, b, max_threads), None);
                        }
                        match how {
                            1 => kernels::columns_in_pieces(op, mode, a, b, &mut out, 2),
                            _ => kernels::columns(op, mode, a, b, &mut out, max_threads),
                        }
                        black_box(&out[0]);
                        start.elapsed().as_nanos() as f64
                    })
                    .collect();
                times.sort_by(f64::total_cmp);
                times[times.len() / 2]
            };
            let mut samples = [vec![], vec![], vec![]];
            for round in 0..rounds {
                for k in 0..3 {
                    let how = (round + k) % 3;
                    samples[how].push(run(how));
                }
            }
            let median = |v: &mut Vec<f64>| {
                v.sort_by(f64::total_cmp);
                v[v.len() / 2]
            };
            let [one, two, chosen] = samples.map(|mut v| median(&mut v));
            let (pieces, _) = kernels::columns_split(op, mode, n, usize::MAX);
            println!(
                "{name} {n} {pieces} {:.1}us {:.1}us {:.1}us {:.3} {:.3}",
                one / 1e3,
                two / 1e3,
                chosen / 1e3,
                two / one,
                chosen / one
            );
        }
    }
}
