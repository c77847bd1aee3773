// One hammering loop over its own Calculator, for hardening-workers.test.ts: run as a worker
// thread (workerData: { seed, ms }) it posts its figures; the main thread imports `hammer` too.
// Every result is compared with the BigInt model of test/reference.ts.

import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { Calculator, CalculatorError } from 'nanocalc';
import { OPS, reference, referenceBatch } from '../models/reference.js';
import { pseudoRandomI64 } from '../support/helpers.js';

export interface HammerFigures {
  calls: number;
  batchOps: number;
  wrong: number;
  firstWrong?: string;
}

const SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** Calls one Calculator for `ms` milliseconds, checking every answer. */
export function hammer(seed: bigint, ms: number): HammerFigures {
  const calc = new Calculator();
  const random = pseudoRandomI64(seed);
  const next = (): bigint => random.next().value as bigint;
  const figures: HammerFigures = { calls: 0, batchOps: 0, wrong: 0 };
  const wrong = (what: string): void => {
    figures.wrong++;
    figures.firstWrong ??= what;
  };
  const deadline = performance.now() + ms;
  while (performance.now() < deadline) {
    for (let k = 0; k < 1000; k++) {
      const r = next();
      const op = OPS[Number(BigInt.asUintN(8, r) % 5n)]!;
      // Small operands often, so division and remainder are interesting and zero divisors occur.
      const small = (r & 0x100n) !== 0n;
      const a = small ? next() % 1000n : next();
      const b = small ? next() % 7n : next();
      const expected = reference(op, a, b);
      try {
        if ((r & 0x200n) !== 0n) {
          const got = calc[op](a, b);
          if (got !== expected) wrong(`${op}(${a}n, ${b}n) = ${got}, expected ${expected}`);
        } else {
          const an = Number(BigInt.asIntN(53, a) % SAFE);
          const bn = Number(BigInt.asIntN(53, b) % SAFE);
          const e = reference(op, BigInt(an), BigInt(bn));
          if (e !== null && (e > SAFE || e < -SAFE)) continue; // a RangeError by contract
          const got = calc[op](an, bn);
          if (e === null || BigInt(got) !== e) wrong(`${op}(${an}, ${bn}) = ${got}, expected ${e}`);
        }
      } catch (error) {
        const isZero = error instanceof CalculatorError && error.code === 'DIVISION_BY_ZERO';
        if (!(isZero && expected === null)) wrong(`${op}(${a}, ${b}) threw ${String(error)}`);
      }
      figures.calls++;
    }
    // A batch of 64 (half of the rounds into a reused out array).
    const op = OPS[Number(BigInt.asUintN(8, next()) % 5n)]!;
    const a = Array.from({ length: 64 }, () => next());
    const b = Array.from({ length: 64 }, () => next() % 1000n);
    const expected = referenceBatch(op, a, b);
    try {
      const got = calc.batch(op, a, b);
      if (!('values' in expected) || got.some((v, i) => v !== expected.values[i])) wrong(`batch ${op}`);
    } catch (error) {
      const index = error instanceof CalculatorError ? error.index : undefined;
      if (!('failsAt' in expected) || index !== expected.failsAt) wrong(`batch ${op} threw ${String(error)}`);
    }
    figures.calls++;
    figures.batchOps += 64;
  }
  calc.close();
  return figures;
}

if (!isMainThread && parentPort !== null) {
  const { seed, ms } = workerData as { seed: bigint; ms: number };
  parentPort.postMessage(hammer(seed, ms));
}
