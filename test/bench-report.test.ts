// The benchmark's report: each row with a target of the performance issue shows it met or not, and
// the summary counts the rows that meet all of theirs.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatTable, formatTarget, formatTargetSummary, type Row } from '../bench/report.js';

const rows: Row[] = [
  { name: 'add', ns: 42, baseline: 'pure TS', baselineNs: 17, target: { maxNs: 60, maxRatio: 2.5 } },
  { name: 'add big', ns: 95, baseline: 'pure TS', baselineNs: 18, target: { maxNs: 90 } },
  { name: 'batch', ns: 0.9, baseline: 'loop', baselineNs: 9, target: { maxNs: 0.8, maxRatio: 0.2 } },
  { name: 'untargeted', ns: 5, baseline: 'loop', baselineNs: 10 },
];

test('each bound of a target is marked met or missed, on ns/op and on the ratio', () => {
  assert.equal(formatTarget(rows[0]!), '≤ 60 ns ✓, ≤ 2.5× ✓');
  assert.equal(formatTarget(rows[1]!), '≤ 90 ns ✗');
  assert.equal(formatTarget(rows[2]!), '≤ 0.8 ns ✗, ≤ 0.2× ✓');
  assert.equal(formatTarget(rows[3]!), '');
  // On the line counts as met; a ratio just above its bound does not.
  assert.equal(formatTarget({ ...rows[0]!, ns: 60, baselineNs: 24 }), '≤ 60 ns ✓, ≤ 2.5× ✓');
  assert.equal(formatTarget({ ...rows[0]!, ns: 42.6, baselineNs: 17 }), '≤ 60 ns ✓, ≤ 2.5× ✗');
});

test('the summary counts rows meeting every bound; the table has a target column', () => {
  assert.equal(formatTargetSummary(rows), 'targets met: 1 of 3 rows');
  const table = formatTable(rows).split('\n');
  assert.match(table[0]!, /ratio\s+target$/);
  assert.match(table[2]!, /2\.47×\s+≤ 60 ns ✓, ≤ 2\.5× ✓$/);
  assert.match(table[5]!, /0\.50×$/, 'no target, nothing after the ratio');
});
