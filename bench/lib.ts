/**
 * Helpers of the performance suite: the row every bench module returns, a rate measurement with a
 * spread, and a markdown table printer.
 */
import { cpus } from 'node:os';

/** One measured figure. `spread` is (max − min) / median over the runs. */
export interface BenchRow {
  group: string;
  name: string;
  value: number;
  unit: string;
  spread?: number;
  note?: string;
}

/** What `bench/run.ts` hands to a bench module. */
export interface BenchOptions {
  /** Shorter runs (a smoke test of the suite, figures less stable). */
  quick: boolean;
  /** Progress lines (written to stderr by the runner). */
  log: (line: string) => void;
  /** `--runs N`: number of measured runs, for the groups that take it. */
  runs?: number;
  /** `--systems a,b`: the systems to measure, for the network groups. */
  systems?: string[];
}

/** The contract of a bench module. */
export type BenchModule = { run(opts: BenchOptions): Promise<BenchRow[]> };

export interface MeasureOptions {
  /** Minimum duration of one run, in milliseconds. */
  minMs: number;
  /** Number of measured runs (after one warm-up run). */
  runs: number;
}

export interface Measurement {
  /** Median rate over the runs, in units per second. */
  median: number;
  /** (max − min) / median of the per-run rates. */
  spread: number;
  /** The best run's rate (on a shared machine, the run least disturbed by other jobs). */
  best: number;
  /** Per-run rates, in run order. */
  rates: number[];
}

/**
 * Calls `fn` repeatedly for at least `minMs` per run, `runs` times after one warm-up run, and returns
 * the rate in units per second. `fn` returns how many units one call processed (1 when it returns
 * nothing), so one call may cover a batch.
 */
export function measure(fn: () => number | void, opts: MeasureOptions): Measurement {
  runOnce(fn, Math.max(50, opts.minMs / 2));
  const rates: number[] = [];
  for (let r = 0; r < opts.runs; r++) rates.push(runOnce(fn, opts.minMs));
  const median = medianOf(rates);
  const spread = median === 0 ? 0 : (Math.max(...rates) - Math.min(...rates)) / median;
  return { median, spread, best: Math.max(...rates), rates };
}

function runOnce(fn: () => number | void, minMs: number): number {
  let units = 0;
  const start = performance.now();
  let elapsed = 0;
  do {
    const n = fn();
    units += typeof n === 'number' ? n : 1;
    elapsed = performance.now() - start;
  } while (elapsed < minMs);
  return units / (elapsed / 1000);
}

export function medianOf(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Formats a figure with thousands separators and 3 significant digits below 1,000. */
export function formatValue(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Math.abs(v) >= 1000) return Math.round(v).toLocaleString('en-US');
  return Number(v.toPrecision(3)).toString();
}

/** A markdown table of rows: scenario, value, unit, spread, note. */
export function formatTable(rows: readonly BenchRow[]): string {
  const header = ['group', 'scenario', 'value', 'unit', 'spread', 'note'];
  const lines = [`| ${header.join(' | ')} |`, `|${header.map((_, i) => (i === 2 || i === 4 ? '---:' : '---')).join('|')}|`];
  for (const r of rows) {
    const spread = r.spread === undefined ? '' : `${(r.spread * 100).toFixed(1)}%`;
    lines.push(`| ${r.group} | ${r.name} | ${formatValue(r.value)} | ${r.unit} | ${spread} | ${r.note ?? ''} |`);
  }
  return lines.join('\n');
}

/** Node version and machine, for the header of a results file. */
export function environment(): { node: string; cpus: number; cpuModel: string; platform: string } {
  const list = cpus();
  return { node: process.version, cpus: list.length, cpuModel: list[0]?.model ?? 'unknown', platform: `${process.platform}-${process.arch}` };
}
