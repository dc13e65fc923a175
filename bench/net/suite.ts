/**
 * The two network groups. `rpc`: round trip p50/p99, requests/s with 256 in flight on 1 and 8
 * connections, pipelined 64 B messages/s, 1 MiB payloads MB/s. `connections`: new connection +
 * handshake + one request + close per second (sequential and 8 concurrent), and memory per idle
 * connection with 10,000 open (or as many as the open-file limit allows). Each system's server runs
 * in one child process; each task runs in a fresh client child process.
 */
import { formatValue, medianOf, type BenchOptions } from '../lib.js';
import { ServerProcess, hardFileLimit, makeContext, runClient } from './harness.js';
import type { Task, TaskBounds, TaskResult } from './ipc.js';
import { addRatios, makeRow, type MetricDef, type NetRow } from './metrics.js';
import { REFERENCE_SYSTEM, loadSystems } from './systems.js';
import type { System, SystemContext } from './system.js';

/** Options of a network group: the runner's options (`runs`: measured runs per figure, default 5 and 1
 * with `quick`; `systems`: only these systems, by name). */
export type NetOptions = BenchOptions;

const MiB = 1024 * 1024;
/** Connections kept open in the idle-memory scenario when the file limit allows. */
export const IDLE_TARGET = 10_000;
/** File descriptors a child needs besides its connections. */
const FD_MARGIN = 200;

export const RPC_METRICS: readonly MetricDef[] = [
  { id: 'rtt-p50', title: 'round trip p50, 64 B, 1 outstanding', unit: 'µs', better: 'lower' },
  { id: 'rtt-p99', title: 'round trip p99, 64 B, 1 outstanding', unit: 'µs', better: 'lower' },
  { id: 'inflight-1', title: 'requests/s, 64 B, 1 conn × 256 in flight', unit: 'req/s', better: 'higher' },
  { id: 'inflight-8', title: 'requests/s, 64 B, 8 conns × 256 in flight each', unit: 'req/s', better: 'higher' },
  { id: 'pipelined', title: 'pipelined 64 B messages/s, 1 conn, window 256', unit: 'msgs/s', better: 'higher' },
  { id: 'bulk', title: '1 MiB payloads, 1 conn × 2 in flight', unit: 'MB/s', better: 'higher' },
];

export const CONNECTION_METRICS: readonly MetricDef[] = [
  { id: 'connect-seq', title: 'connect + handshake + 64 B request + close, sequential', unit: 'conn/s', better: 'higher' },
  { id: 'connect-8', title: 'connect + handshake + 64 B request + close, 8 concurrent', unit: 'conn/s', better: 'higher' },
  { id: 'idle-server-rss', title: 'server RSS per idle connection', unit: 'KiB', better: 'lower', difference: true },
  { id: 'idle-client-rss', title: 'client RSS per idle connection', unit: 'KiB', better: 'lower', difference: true },
];

function bounds(opts: NetOptions, maxOps: number, quickOps: number): TaskBounds {
  return opts.quick
    ? { runs: opts.runs ?? 1, warmMs: 20, runMs: 100, maxOps: quickOps }
    : { runs: opts.runs ?? 5, warmMs: 1000, runMs: 1000, maxOps };
}

function rpcTasks(opts: NetOptions): Task[] {
  return [
    { id: 'rtt', scenario: 'rtt', size: 64, ...bounds(opts, 500_000, 200) },
    { id: 'inflight-1', scenario: 'inflight', conns: 1, window: 256, size: 64, ...bounds(opts, 50_000_000, 2_000) },
    { id: 'inflight-8', scenario: 'inflight', conns: 8, window: 256, size: 64, ...bounds(opts, 50_000_000, 4_000) },
    { id: 'pipelined', scenario: 'pipelined', window: 256, size: 64, ...bounds(opts, 100_000_000, 5_000) },
    { id: 'bulk', scenario: 'inflight', conns: 1, window: 2, size: MiB, ...bounds(opts, 100_000, 8) },
  ];
}

/** Upper bound of a task's duration, for the client's hard time limit. */
function budgetMs(task: Task): number {
  if (task.scenario === 'idle') return task.timeoutMs + 120_000;
  return task.warmMs + task.runs * task.runMs + 60_000;
}

/** Turns the results of tasks into rows of `metrics` (missing figures become failed rows). */
function collect(group: string, system: System, metrics: readonly MetricDef[], results: TaskResult[], error?: string): NetRow[] {
  const merged: Record<string, number[]> = {};
  const notes: string[] = [];
  for (const r of results) {
    Object.assign(merged, r.metrics);
    notes.push(...r.notes);
  }
  return metrics.map((def) => {
    const runs = merged[def.id];
    if (def.id === 'bulk' && runs !== undefined) return makeRow(group, system, def, runs.map((ops) => (ops * MiB) / 1e6), notes);
    return makeRow(group, system, def, runs ?? [], runs === undefined ? [] : notes, runs === undefined ? (error ?? 'no figure') : undefined);
  });
}

async function selectSystems(opts: NetOptions, forConnections: boolean): Promise<System[]> {
  const { systems, missing } = await loadSystems();
  for (const m of missing) opts.log(`net: optional systems not loaded: ${m}`);
  return systems.filter((s) => (opts.systems === undefined || opts.systems.includes(s.name)) && !(forConnections && s.sameConnectionAs !== undefined));
}

/** `id median` pairs of task results, for the progress log. */
function summarize(results: TaskResult[]): string {
  return results.flatMap((r) => Object.entries(r.metrics).map(([id, runs]) => `${id} ${formatValue(medianOf(runs))}`)).join(', ');
}

/** Runs `tasks` against one system with its own server; failures become a message, not a crash. */
async function measureSystem(system: System, ctx: SystemContext, tasks: Task[], opts: NetOptions, step: (what: string) => void): Promise<{ results: TaskResult[]; error?: string }> {
  let server: ServerProcess | undefined;
  const results: TaskResult[] = [];
  try {
    server = await ServerProcess.start(system.name, ctx);
    const batches = opts.quick ? [tasks] : tasks.map((t) => [t]);
    for (const batch of batches) {
      step(`${system.name} ${batch.map((t) => t.id).join(', ')}`);
      const timeoutMs = batch.reduce((sum, t) => sum + budgetMs(t), 0);
      const got = await runClient(batch, { system: system.name, url: server.url, ctx, timeoutMs });
      results.push(...got);
      opts.log(`  ${summarize(got)}`);
    }
    return { results };
  } catch (e) {
    const error = e instanceof Error ? e.message.split('\n')[0]! : String(e);
    opts.log(`net: ${system.name} failed: ${error}`);
    return { results, error };
  } finally {
    await server?.stop();
  }
}

/** The `rpc` group. */
export async function runRpc(opts: NetOptions): Promise<NetRow[]> {
  const systems = await selectSystems(opts, false);
  const { ctx, dispose } = await makeContext();
  const rows: NetRow[] = [];
  try {
    const tasks = rpcTasks(opts);
    const total = systems.length * (opts.quick ? 1 : tasks.length);
    let n = 0;
    for (const system of systems) {
      const { results, error } = await measureSystem(system, ctx, tasks, opts, (what) => opts.log(`rpc [${++n}/${total}] ${what}`));
      rows.push(...collect('rpc', system, RPC_METRICS, results, error));
    }
  } finally {
    dispose();
  }
  addRatios(rows, REFERENCE_SYSTEM);
  return rows;
}

/** How many idle connections fit under the hard open-file limit, and a note when fewer than wanted. */
export function idleCount(quick: boolean): { count: number; nofile: number; note?: string } {
  const hard = hardFileLimit();
  const wanted = quick ? 400 : IDLE_TARGET;
  const count = Math.max(1, Math.min(wanted, hard - FD_MARGIN));
  const nofile = Math.min(hard, count + FD_MARGIN);
  if (count < wanted) return { count, nofile, note: `only ${count} connections: ulimit -Hn is ${hard}` };
  return { count, nofile };
}

/** One idle-memory run: a fresh server and client, server memory read before and after. */
async function idleRun(system: System, ctx: SystemContext, count: number, nofile: number, quick: boolean): Promise<TaskResult> {
  const server = await ServerProcess.start(system.name, ctx, { exposeGc: true, nofile });
  try {
    let base = 0;
    let serverRss = Number.NaN;
    let serverHeap = Number.NaN;
    let baseHeap = 0;
    const task: Task = { id: 'idle', scenario: 'idle', count, parallel: quick ? 20 : 200, timeoutMs: quick ? 20_000 : 180_000, size: 64 };
    const [result] = await runClient([task], {
      system: system.name,
      url: server.url,
      ctx,
      exposeGc: true,
      nofile,
      timeoutMs: budgetMs(task),
      onHold: async (stage, info) => {
        if (stage === 'base') {
          const m = await server.memory();
          base = m.rss;
          baseHeap = m.heapUsed;
          return;
        }
        const opened = info['opened'] ?? 0;
        if (quick && opened < count) throw new Error(`only ${opened} of ${count} idle connections opened`);
        let m = await server.memory();
        // Wait (bounded) until the server has accepted every connection the client holds.
        for (let i = 0; i < 100 && m.connections !== null && m.connections < opened; i++) {
          await new Promise((resolve) => setTimeout(resolve, 100));
          m = await server.memory();
        }
        if (m.connections === null) {
          await new Promise((resolve) => setTimeout(resolve, 1000));
          m = await server.memory();
        }
        serverRss = opened > 0 ? (m.rss - base) / opened / 1024 : Number.NaN;
        serverHeap = opened > 0 ? (m.heapUsed - baseHeap) / opened / 1024 : Number.NaN;
      },
    });
    return { metrics: { ...result!.metrics, 'idle-server-rss': [serverRss], 'idle-server-heap': [serverHeap] }, notes: result!.notes };
  } finally {
    await server.stop();
  }
}

/** The `connections` group. */
export async function runConnections(opts: NetOptions): Promise<NetRow[]> {
  const systems = await selectSystems(opts, true);
  const { ctx, dispose } = await makeContext();
  const rows: NetRow[] = [];
  const idle = idleCount(opts.quick);
  if (idle.note !== undefined) opts.log(`connections: ${idle.note}`);
  const runs = opts.runs ?? (opts.quick ? 1 : 5);
  try {
    const tasks: Task[] = [
      { id: 'connect-seq', scenario: 'connect', workers: 1, size: 64, ...bounds(opts, 50_000, 20) },
      { id: 'connect-8', scenario: 'connect', workers: 8, size: 64, ...bounds(opts, 100_000, 40) },
    ];
    const total = systems.length * ((opts.quick ? 1 : tasks.length) + runs);
    let n = 0;
    const step = (what: string): void => opts.log(`connections [${++n}/${total}] ${what}`);
    for (const system of systems) {
      const { results, error } = await measureSystem(system, ctx, tasks, opts, step);
      const idleRuns: Record<string, number[]> = {};
      const idleNotes = new Set<string>();
      let idleError = error;
      for (let r = 0; r < runs && idleError === undefined; r++) {
        step(`${system.name} idle ${idle.count} connections, run ${r + 1}/${runs}`);
        try {
          const got = await idleRun(system, ctx, idle.count, idle.nofile, opts.quick);
          for (const [k, v] of Object.entries(got.metrics)) (idleRuns[k] ??= []).push(...v);
          for (const note of got.notes) idleNotes.add(note);
          opts.log(`  ${summarize([got])}`);
        } catch (e) {
          idleError = e instanceof Error ? e.message.split('\n')[0]! : String(e);
          opts.log(`connections: ${system.name} idle failed: ${idleError}`);
        }
      }
      const median = (k: string): string => (idleRuns[k]?.length ? formatValue(medianOf(idleRuns[k])) : '?');
      if (idleRuns['idle-opened'] !== undefined) {
        idleNotes.add(`${formatValue(Math.min(...idleRuns['idle-opened']))} connections open (fewest in a run), opened in ${median('idle-connect-ms')} ms; JS heap per connection ${median('idle-server-heap')} KiB server, ${median('idle-client-heap')} KiB client`);
        if (idle.note !== undefined) idleNotes.add(idle.note);
      }
      const isIdle = (d: MetricDef): boolean => d.id.startsWith('idle-');
      rows.push(...collect('connections', system, CONNECTION_METRICS.filter((d) => !isIdle(d)), results, error));
      for (const def of CONNECTION_METRICS.filter(isIdle)) {
        const runs = idleRuns[def.id];
        rows.push(makeRow('connections', system, def, runs ?? [], runs === undefined ? [] : [...idleNotes], runs === undefined ? (idleError ?? 'no figure') : undefined));
      }
    }
  } finally {
    dispose();
  }
  addRatios(rows, REFERENCE_SYSTEM);
  return rows;
}
