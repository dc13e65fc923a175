/**
 * Output of the network groups: a markdown section of `bench/RESULTS.md` per group (machine,
 * versions, date, the exact command, then every figure with its spread and its ratios to raw TCP
 * and to the best peer), and `bench/results/ratios.svg`. The raw rows go to
 * `bench/results/<group>.json`, written by `bench/run.ts`.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatValue } from './lib.js';
import { formatRatio, incomplete, type NetRow } from './net/metrics.js';
import { renderRatioChart } from './net/svg-chart.js';

/** Packages whose versions every network section records. */
const PACKAGES = ['ws', 'bufferutil', '@grpc/grpc-js', '@peculiar/x509', 'typescript'] as const;

/** Said in every section: the figures come from a shared machine unless re-run on a quiet one. */
export const NOISE_NOTE =
  'Measured on a shared 2-vCPU machine while other jobs were running (see the load average): figures are noisy, expect ±10 % or more between runs; ratios within one run are steadier. Re-run on a quiet machine before quoting.';

/** The repository root: the nearest directory above this file that holds package.json. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) return process.cwd();
    dir = up;
  }
  return dir;
}

/** Where and how a group was measured. */
export interface ReportMeta {
  date: string;
  command: string;
  machine: { cpus: number; cpuModel: string; memoryGiB: number; kernel: string; platform: string; loadAverage: number[] };
  node: string;
  packages: Record<string, string>;
}

function packageVersion(root: string, name: string): string {
  try {
    return (JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'not installed';
  }
}

/** The command that produced this run, as the user typed it when it came through `npm run bench`. */
export function commandLine(): string {
  const script = process.argv[1] === undefined ? '' : basename(process.argv[1]);
  const args = process.argv.slice(2).join(' ');
  if (script === 'run.js' && process.env['npm_lifecycle_event'] === 'bench') return `npm run bench -- ${args}`.trim();
  if (script === 'run.js') return `node dist/bench/run.js ${args}`.trim();
  return `node ${process.argv.slice(1).join(' ')}`;
}

export function collectMeta(loadAtStart: number[]): ReportMeta {
  const root = repoRoot();
  const list = cpus();
  return {
    date: new Date().toISOString(),
    command: commandLine(),
    machine: {
      cpus: list.length,
      cpuModel: list[0]?.model ?? 'unknown',
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      kernel: release(),
      platform: `${process.platform}-${process.arch}`,
      loadAverage: [...loadAtStart.map((l) => Number(l.toFixed(2))), ...loadavg().map((l) => Number(l.toFixed(2)))],
    },
    node: process.version,
    packages: Object.fromEntries(PACKAGES.map((p) => [p, packageVersion(root, p)])),
  };
}

const TITLES: Record<string, string> = {
  rpc: 'rpc: request/response over loopback',
  connections: 'connections: handshakes and idle memory',
};

/** How each group's scenarios load the systems, said under its table. */
const METHODS: Record<string, readonly string[]> = {
  rpc: [
    'Round trip: one connection, exactly one 64 B request outstanding; p50 and p99 of each run.',
    'Requests/s: `window` requests outstanding per connection through the request API (each awaits its own reply).',
    'Pipelined: the system\'s best way to stream many 64 B messages (raw: one write per refill of the window; ws: one `send` per message; gRPC unary: 256 concurrent calls; gRPC stream: 256 messages in flight on one bidi stream).',
    '1 MiB payloads: MB/s (10^6 bytes) of payload echoed back; each byte crosses loopback twice.',
  ],
  connections: [
    'Connect rate: a new connection (TCP connect, plus the TLS 1.3 full handshake, WebSocket upgrade or HTTP/2 setup), one 64 B request, then a graceful close awaited on the client side.',
    'Idle memory: after one warm-up connection is opened and closed, both processes run `gc()` twice, pause 150 ms, run it again (node --expose-gc) and read RSS; the client opens the connections 200 at a time, each used for one 64 B request, the server is read again once it counts them all, then the client; per connection = (after − before) / open. Kernel socket buffers are not in RSS. One fresh server and client per run.',
  ],
};

/** The markdown section of one group. */
export function renderSection(group: string, rows: readonly NetRow[], meta: ReportMeta, systems: readonly { name: string; label: string }[]): string {
  const m = meta.machine;
  const versions = Object.entries(meta.packages).map(([k, v]) => `${k} ${v}`).join(', ');
  const lines = [
    `## ${TITLES[group] ?? group}`,
    '',
    `- Date: ${meta.date}`,
    `- Command: \`${meta.command}\`${meta.command.startsWith('npm run bench') ? ' (builds with tsc, then runs `node dist/bench/run.js`)' : meta.command.startsWith('node dist/bench/run.js') ? ' (what `npm run bench -- …` runs after its tsc build)' : ''}`,
    `- Machine: ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB, ${m.platform}, kernel ${m.kernel}; load average at start ${m.loadAverage.slice(0, 3).join(' / ')}, at end ${m.loadAverage.slice(3).join(' / ')}`,
    `- Node ${meta.node}; ${versions}`,
    `- ${NOISE_NOTE}`,
    '- Method: server and client in separate processes on loopback (127.0.0.1, or a Unix socket under the temp dir); each figure is the median of its runs (each run 1 s after a 1 s warm-up; for idle memory, one fresh server and client per run); spread = (max − min) / median.',
    '- Ratios: > 1 is better than the reference, < 1 worse; for latency and memory the ratio is reference / value. "Best peer" is the best of ws and gRPC for that figure.',
    '',
    'Systems:',
    '',
    ...systems.map((s) => `- \`${s.name}\`: ${s.label}`),
    '',
    '| figure | system | value | unit | spread | vs raw tcp | vs best peer | note |',
    '|---|---|---:|---|---:|---:|---:|---|',
  ];
  const metricOrder = [...new Set(rows.map((r) => r.metric))];
  const systemOrder = systems.map((s) => s.name);
  const sorted = [...rows].sort((a, b) => metricOrder.indexOf(a.metric) - metricOrder.indexOf(b.metric) || systemOrder.indexOf(a.system) - systemOrder.indexOf(b.system));
  for (const r of sorted) {
    const spread = r.spread === undefined ? '' : `${(r.spread * 100).toFixed(1)} %`;
    const vsTcp = r.vsTcp === undefined ? '' : formatRatio(r.vsTcp);
    const vsPeer = r.vsBestPeer === undefined ? '' : `${formatRatio(r.vsBestPeer)} (${r.bestPeer})`;
    const note = [r.error === undefined ? '' : `failed: ${r.error}`, noteWithoutRatios(r.note)].filter(Boolean).join('; ');
    lines.push(`| ${r.title} | ${r.system} | ${Number.isFinite(r.value) ? formatValue(r.value) : '–'} | ${r.unit} | ${spread} | ${vsTcp} | ${vsPeer} | ${note.replace(/\|/g, '/')} |`);
  }
  lines.push('', ...(METHODS[group] ?? []).map((m) => `- ${m}`));
  lines.push('', `Raw rows: \`bench/results/${group}.json\`. Chart of the ratios to raw TCP: [results/ratios.svg](results/ratios.svg).`, '');
  return lines.join('\n');
}

/** The note without the ratio text `addRatios` put in front (the table has columns for it). */
function noteWithoutRatios(note: string | undefined): string {
  if (note === undefined) return '';
  return note
    .split('; ')
    .filter((p) => !/ vs (tcp|best peer)/.test(p))
    .join('; ');
}

/** Replaces (or appends) the section of `group` in the results file, leaving other sections alone. */
export function updateResultsFile(path: string, group: string, section: string): void {
  const start = `<!-- bench:${group}:start -->`;
  const end = `<!-- bench:${group}:end -->`;
  const block = `${start}\n${section.trimEnd()}\n${end}`;
  const text = existsSync(path) ? readFileSync(path, 'utf8') : '# npro benchmark results\n';
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  const next = a >= 0 && b > a ? `${text.slice(0, a)}${block}${text.slice(b + end.length)}` : `${text.trimEnd()}\n\n${block}\n`;
  writeFileSync(path, next);
}

/** Rows of the other network groups from their last full (non-quick) run, for the chart. */
function otherGroupsRows(resultsDir: string, group: string): NetRow[] {
  const rows: NetRow[] = [];
  for (const other of Object.keys(TITLES).filter((g) => g !== group)) {
    const file = join(resultsDir, `${other}.json`);
    if (!existsSync(file)) continue;
    try {
      const record = JSON.parse(readFileSync(file, 'utf8')) as { quick?: boolean; rows?: NetRow[] };
      if (record.quick !== true) rows.push(...(record.rows ?? []).filter((r) => typeof r.metric === 'string'));
    } catch {
      // an unreadable record is left out of the chart
    }
  }
  return rows;
}

/** Writes the section of `group` into bench/RESULTS.md and redraws bench/results/ratios.svg. */
export function writeReports(group: string, rows: readonly NetRow[], meta: ReportMeta, systems: readonly { name: string; label: string }[], root = repoRoot()): void {
  const resultsDir = join(root, 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  updateResultsFile(join(root, 'bench', 'RESULTS.md'), group, renderSection(group, rows, meta, systems));
  const m = meta.machine;
  const subtitle = `${meta.date.slice(0, 10)}, ${m.cpus} × ${m.cpuModel}, Node ${meta.node}; see bench/RESULTS.md for the figures and the command`;
  const order = Object.keys(TITLES);
  const all = [...otherGroupsRows(resultsDir, group), ...rows].sort((a, b) => order.indexOf(a.group) - order.indexOf(b.group));
  writeFileSync(join(resultsDir, 'ratios.svg'), renderRatioChart(all, subtitle));
}

/**
 * Throws unless every row has a finite, positive figure (what a `--quick` run asserts; memory
 * differences of a quick run need only be finite, see `MetricDef.difference`).
 */
export function assertComplete(group: string, rows: readonly NetRow[], quick = true): void {
  const bad = incomplete(rows, quick);
  if (rows.length === 0) throw new Error(`${group}: no figures`);
  if (bad.length > 0) throw new Error(`${group}: ${bad.length} figure(s) missing: ${bad.map((r) => `${r.name} (${r.error ?? r.value})`).join('; ')}`);
}
