/**
 * Bench group `pool` (`npm run bench -- pool`): requests/s through a `ConnectionPool` of 8
 * connections to one endpoint of `npro daemon --workers 1` and of `npro daemon --workers 2`, 64 B
 * `ECHO` requests with 256 in flight over the pool, in one run. A second pair has the daemon, not
 * the client, bound the load: a `WORK` command whose handler spends about 100 µs of CPU (50 rounds
 * of SHA-256) before echoing, served by `startWorkers()` with 1 and 2 workers and this module as
 * `dispatcherModule` (`node dist/bench/pool.js daemon N`).
 *
 * Processes: each daemon runs in a temporary directory; the client is this file compiled, forked
 * from dist/bench/ (`pool.js client`), holding a pool per daemon. The daemons run
 * side by side and the client alternates between the cases run by run, reversing the order every
 * round (A B C …, … C B A), so that a change in the machine's other load falls on every case alike.
 * For each run the parent reads the CPU time the daemon's processes (primary and workers, from
 * /proc) and the client used, to show which side bounds it. Before and after, it measures how much
 * CPU the machine gives one and two busy processes (`pool.js spin`): on a shared machine that, not
 * the core count, is the ceiling of what a second worker can add. Every loop stops at its time or
 * at `MAX_OPS`; every process is killed by pid if it outlives the bench.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Dispatcher } from '../src/protocol/dispatcher.js';
import { ConnectionPool } from '../src/service/pool.js';
import { startWorkers } from '../src/service/workers.js';
import { generateKeyPair } from '../src/utils/keys.js';
import { silentLogger } from '../src/utils/logger.js';
import { medianOf, type BenchOptions, type BenchRow } from './lib.js';

const here = fileURLToPath(import.meta.url);
const CONNECTIONS = 8;
const IN_FLIGHT = 256;
const SIZE = 64;
const MAX_OPS = 5_000_000;
const WORK_ROUNDS = 50;
const START_TIMEOUT_MS = 30_000;

/** One measured case: which daemon (`npro daemon` with ECHO, or startWorkers with WORK) and how many workers. */
interface Case {
  daemon: 'cli' | 'work';
  workers: number;
}
const CASES: readonly Case[] = [
  { daemon: 'cli', workers: 1 },
  { daemon: 'cli', workers: 2 },
  { daemon: 'work', workers: 1 },
  { daemon: 'work', workers: 2 },
];
const keyOf = (c: Case): string => `${c.daemon}-${c.workers}`;

interface Target {
  daemon: Case['daemon'];
  workers: number;
  url: string;
  publicKey: string;
}
/** Parent → client. */
type ToClient = { type: 'run'; targets: Target[]; warmMs: number; runMs: number; runs: number } | { type: 'go' };
/** Client → parent. */
type FromClient =
  | ({ type: 'begin' } & Case)
  | ({ type: 'end'; ops: number; ms: number; cpuMs: number } & Case)
  | { type: 'done' }
  | { type: 'error'; message: string };

/** The `WORK` handler of the daemons started by `startWorkers()` (this module is their `dispatcherModule`). */
export function createDispatcher(): Dispatcher {
  return new Dispatcher().register('WORK', (payload) => {
    let h: Uint8Array = payload;
    for (let i = 0; i < WORK_ROUNDS; i++) h = createHash('sha256').update(h).digest();
    return payload;
  });
}

/** Processes started here, killed by pid if still alive when this process exits. */
const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

// ── the daemons ─────────────────────────────────────────────────────────────────────────────────

interface RunningDaemon {
  child: ChildProcess;
  target: Target;
  /** The primary and its workers. */
  pids: number[];
}

function repoRoot(): string {
  let dir = dirname(here);
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
}

/** `npro daemon --workers N` (ECHO), or this file's `daemon N` mode (WORK); both print the same lines. */
async function startDaemon(kind: Case['daemon'], workers: number, cwd: string): Promise<RunningDaemon> {
  mkdirSync(cwd);
  const args =
    kind === 'cli'
      ? [join(repoRoot(), 'bin', 'npro.js'), 'daemon', '--workers', String(workers), '--listen', 'tcp://127.0.0.1:0']
      : [here, 'daemon', String(workers)];
  const env = { ...process.env, NETWORK_PROTOCOL_LOGGING_JSON_FORMAT: 'true', NETWORK_PROTOCOL_LOGGING_LOG_LEVEL: 'info', NO_COLOR: '1' };
  const child = spawn(process.execPath, args, { cwd, env, stdio: ['ignore', 'pipe', 'inherit'] });
  live.add(child);
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => void (out += chunk.toString()));
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (!/^public key: /m.test(out)) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`${args.slice(1).join(' ')} did not start:\n${out}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const url = /^npro daemon listening on (\S+)$/m.exec(out)![1]!;
  const publicKey = /^public key: (\S+)$/m.exec(out)![1]!;
  // The primary's "worker N listening" lines; a single-process daemon has none (the primary serves).
  const workerPids = [...out.matchAll(/"workerPid":(\d+)/g)].map((m) => Number(m[1]));
  return { child, target: { daemon: kind, workers, url, publicKey }, pids: [child.pid!, ...new Set(workerPids)] };
}

async function stopDaemon(d: RunningDaemon): Promise<void> {
  if (d.child.exitCode !== null) return;
  const exited = new Promise((resolve) => d.child.once('exit', resolve));
  d.child.kill('SIGTERM');
  const timer = setTimeout(() => d.child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** The `daemon N` mode: `startWorkers()` with the `WORK` handler, stopped by SIGTERM. */
async function workDaemonMain(workers: number): Promise<void> {
  const group = await startWorkers({ workers, listen: ['tcp://127.0.0.1:0'], dispatcherModule: here, staticSecret: generateKeyPair().secretKey, config: { logging: { json_format: true } } });
  process.stdout.write(`npro daemon listening on ${group.addresses[0]!}\npublic key: ${group.publicKey}\n`);
  process.once('SIGTERM', () => void group.shutdown({ timeoutMs: 1000 }));
  await group.closed;
}

/** CPU time (user + system) of `pids` in ms, from /proc (0 where it cannot be read). */
function cpuMsOf(pids: readonly number[]): number {
  const msPerTick = 10; // USER_HZ = 100 on Linux
  let total = 0;
  for (const pid of pids) {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      total += (Number(fields[11]) + Number(fields[12])) * msPerTick;
    } catch {
      // Not Linux, or gone.
    }
  }
  return total;
}

/** Cores used, together, by `procs` processes that spin for `ms` (`pool.js spin MS`). */
async function capacity(procs: number, ms: number): Promise<number> {
  const used = await Promise.all(
    Array.from({ length: procs }, () => {
      const child = fork(here, ['spin', String(ms)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      live.add(child);
      return new Promise<number>((resolve, reject) => {
        child.once('message', (m: { cores: number }) => resolve(m.cores));
        child.once('exit', (code) => reject(new Error(`spin child exited (${code})`)));
      });
    }),
  );
  return used.reduce((a, b) => a + b, 0);
}

/** The `spin MS` mode: a busy loop, reporting the cores it got. */
function spinMain(ms: number): void {
  const cpu = process.cpuUsage();
  const start = performance.now();
  let x = 0;
  while (performance.now() - start < ms) for (let i = 0; i < 10_000; i++) x = (x + i) % 7919;
  const used = process.cpuUsage(cpu);
  process.send!({ cores: (used.user + used.system) / 1000 / (performance.now() - start), x }, undefined, {}, () => process.exit(0));
}

// ── the bench module ────────────────────────────────────────────────────────────────────────────

interface RunFigure {
  rate: number;
  clientCores: number;
  serverCores: number;
}

export async function run(opts: BenchOptions): Promise<BenchRow[]> {
  const runs = opts.runs ?? (opts.quick ? 1 : 5);
  const runMs = opts.quick ? 300 : 2000;
  const warmMs = opts.quick ? 100 : 1000;
  const load = loadavg().map((l) => l.toFixed(2)).join(' / ');
  const cwd = mkdtempSync(join(tmpdir(), 'npro-bench-pool-'));
  const daemons = new Map<string, RunningDaemon>();
  const figures = new Map<string, RunFigure[]>(CASES.map((c) => [keyOf(c), []]));
  const spinMs = opts.quick ? 200 : 1000;
  const capacityRow = async (when: string): Promise<BenchRow> => {
    const one = await capacity(1, spinMs);
    const two = await capacity(2, spinMs);
    opts.log(`pool: cores given to busy processes ${when}: 1 → ${one.toFixed(2)}, 2 → ${two.toFixed(2)}`);
    return { group: 'pool', name: `CPU cores the machine gave 2 busy processes at once, ${when}`, value: two, unit: 'cores', note: `1 busy process alone: ${one.toFixed(2)}` };
  };
  const capacityRows = [await capacityRow('before the runs')];
  try {
    for (const c of CASES) {
      daemons.set(keyOf(c), await startDaemon(c.daemon, c.workers, join(cwd, keyOf(c))));
    }
    opts.log(`pool: daemons up (${[...daemons].map(([k, d]) => `${k}: pids ${d.pids.join(', ')}`).join('; ')})`);
    const client = fork(here, ['client'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    live.add(client);
    let before = { server: 0, at: 0 };
    const done = new Promise<void>((resolve, reject) => {
      client.on('message', (m: FromClient) => {
        if (m.type === 'begin') {
          before = { server: cpuMsOf(daemons.get(keyOf(m))!.pids), at: performance.now() };
          client.send({ type: 'go' } satisfies ToClient);
        } else if (m.type === 'end') {
          const wall = performance.now() - before.at;
          const served = (cpuMsOf(daemons.get(keyOf(m))!.pids) - before.server) / wall;
          const fig = { rate: m.ops / (m.ms / 1000), clientCores: m.cpuMs / m.ms, serverCores: served };
          figures.get(keyOf(m))!.push(fig);
          opts.log(`pool: ${keyOf(m)}: ${Math.round(fig.rate)} req/s (client ${fig.clientCores.toFixed(2)} cores, daemon ${fig.serverCores.toFixed(2)} cores)`);
        } else if (m.type === 'done') resolve();
        else reject(new Error(`pool client: ${m.message}`));
      });
      client.once('exit', (code) => reject(new Error(`pool client exited (${code})`)));
    });
    client.send({ type: 'run', targets: [...daemons.values()].map((d) => d.target), warmMs, runMs, runs } satisfies ToClient);
    const timer = setTimeout(() => client.kill('SIGKILL'), START_TIMEOUT_MS + (runs + 1) * CASES.length * (runMs + warmMs) * 3);
    try {
      await done;
    } finally {
      clearTimeout(timer);
    }
    capacityRows.push(await capacityRow('after the runs'));
  } finally {
    await Promise.all([...daemons.values()].map(stopDaemon));
    rmSync(cwd, { recursive: true, force: true });
  }
  const method = `${runs} runs of ${runMs} ms each after ${warmMs} ms warm-up; load average at start ${load}`;
  return [...rows(figures, method), ...capacityRows];
}

function rows(figures: Map<string, RunFigure[]>, method: string): BenchRow[] {
  const out: BenchRow[] = [];
  const medians = new Map<string, number>();
  for (const c of CASES) {
    const list = figures.get(keyOf(c))!;
    const rates = list.map((f) => f.rate);
    const median = medianOf(rates);
    medians.set(keyOf(c), median);
    const what = c.daemon === 'cli' ? 'ECHO 64 B → npro daemon' : 'WORK (~100 µs handler) 64 B → startWorkers,';
    out.push({
      group: 'pool',
      name: `requests/s, ${what} --workers ${c.workers}, pool of ${CONNECTIONS} conns × ${IN_FLIGHT} in flight`,
      value: median,
      unit: 'req/s',
      spread: median === 0 ? 0 : (Math.max(...rates) - Math.min(...rates)) / median,
      note: `CPU cores used: client ${medianOf(list.map((f) => f.clientCores)).toFixed(2)}, daemon ${medianOf(list.map((f) => f.serverCores)).toFixed(2)}`,
    });
  }
  for (const daemon of ['cli', 'work'] as const) {
    const one = medians.get(keyOf({ daemon, workers: 1 })) ?? 0;
    const two = medians.get(keyOf({ daemon, workers: 2 })) ?? 0;
    out.push({ group: 'pool', name: `${daemon === 'cli' ? 'ECHO' : 'WORK'}: 2 workers / 1 worker`, value: one === 0 ? 0 : two / one, unit: '×', note: method });
  }
  return out;
}

// ── the client process ──────────────────────────────────────────────────────────────────────────

function toParent(m: FromClient): Promise<void> {
  return new Promise((resolve) => process.send!(m, undefined, {}, () => resolve()));
}

let go: (() => void) | null = null;

/** Keeps `IN_FLIGHT` requests going through `send` for `ms`; returns the replies and the time taken. */
async function load(send: (payload: Uint8Array) => Promise<Uint8Array>, ms: number): Promise<{ ops: number; ms: number }> {
  const payload = new Uint8Array(SIZE).fill(0x61);
  const start = performance.now();
  const deadline = start + ms;
  let sent = 0;
  let ops = 0;
  const loop = async (): Promise<void> => {
    while (performance.now() < deadline && sent < MAX_OPS) {
      sent++;
      await send(payload);
      ops++;
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, loop));
  return { ops, ms: performance.now() - start };
}

type Send = (payload: Uint8Array) => Promise<Uint8Array>;

async function clientMain(m: Extract<ToClient, { type: 'run' }>): Promise<void> {
  const senders = new Map<string, Send>();
  const closers: Array<() => Promise<void>> = [];
  for (const t of m.targets) {
    const command = t.daemon === 'cli' ? 'ECHO' : 'WORK';
    const options = { serverPublicKey: t.publicKey, logger: silentLogger() };
    const pool = await ConnectionPool.create({
      endpoints: [t.url],
      config: { pool: { min_size: CONNECTIONS, max_size: CONNECTIONS } },
      clientOptions: options,
      logger: silentLogger(),
    });
    closers.push(() => pool.close({ timeoutMs: 1000 }));
    if (pool.stats().totals.open !== CONNECTIONS) throw new Error(`pool to ${t.url}: ${pool.stats().totals.open} connections open`);
    senders.set(keyOf(t), (p) => pool.request(command, p));
  }
  for (const c of CASES) await load(senders.get(keyOf(c))!, m.warmMs);
  for (let r = 0; r < m.runs; r++) {
    for (const c of r % 2 === 0 ? CASES : [...CASES].reverse()) {
      await new Promise<void>((resolve) => {
        go = resolve;
        void toParent({ type: 'begin', ...c });
      });
      const cpu = process.cpuUsage();
      const result = await load(senders.get(keyOf(c))!, m.runMs);
      const used = process.cpuUsage(cpu);
      void toParent({ type: 'end', ...c, ...result, cpuMs: (used.user + used.system) / 1000 });
    }
  }
  await Promise.all(closers.map((close) => close()));
  await toParent({ type: 'done' });
}

async function fail(err: unknown): Promise<never> {
  const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
  if (process.send !== undefined) await toParent({ type: 'error', message });
  else process.stderr.write(`${message}\n`);
  process.exit(1);
}

if (process.argv[1] === here && process.argv[2] === 'client' && process.send !== undefined) {
  process.on('message', (m: ToClient) => {
    if (m.type === 'go') go?.();
    else clientMain(m).then(() => process.exit(0), fail);
  });
  process.on('disconnect', () => process.exit(0));
} else if (process.argv[1] === here && process.argv[2] === 'spin' && process.send !== undefined) {
  spinMain(Number(process.argv[3]));
} else if (process.argv[1] === here && process.argv[2] === 'daemon') {
  workDaemonMain(Number(process.argv[3])).then(() => process.exit(0), fail);
}
