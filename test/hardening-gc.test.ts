// A Calculator garbage-collected without close() frees its native engine and its shared buffer
// (the addon's napi_wrap finalizer): a child process creates and drops 20,000 of them (1,000 of
// which grew their buffer to ~2.4 MiB with a large batch), collecting every 500, and its RSS must
// stay bounded. Were the finalizer missing, the engines would keep their buffers: over 3.5 GiB.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const child = fileURLToPath(new URL('./children/hardening-gc.js', import.meta.url));

test('20,000 calculators dropped without close(): RSS stays bounded', () => {
  const output = execFileSync(process.execPath, ['--expose-gc', child, '20000'], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  const figures = JSON.parse(output.trim().split('\n').pop()!) as {
    count: number;
    grown: number;
    baselineMiB: number;
    peakMiB: number;
    endMiB: number;
  };
  console.log(`gc: ${JSON.stringify(figures)}`);
  assert.equal(figures.count, 20_000);
  // Growth after the first 2,000, and the peak, stay far below what leaking would take.
  assert.ok(
    figures.endMiB - figures.baselineMiB < 100,
    `RSS grew from ${figures.baselineMiB} to ${figures.endMiB} MiB`,
  );
  assert.ok(figures.peakMiB < 400, `RSS peaked at ${figures.peakMiB} MiB`);
});
