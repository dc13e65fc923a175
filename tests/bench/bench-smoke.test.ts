/**
 * Smoke test of the network bench: the `--quick` mode of the `rpc` and `connections` groups must
 * complete with a finite, positive figure for every system and scenario (never a speed check), the
 * reports must render, and `npm run perf`'s script must finish its exchanges. The bench forks its
 * servers and clients from the compiled files, so the suite builds once (`tsc -p
 * tsconfig.build.json`) before it starts.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run as runConnections } from '../../bench/connections.js';
import { liveChildren } from '../../bench/net/harness.js';
import { incomplete, type NetRow } from '../../bench/net/metrics.js';
import { CONNECTION_METRICS, RPC_METRICS } from '../../bench/net/suite.js';
import { BUILTIN_SYSTEMS } from '../../bench/net/systems.js';
import { run as runRpc } from '../../bench/rpc.js';
import { collectMeta, renderSection, updateResultsFile, writeReports } from '../../bench/report.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const log: string[] = [];
const opts = { quick: true, log: (line: string) => void log.push(line) };

beforeAll(() => {
  const started = Date.now();
  try {
    execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'pipe' });
  } catch {
    // Type errors elsewhere in the tree still emit JavaScript; the freshness check below decides.
  }
  for (const script of ['server-main', 'client-main', 'harness']) {
    expect(statSync(join(root, 'dist', 'bench', 'net', `${script}.js`)).mtimeMs).toBeGreaterThanOrEqual(started - 1000);
  }
}, 180_000);

function expectComplete(rows: NetRow[], metrics: readonly { id: string }[], systems: string[]): void {
  expect(incomplete(rows, true)).toEqual([]);
  for (const system of systems) {
    for (const m of metrics) expect(rows.filter((r) => r.system === system && r.metric === m.id)).toHaveLength(1);
  }
  for (const r of rows) {
    expect(Number.isFinite(r.value)).toBe(true);
    // Memory differences of a few hundred connections may be 0 or below; they have no ratio then.
    if (r.difference === true && r.value <= 0) continue;
    expect(r.value).toBeGreaterThan(0);
    expect(r.vsBestPeer).toBeGreaterThan(0);
    if (r.system === 'tcp') expect(r.vsTcp).toBe(1);
    else if (rows.some((t) => t.system === 'tcp' && t.metric === r.metric && t.value > 0)) expect(r.vsTcp).toBeGreaterThan(0);
  }
}

describe('bench --quick', () => {
  let rpcRows: NetRow[] = [];

  it('rpc: every system completes every scenario', async () => {
    rpcRows = (await runRpc(opts)) as NetRow[];
    expectComplete(rpcRows, RPC_METRICS, BUILTIN_SYSTEMS.map((s) => s.name));
    expect(log.some((l) => l.startsWith('rpc [1/'))).toBe(true);
    expect(liveChildren()).toEqual([]);
  }, 240_000);

  it('connections: handshake rates and idle memory for each distinct connection type', async () => {
    const rows = (await runConnections(opts)) as NetRow[];
    const systems = BUILTIN_SYSTEMS.filter((s) => s.sameConnectionAs === undefined).map((s) => s.name);
    expectComplete(rows, CONNECTION_METRICS, systems);
    expect(rows.some((r) => r.system === 'grpc-stream')).toBe(false);
    expect(liveChildren()).toEqual([]);
  }, 240_000);

  it('renders the RESULTS.md section and the ratio chart, keeping other sections', () => {
    const dir = mkdtempSync(join(tmpdir(), 'npro-bench-report-'));
    try {
      const results = join(dir, 'bench', 'RESULTS.md');
      execFileSync('mkdir', ['-p', join(dir, 'bench')]);
      writeFileSync(results, '# results\n\n## codec\n\nkept\n');
      const meta = collectMeta([0, 0, 0]);
      writeReports('rpc', rpcRows, meta, BUILTIN_SYSTEMS, dir);
      updateResultsFile(results, 'rpc', renderSection('rpc', rpcRows, meta, BUILTIN_SYSTEMS));
      const text = readFileSync(results, 'utf8');
      expect(text).toContain('## codec\n\nkept');
      expect(text.split('<!-- bench:rpc:start -->')).toHaveLength(2);
      expect(text).toContain(`Node ${process.version}`);
      expect(text).toMatch(/\| round trip p50, 64 B, 1 outstanding \| tcp \| [\d.,]+ \| µs \|/);
      const svg = readFileSync(join(dir, 'bench', 'results', 'ratios.svg'), 'utf8');
      expect(svg.startsWith('<svg')).toBe(true);
      for (const s of BUILTIN_SYSTEMS) expect(svg).toContain(`>${s.name}</text>`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('perf: reports the round-trip average and throughput with successes and attempts', async () => {
    const { stdout } = await new Promise<{ stdout: string }>((resolve, reject) =>
      execFile(process.execPath, [join(root, 'dist', 'bench', 'perf.js'), '--exchanges', '30', '--messages', '500', '--system', 'tcp'], { timeout: 60_000 }, (err, out) =>
        err ? reject(err) : resolve({ stdout: out }),
      ),
    );
    expect(stdout).toMatch(/round trip: average [\d.,]+ µs over 30 successful exchanges of 30/);
    expect(stdout).toMatch(/throughput: [\d.,]+ messages\/s \(500 successes of 500 attempts/);
  }, 90_000);
});
