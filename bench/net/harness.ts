/**
 * Process management of the network bench. The server and the client of a scenario run in two
 * child processes forked from the compiled `dist/bench/net/*-main.js` scripts; the parent only
 * sends control messages over IPC. Every child is tracked by pid and killed by pid if it does not
 * exit by itself, including when the parent exits. When many sockets are needed, the child is
 * forked through `sh -c 'ulimit -S -n N; exec node …'`, because Node cannot raise its own limit.
 */
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCertificate, createCertificateAuthority } from '../../src/utils/certs.js';
import type { ClientCommand, ClientReport, MemoryReading, ServerCommand, ServerReport, Task, TaskResult } from './ipc.js';
import type { SystemContext, TlsMaterial } from './system.js';

const here = dirname(fileURLToPath(import.meta.url));
/** Compiled child scripts: beside this file when it runs compiled, else in `dist/` (sources run by jest). */
const scriptDir = import.meta.url.endsWith('.js') ? here : join(here, '..', '..', 'dist', 'bench', 'net');

const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 5_000;

/** Children alive now, killed by pid when the parent exits. */
const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) killChild(child);
});

/** Child processes started by this harness that have not exited yet. */
export function liveChildren(): number[] {
  return [...live].map((c) => c.pid ?? -1);
}

function killChild(child: ChildProcess): void {
  if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  live.delete(child);
}

/** How a child is started. */
export interface ChildOptions {
  /** Run node with `--expose-gc` (memory readings after collection). */
  exposeGc?: boolean;
  /** Raise the soft open-file limit to this (through `sh -c ulimit`) before node starts. */
  nofile?: number;
}

/** The hard open-file limit of this process (`Infinity` when unlimited). */
export function hardFileLimit(): number {
  const out = execFileSync('sh', ['-c', 'ulimit -H -n'], { encoding: 'utf8' }).trim();
  return out === 'unlimited' ? Number.POSITIVE_INFINITY : Number(out);
}

function forkChild(script: 'server-main' | 'client-main', opts: ChildOptions): ChildProcess {
  const path = join(scriptDir, `${script}.js`);
  const flags = opts.exposeGc === true ? ['--expose-gc'] : [];
  const stdio: ['ignore', 'inherit', 'inherit', 'ipc'] = ['ignore', 'inherit', 'inherit', 'ipc'];
  const child =
    opts.nofile === undefined
      ? fork(path, [], { execArgv: flags, stdio })
      : fork(path, [], {
          execPath: '/bin/sh',
          execArgv: ['-c', `ulimit -S -n ${Math.floor(opts.nofile)} 2>/dev/null; exec "$0" "$@"`, process.execPath, ...flags],
          stdio,
        });
  live.add(child);
  child.once('exit', () => live.delete(child));
  // A send to a child that has just died emits 'error'; its exit is what the waiters report.
  child.on('error', () => undefined);
  return child;
}

/** The next message of `child` that `accept` takes, or an error when it exits or `timeoutMs` passes. */
function nextMessage<T extends { type: string }>(child: ChildProcess, timeoutMs: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const done = (): void => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    const onMessage = (m: T): void => {
      done();
      if (m.type === 'error') reject(new Error(`${what}: ${(m as unknown as { message: string }).message}`));
      else resolve(m);
    };
    const onExit = (code: number | null, signal: string | null): void => {
      done();
      reject(new Error(`${what}: child exited (${signal ?? code})`));
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`${what}: no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

/** Stops `child`: sends `stop` when given, waits for exit, then kills it by pid. */
async function endChild(child: ChildProcess, stop?: ServerCommand): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return void live.delete(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  if (stop !== undefined && child.connected) child.send(stop);
  const timer = setTimeout(() => killChild(child), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
  live.delete(child);
}

/** An echo server of one system in its own process. */
export class ServerProcess {
  private constructor(
    private readonly child: ChildProcess,
    readonly url: string,
  ) {}

  get pid(): number {
    return this.child.pid ?? -1;
  }

  static async start(system: string, ctx: SystemContext, opts: ChildOptions = {}): Promise<ServerProcess> {
    const child = forkChild('server-main', opts);
    try {
      const ready = nextMessage<ServerReport>(child, START_TIMEOUT_MS, `${system} server`);
      child.send({ type: 'start', system, ctx } satisfies ServerCommand);
      const m = await ready;
      if (m.type !== 'ready') throw new Error(`${system} server: unexpected ${m.type}`);
      return new ServerProcess(child, m.url);
    } catch (e) {
      killChild(child);
      throw e;
    }
  }

  /** RSS and heap of the server after collection, and its open connections. */
  async memory(): Promise<MemoryReading> {
    const answer = nextMessage<ServerReport>(this.child, START_TIMEOUT_MS, 'server memory');
    this.child.send({ type: 'memory' } satisfies ServerCommand);
    const m = await answer;
    if (m.type !== 'memory') throw new Error(`server memory: unexpected ${m.type}`);
    return m;
  }

  stop(): Promise<void> {
    return endChild(this.child, { type: 'stop' });
  }
}

/** What `runClient` needs besides the tasks. */
export interface ClientRun extends ChildOptions {
  system: string;
  url: string;
  ctx: SystemContext;
  /** Hard limit for the whole run; the child is killed after it. */
  timeoutMs: number;
  /** Called at each hold point of a task; the client resumes when it resolves. */
  onHold?: (stage: string, info: Record<string, number>) => Promise<void>;
}

/** Runs `tasks` in a fresh client process and returns their results. */
export async function runClient(tasks: Task[], run: ClientRun): Promise<TaskResult[]> {
  const child = forkChild('client-main', run);
  const what = `${run.system} client`;
  const deadline = Date.now() + run.timeoutMs;
  try {
    child.send({ type: 'run', system: run.system, url: run.url, ctx: run.ctx, tasks } satisfies ClientCommand);
    while (true) {
      const m = await nextMessage<ClientReport>(child, Math.max(1, deadline - Date.now()), what);
      if (m.type === 'result') return m.results;
      if (m.type === 'hold') {
        await run.onHold?.(m.stage, m.info);
        child.send({ type: 'release' } satisfies ClientCommand);
      }
    }
  } catch (e) {
    killChild(child);
    throw e;
  } finally {
    await endChild(child);
  }
}

/** A temporary directory for Unix sockets, and the TLS material shared by every process of a run. */
export async function makeContext(): Promise<{ ctx: SystemContext; dispose: () => void }> {
  const socketDir = mkdtempSync(join(tmpdir(), 'npro-bench-'));
  return { ctx: { tls: await makeTlsMaterial(), socketDir }, dispose: () => rmSync(socketDir, { recursive: true, force: true }) };
}

/** A throw-away CA and a server certificate for 127.0.0.1 / localhost (ECDSA P-256, src/utils/certs.ts). */
export async function makeTlsMaterial(): Promise<TlsMaterial> {
  const ca = await createCertificateAuthority({ commonName: 'npro bench CA', days: 2 });
  const leaf = await createCertificate({ ca, hosts: ['localhost', '127.0.0.1', '::1'], days: 2 });
  return { caPem: ca.cert, certPem: leaf.cert, keyPem: leaf.key };
}
