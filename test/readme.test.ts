// The README's example is examples/quickstart.ts, which this suite compiles (it is in the
// TypeScript project) and runs.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

test('the README example is examples/quickstart.ts, verbatim', () => {
  const readme = readFileSync(`${root}README.md`, 'utf8');
  const example = readFileSync(`${root}examples/quickstart.ts`, 'utf8');
  const block = /```ts\n([\s\S]*?)```/.exec(readme)?.[1];
  assert.equal(block, example);
});

test('the README example runs and prints what its comments say', () => {
  const output = execFileSync(process.execPath, [`${root}dist/examples/quickstart.js`], { encoding: 'utf8' });
  assert.equal(output, 'DIVISION_BY_ZERO\n5 9223372036854775807n BigInt64Array(3) [ 11n, 22n, 33n ]\n');
});
