#!/usr/bin/env sh
# Builds a fuzz target with stable Rust and libFuzzer's coverage instrumentation (the flags
# cargo-fuzz passes), then runs it for SECONDS on the committed seed corpus (fuzz/corpus/TARGET)
# plus a working corpus in target/fuzz-corpus/TARGET. A crash fails (exit non-zero) and leaves
# its input in target/fuzz-artifacts/TARGET/ (the whole output in target/fuzz-TARGET.log); so does
# a run that does not reach its end. Usage: fuzz/run.sh TARGET SECONDS
set -eu
target="$1"
seconds="$2"
cd "$(dirname "$0")"
host="$(rustc -vV | sed -n 's/^host: //p')"
RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 -Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table -Cllvm-args=-sanitizer-coverage-trace-compares" \
  cargo build --quiet --release --target "$host" --bin "$target"
artifacts="../target/fuzz-artifacts/$target"
log="../target/fuzz-$target.log"
rm -rf "$artifacts"
mkdir -p "../target/fuzz-corpus/$target" "$artifacts"
"./target/$host/release/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$artifacts/" "../target/fuzz-corpus/$target" "corpus/$target" >"$log" 2>&1 || true
grep -E '^(Done|stat::number_of_executed_units|stat::new_units_added|stat::peak_rss_mb|==|SUMMARY|thread|.*panicked|ERROR)' "$log" || true
if ls "$artifacts" | grep -q .; then echo "fuzz: $target found a failing input (see target/fuzz-artifacts/$target/, log target/fuzz-$target.log)"; exit 1; fi
if ! grep -q '^Done' "$log"; then echo "fuzz: $target did not run to its end (see target/fuzz-$target.log)"; exit 1; fi
