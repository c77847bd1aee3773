// Reporting for benchmarks: the table, the JSON files, the comparison of two JSON files and the
// SVG chart. Pure functions over rows (no measuring, no I/O but readReport/writeReport), so any
// benchmark script can print its rows the same way:
//
//   import { formatTable, renderSvg, writeReport, type Row } from './report.js';
//   const rows: Row[] = [{ name: 'my call', ns: 120, baseline: 'the old way', baselineNs: 900 }];
//   console.log(formatTable(rows));
//   writeReport('out.json', rows);                        // { node, date, loadavg, rows }
//   writeFileSync('chart.svg', renderSvg(rows, { title: 'my benchmark' }));
//
// A row is one of ours beside one baseline measured in the same run; `ratio` is ns / baselineNs
// (lower is better). Reference rows (`kind: 'reference'`) carry published figures that were not
// measured here: the table shows no ratio for them and comparisons skip them.

import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';

export type RowKind = 'measured' | 'reference';

export interface Row {
  /** What was measured (our side). Rows are identified by name and baseline together. */
  name: string;
  /** Median nanoseconds per operation. */
  ns: number;
  /** What it is measured beside. */
  baseline: string;
  /** Median nanoseconds per operation of the baseline, measured in the same run. */
  baselineNs: number;
  /** `'measured'` (the default when absent) or `'reference'`: figures quoted, not measured here. */
  kind?: RowKind;
  /** The performance issue's target for this row, if it has one: at most these ns/op and ratio. */
  target?: Target;
}

export interface Target {
  maxNs?: number;
  maxRatio?: number;
}

/** Each bound of a row's target with ✓ or ✗, e.g. `≤ 60 ns ✓, ≤ 2.5× ✗`; empty without one. */
export function formatTarget(row: Row): string {
  const { maxNs, maxRatio } = row.target ?? {};
  const parts: string[] = [];
  if (maxNs !== undefined) parts.push(`≤ ${maxNs} ns ${row.ns <= maxNs ? '✓' : '✗'}`);
  if (maxRatio !== undefined) parts.push(`≤ ${maxRatio}× ${row.ns / row.baselineNs <= maxRatio ? '✓' : '✗'}`);
  return parts.join(', ');
}

/** How many of the rows with a target meet all of it, e.g. `targets met: 5 of 6 rows`. */
export function formatTargetSummary(rows: readonly Row[]): string {
  const targeted = rows.filter((r) => r.target !== undefined);
  const met = targeted.filter((r) => !formatTarget(r).includes('✗'));
  return `targets met: ${met.length} of ${targeted.length} rows`;
}

/** The JSON file written by `--json` and read by `--compare`. */
export interface Report {
  node: string;
  date: string;
  /** CPU model and the 1-, 5- and 15-minute load averages when the run started (absent in old files). */
  cpu?: string;
  loadavg?: number[];
  rows: Row[];
}

export function isReference(row: Row): boolean {
  return row.kind === 'reference';
}

/** Identity of a row across runs: its name and its baseline. */
export function rowKey(row: Row): string {
  return `${row.name}\u0000${row.baseline}`;
}

/** Nanoseconds with three significant digits (thousands grouped). */
export function formatNs(ns: number): string {
  if (!Number.isFinite(ns)) return String(ns);
  if (ns >= 100) return Math.round(ns).toLocaleString('en-US');
  return ns >= 10 ? ns.toFixed(1) : ns.toFixed(2);
}

export function formatRatio(ratio: number): string {
  return `${ratio >= 100 ? ratio.toFixed(0) : ratio.toFixed(2)}×`;
}

/** Lays out cells in aligned columns; `right[k]` right-aligns column k. */
export function formatColumns(header: string[], body: string[][], right: boolean[]): string {
  const widths = header.map((h, k) => Math.max(h.length, ...body.map((cells) => (cells[k] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, k) => (right[k] ? c.padStart(widths[k]!) : c.padEnd(widths[k]!)))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

/** The benchmark table: row, ns/op, baseline, ns/op, ratio (none for reference rows), target. */
export function formatTable(rows: readonly Row[]): string {
  const body = rows.map((r) => [
    r.name,
    formatNs(r.ns),
    r.baseline,
    formatNs(r.baselineNs),
    isReference(r) ? '—' : formatRatio(r.ns / r.baselineNs),
    formatTarget(r),
  ]);
  return formatColumns(['row', 'ns/op', 'baseline', 'ns/op', 'ratio', 'target'], body, [
    false,
    true,
    false,
    true,
    true,
    false,
  ]);
}

/** A report of `rows` stamped with this process's Node.js version, the time, the CPU and the load. */
export function makeReport(rows: readonly Row[]): Report {
  return {
    node: process.version,
    date: new Date().toISOString(),
    cpu: cpus()[0]?.model ?? 'unknown',
    loadavg: loadavg().map((x) => Math.round(x * 100) / 100),
    rows: [...rows],
  };
}

export function writeReport(path: string, rows: readonly Row[] | Report): void {
  const report = 'rows' in rows ? rows : makeReport(rows as readonly Row[]);
  writeFileSync(path, `${JSON.stringify(report, null, 2)}\n`);
}

/** Reads a report written by `writeReport` (or by earlier versions of the benchmark). */
export function readReport(path: string): Report {
  const data = JSON.parse(readFileSync(path, 'utf8')) as Partial<Report>;
  if (!Array.isArray(data.rows)) throw new Error(`${path}: not a benchmark report (no "rows" array)`);
  return { node: data.node ?? '?', date: data.date ?? '?', ...data, rows: data.rows } as Report;
}

function describeRun(label: string, source: string, report: Report): string {
  const load = report.loadavg ? `, load ${report.loadavg.join(' ')}` : '';
  return `${label} = ${source}: ${report.date}, Node.js ${report.node}${load}`;
}

function describeRow(row: Row): string {
  return `${row.name} (vs ${row.baseline})`;
}

/**
 * Per measured row present in both reports (same name and baseline): the two medians and b / a;
 * also b / a of the baseline, which tells a change of the row from a change of the machine.
 * `sources` names the two reports in the heading (file paths, say).
 */
export function formatComparison(a: Report, b: Report, sources: [string, string] = ['a', 'b']): string {
  const before = new Map(a.rows.filter((r) => !isReference(r)).map((r) => [rowKey(r), r]));
  const body: string[][] = [];
  const onlyInB: string[] = [];
  const seen = new Set<string>();
  for (const row of b.rows) {
    if (isReference(row)) continue;
    const old = before.get(rowKey(row));
    if (old === undefined) {
      onlyInB.push(describeRow(row));
      continue;
    }
    seen.add(rowKey(row));
    body.push([
      row.name,
      row.baseline,
      formatNs(old.ns),
      formatNs(row.ns),
      formatRatio(row.ns / old.ns),
      formatRatio(row.baselineNs / old.baselineNs),
    ]);
  }
  const onlyInA = [...before.values()].filter((r) => !seen.has(rowKey(r))).map(describeRow);
  const lines = [
    describeRun('a', sources[0], a),
    describeRun('b', sources[1], b),
    '(b/a: the row in b over the same row in a, lower is faster; baseline b/a shows how much the machine moved)',
    '',
    formatColumns(['row', 'baseline', 'a ns/op', 'b ns/op', 'b/a', 'baseline b/a'], body, [
      false,
      false,
      true,
      true,
      true,
      true,
    ]),
  ];
  if (onlyInA.length > 0) lines.push('', 'only in a:', ...onlyInA.map((r) => `  ${r}`));
  if (onlyInB.length > 0) lines.push('', 'only in b:', ...onlyInB.map((r) => `  ${r}`));
  return lines.join('\n');
}

// ---- SVG chart -----------------------------------------------------------------------------

export interface SvgOptions {
  title?: string;
  /** A second line under the title (the run's machine, date, …). */
  subtitle?: string;
}

const COLORS = {
  ours: '#2563eb',
  baseline: '#f59e0b',
  published: '#6b7280',
  projection: '#c4c4c4',
};

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function unitLabel(ns: number): string {
  if (ns >= 1e6) return `${ns / 1e6} ms`;
  if (ns >= 1e3) return `${ns / 1e3} µs`;
  return `${ns} ns`;
}

/**
 * A horizontal bar chart of ns/op on a log scale: each row as a pair of bars, ours above its
 * baseline (reference rows in greys), each labelled with its value, ours with the ratio too.
 * Hand-written SVG 1.1, no dependency; text widths are estimated, so labels are left-aligned.
 */
export function renderSvg(rows: readonly Row[], options: SvgOptions = {}): string {
  const title = options.title ?? 'nanocalc benchmark: median ns per operation (log scale, lower is better)';
  const font = 'font-family="DejaVu Sans, Verdana, Helvetica, Arial, sans-serif"';
  const charWidth = 6.9; // at 12px (bold), generous for the usual sans-serif fonts
  const labelWidth = Math.min(
    640,
    Math.ceil(Math.max(120, ...rows.flatMap((r) => [r.name.length, r.baseline.length + 2])) * charWidth) + 16,
  );
  const margin = 16;
  const barsX = margin + labelWidth;
  const barsWidth = 480;
  const valueWidth = 130;
  const width = barsX + barsWidth + valueWidth + margin;
  const barHeight = 13;
  const groupHeight = 2 * barHeight + 3 + 14;
  const headerHeight = options.subtitle ? 86 : 70;
  const chartTop = headerHeight + 16;
  const chartHeight = rows.length * groupHeight;
  const height = chartTop + chartHeight + 34;

  const values = rows.flatMap((r) => [r.ns, r.baselineNs]).filter((v) => Number.isFinite(v) && v > 0);
  const lo = Math.floor(Math.log10(Math.min(...values, 1)) - 1e-9);
  const hi = Math.ceil(Math.log10(Math.max(...values, 10)) + 1e-9);
  const x = (ns: number) => barsX + ((Math.log10(ns) - lo) / (hi - lo)) * barsWidth;

  const out: string[] = [];
  out.push(
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${font} font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${margin}" y="26" font-size="16" font-weight="bold" fill="#111827">${escapeXml(title)}</text>`,
  );
  if (options.subtitle) {
    out.push(`<text x="${margin}" y="46" fill="#4b5563">${escapeXml(options.subtitle)}</text>`);
  }
  // Legend.
  const legend: [string, string][] = [
    [COLORS.ours, 'nanocalc'],
    [COLORS.baseline, 'baseline, measured in the same run'],
  ];
  if (rows.some(isReference)) {
    legend.push([COLORS.published, 'original design, published'], [COLORS.projection, 'its projection, published']);
  }
  let lx = margin;
  const ly = headerHeight - 14;
  for (const [color, text] of legend) {
    out.push(`<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${color}"/>`);
    out.push(`<text x="${lx + 17}" y="${ly}" fill="#111827">${escapeXml(text)}</text>`);
    lx += 17 + text.length * charWidth + 22;
  }
  // Decade grid and axis labels.
  for (let d = lo; d <= hi; d++) {
    const gx = x(10 ** d).toFixed(1);
    out.push(`<line x1="${gx}" y1="${chartTop - 4}" x2="${gx}" y2="${chartTop + chartHeight}" stroke="#e5e7eb"/>`);
    out.push(
      `<text x="${gx}" y="${chartTop + chartHeight + 16}" text-anchor="middle" fill="#4b5563">${escapeXml(unitLabel(10 ** d))}</text>`,
    );
  }
  out.push(
    `<text x="${barsX + barsWidth / 2}" y="${chartTop + chartHeight + 30}" text-anchor="middle" fill="#4b5563">ns per operation (log scale)</text>`,
  );
  // One group per row: ours, then the baseline.
  rows.forEach((row, k) => {
    const top = chartTop + k * groupHeight;
    const reference = isReference(row);
    if (k % 2 === 1) {
      out.push(
        `<rect x="${margin / 2}" y="${top - 4}" width="${width - margin}" height="${groupHeight}" fill="#f9fafb"/>`,
      );
    }
    const bars: [number, string, string, string, boolean][] = [
      [
        row.ns,
        row.name,
        reference ? COLORS.published : COLORS.ours,
        reference ? '' : ` (${formatRatio(row.ns / row.baselineNs)})`,
        true,
      ],
      [row.baselineNs, `vs ${row.baseline}`, reference ? COLORS.projection : COLORS.baseline, '', false],
    ];
    bars.forEach(([ns, label, color, suffix, bold], j) => {
      const y = top + j * (barHeight + 3);
      const textY = (y + barHeight - 2.5).toFixed(1);
      const end = Math.max(barsX + 1, x(ns));
      out.push(
        `<text x="${margin}" y="${textY}" fill="${bold ? '#111827' : '#4b5563'}"${bold ? ' font-weight="bold"' : ''}>${escapeXml(label)}</text>`,
        `<rect x="${barsX}" y="${y}" width="${(end - barsX).toFixed(1)}" height="${barHeight}" fill="${color}"><title>${escapeXml(`${label}: ${formatNs(ns)} ns/op`)}</title></rect>`,
        `<text x="${(end + 5).toFixed(1)}" y="${textY}" fill="#111827">${escapeXml(`${formatNs(ns)} ns${suffix}`)}</text>`,
      );
    });
  });
  out.push(`<line x1="${barsX}" y1="${chartTop - 4}" x2="${barsX}" y2="${chartTop + chartHeight}" stroke="#9ca3af"/>`);
  out.push('</svg>', '');
  return out.join('\n');
}
