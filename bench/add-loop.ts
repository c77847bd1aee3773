// The loop of bench/runtimes.ts's `add(a, b)` row alone, for a profiler: 1,000 calls at a time for
// a few seconds on the runtime's default path, then ns per call. See docs/PERFORMANCE.md, Runtimes.
//
//   node --cpu-prof --cpu-prof-dir=prof dist/bench/add-loop.js [seconds]
//   deno run -A --v8-flags=--prof dist/bench/add-loop.js   (then node --prof-process isolate-*.log)
//   perf record -g <runtime> dist/bench/add-loop.js        (native frames: the engine, the FFI)
import process from 'node:process';
import { Calculator } from 'nanocalc';

const seconds = Number(process.argv[2] ?? 3);
const calc = new Calculator();
const numbers = Array.from({ length: 64 }, (_, i) => (i * 7919) % 1000);
const kept: unknown[] = new Array(64);
let i = 0;
const adds = () => {
  for (let k = 0; k < 1000; k++, i++) kept[k & 63] = calc.add(numbers[i & 63]!, numbers[(i + 1) & 63]!);
};
const begun = performance.now();
let calls = 0;
while (performance.now() - begun < seconds * 1000) {
  adds();
  calls += 1000;
}
const ns = ((performance.now() - begun) * 1e6) / calls;
console.log(`${calc.runtime}: ${calls.toLocaleString('en-US')} calls, ${ns.toFixed(1)} ns per call`);
calc.close();
