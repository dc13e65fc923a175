/**
 * The figures of the network groups, the row they become, and their ratios: each figure is compared
 * with raw TCP (the ceiling) and with the best peer (ws, gRPC) measured in the same run.
 */
import { medianOf, type BenchRow } from '../lib.js';
import type { SystemKind } from './system.js';

/** Whether a larger figure is better (rates) or worse (latency, memory). */
export type Better = 'higher' | 'lower';

/** One figure the network groups report. */
export interface MetricDef {
  id: string;
  title: string;
  unit: string;
  better: Better;
  /**
   * The figure is a difference of two readings (RSS after − before, per connection): with the few
   * connections of a `--quick` run it can come out 0 or negative, so a quick run only asks that it
   * is finite (and that every connection was opened).
   */
  difference?: true;
}

/** A row of the network groups: a `BenchRow` plus the per-run figures and the comparisons. */
export interface NetRow extends BenchRow {
  system: string;
  kind: SystemKind;
  metric: string;
  title: string;
  better: Better;
  difference?: true;
  /** One value per run (the row's `value` is their median). */
  runs: number[];
  /** Relative to raw TCP: > 1 is better than raw TCP, < 1 worse (inverted for latency and memory). */
  vsTcp?: number;
  /** Relative to the best peer of this figure, on the same scale. */
  vsBestPeer?: number;
  bestPeer?: string;
  /** Why the figure is missing, when it is. */
  error?: string;
}

/** A row from the runs of one figure; an empty or failed measurement gives `NaN` and the error. */
export function makeRow(group: string, system: { name: string; kind: SystemKind }, def: MetricDef, runs: number[], notes: string[], error?: string): NetRow {
  const value = runs.length === 0 ? Number.NaN : medianOf(runs);
  const spread = runs.length > 1 && value !== 0 ? (Math.max(...runs) - Math.min(...runs)) / value : undefined;
  const row: NetRow = {
    group,
    name: `${system.name} · ${def.title}`,
    value,
    unit: def.unit,
    system: system.name,
    kind: system.kind,
    metric: def.id,
    title: def.title,
    better: def.better,
    runs,
  };
  if (spread !== undefined) row.spread = spread;
  if (def.difference === true) row.difference = true;
  if (error !== undefined) row.error = error;
  const note = [...notes, ...(error === undefined ? [] : [`failed: ${error}`])].join('; ');
  if (note !== '') row.note = note;
  return row;
}

/** Relative standing of `value` against `reference`: > 1 is better whatever the direction. */
export function relative(value: number, reference: number, better: Better): number {
  return better === 'higher' ? value / reference : reference / value;
}

const usable = (r: NetRow): boolean => Number.isFinite(r.value) && r.value > 0;

/** Fills `vsTcp`, `vsBestPeer` and `bestPeer` of every row, and appends them to the note. */
export function addRatios(rows: NetRow[], reference: string): void {
  for (const metric of new Set(rows.map((r) => r.metric))) {
    const same = rows.filter((r) => r.metric === metric && usable(r));
    const ref = same.find((r) => r.system === reference);
    const peers = same.filter((r) => r.kind === 'peer');
    const best = peers.reduce<NetRow | undefined>((a, r) => (a === undefined || relative(r.value, a.value, r.better) > 1 ? r : a), undefined);
    for (const row of same) {
      const parts: string[] = [];
      if (ref !== undefined) {
        row.vsTcp = relative(row.value, ref.value, row.better);
        parts.push(`${formatRatio(row.vsTcp)} vs ${reference}`);
      }
      if (best !== undefined) {
        row.vsBestPeer = relative(row.value, best.value, row.better);
        row.bestPeer = best.system;
        parts.push(`${formatRatio(row.vsBestPeer)} vs best peer (${best.system})`);
      }
      if (parts.length > 0) row.note = [parts.join(', '), row.note].filter((s) => s !== undefined && s !== '').join('; ');
    }
  }
}

/** `0.047x`, `1.29x`, `14.5x`, `215x`. */
export function formatRatio(r: number): string {
  if (!Number.isFinite(r)) return '–';
  if (r >= 100) return `${Math.round(r)}x`;
  if (r >= 10) return `${r.toFixed(1)}x`;
  return `${Number(r.toPrecision(2))}x`;
}

/**
 * Rows without a finite positive figure (a smoke run must have none). In a quick run a difference
 * figure (see `MetricDef.difference`) only has to be finite.
 */
export function incomplete(rows: readonly NetRow[], quick = false): NetRow[] {
  return rows.filter((r) => !usable(r) && !(quick && r.difference === true && Number.isFinite(r.value)));
}
