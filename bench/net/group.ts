/**
 * What the `rpc` and `connections` group modules share: running the group, checking completeness
 * and writing the reports.
 */
import { loadavg } from 'node:os';
import { collectMeta, writeReports, assertComplete } from '../report.js';
import type { BenchOptions } from '../lib.js';
import { incomplete, type NetRow } from './metrics.js';
import type { NetOptions } from './suite.js';
import { loadSystems } from './systems.js';

/**
 * Runs a network group. A quick run asserts that every scenario produced a finite, positive figure
 * (see `assertComplete`) and writes nothing; a full run writes its RESULTS.md section and the chart, and reports missing
 * figures on the log (they are in the table as failed).
 */
export async function runGroup(group: string, opts: BenchOptions, measure: (o: NetOptions) => Promise<NetRow[]>): Promise<NetRow[]> {
  const loadAtStart = loadavg();
  const rows = await measure(opts);
  if (opts.quick) {
    assertComplete(group, rows);
    return rows;
  }
  const { systems } = await loadSystems();
  const measured = systems
    .filter((s) => rows.some((r) => r.system === s.name))
    .map((s) => {
      const sharing = systems.filter((other) => other.sameConnectionAs === s.name).map((other) => other.name);
      return sharing.length === 0 || group !== 'connections' ? s : { name: s.name, label: `${s.label} (its connections are also those of ${sharing.join(', ')})` };
    });
  writeReports(group, rows, collectMeta(loadAtStart), measured);
  for (const r of incomplete(rows)) opts.log(`${group}: no figure for ${r.name}: ${r.error ?? r.value}`);
  opts.log(`${group}: section written to bench/RESULTS.md, chart to bench/results/ratios.svg`);
  return rows;
}
