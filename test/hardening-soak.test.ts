// A bounded soak in a child process: 20,000,000 individual calls and 2,000 batches of 100,000,
// every answer checked, RSS growth after warm-up under 32 MiB. `npm run soak` runs a long one.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const child = fileURLToPath(new URL('./children/hardening-soak.js', import.meta.url));

test('soak: 20,000,000 calls and 2,000 batches of 100,000, RSS growth under 32 MiB', () => {
  // execFileSync throws (failing the test) when the child exits non-zero: a wrong answer or growth.
  const output = execFileSync(process.execPath, ['--expose-gc', child, '20000000', '2000', '32'], {
    encoding: 'utf8',
    timeout: 180_000,
  });
  const figures = JSON.parse(output.trim().split('\n').pop()!) as { wrong: number; growthMiB: number };
  console.log(`soak: ${JSON.stringify(figures)}`);
  assert.equal(figures.wrong, 0);
  assert.ok(figures.growthMiB < 32);
});
