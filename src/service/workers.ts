/**
 * One daemon per core behind one address (`npro daemon --workers N`, behaviour.md §2): a primary
 * process supervises N worker processes made with `node:cluster`, each running a `Daemon`
 * with the same configuration, static key and dispatcher, so any worker gives the same answer.
 *
 * ```ts
 * const group = await startWorkers({ workers: 4, listen: ['tcp://0.0.0.0:9000'], dispatcherModule: './handlers.js' });
 * group.addresses; group.publicKey;       // as Daemon's
 * await group.shutdown();                 // every worker drains (server.shutdown_timeout), then exits
 * ```
 *
 * - Connections: cluster's round-robin scheduling (`SCHED_RR`). A worker's transport calls
 *   `listen()` as usual and cluster makes it a share of one socket bound by the primary, which
 *   accepts and hands each connection to the next worker over its IPC channel (TCP, Unix sockets,
 *   TLS: the TLS handshake runs in the worker, session-ticket keys shared by cluster). Chosen over
 *   workers accepting from one shared socket (`SCHED_NONE`), which on Linux leaves most connections
 *   to a few workers, and over `worker.send(msg, socket)` by hand, the same mechanism without the
 *   bookkeeping: npro connections are long-lived, so one IPC message per connection costs little
 *   and an even spread is what counts.
 * - Unix socket paths: the primary removes a stale socket file once, before forking; it binds the
 *   path when the first worker listens (src/transport/unix.ts, step 4) and removes it when the last
 *   one stops.
 * - The static key is read or created (0600) by the primary once and sent to each worker over its
 *   IPC channel, never in arguments or the environment (other local users can read a command line).
 *   A worker started again later gets the key the primary printed, even if the file changed. The
 *   configuration is resolved once and sent likewise.
 * - Dispatcher: the built-in one (`PING`, `ECHO`), or the `createDispatcher()` export of
 *   `dispatcherModule`, imported by each worker. Hooks and loggers cannot cross processes: each
 *   worker logs as `[logging]` says on its own standard output, with `worker: N` on every line.
 * - A worker that exits unasked is started again after a backoff (100 ms, doubled for each restart
 *   of that worker within the last minute, at most 5 s), logged. More than `maxRestartsPerMinute`
 *   restarts (default 10) within 60 s is a crash loop: the group stops and `closed` gives the error.
 * - `shutdown()` asks every worker to drain and kills, by pid, any still alive
 *   {@link FORCE_MARGIN_MS} after the deadline. A worker ignores SIGINT (a terminal sends it to the
 *   whole process group; the primary decides) and drains on a SIGTERM of its own (then is restarted).
 * - Workers run worker-process.js (compiled; from the TypeScript sources, as in tests, the one in
 *   dist/). Library code installs no signal handlers in the primary.
 */
import cluster, { type Worker } from 'node:cluster';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { NproError, isErrorCode } from '../core/errors.js';
import { formatEndpoint } from '../transport/index.js';
import { clearStale } from '../transport/unix.js';
import type { NetworkConfig, NetworkConfigInput } from '../utils/config/index.js';
import { defaultCrypto } from '../utils/crypto/index.js';
import { encodePublicKey, loadOrCreateKeyFile } from '../utils/keys.js';
import { createLogger, type Logger } from '../utils/logger.js';
import { TypedEmitter } from './events.js';
import { endpointOf, resolveConfig, type TlsMaterial } from './options.js';
import type { FromWorker, ListeningMessage, StartMessage, ToWorker } from './worker-process.js';

/** Most workers one group runs (a bound against a mistyped count forking without end). */
export const MAX_WORKERS = 256;
/** Time after a shutdown deadline before workers still alive are killed. */
export const FORCE_MARGIN_MS = 5000;
const RESTART_WINDOW_MS = 60_000;
const RESTART_BASE_MS = 100;
const RESTART_MAX_MS = 5000;
const DEFAULT_MAX_RESTARTS = 10;

export interface WorkersOptions {
  /** Worker processes (≥ 1). */
  workers: number;
  config?: NetworkConfigInput | NetworkConfig;
  /** Endpoint URLs every worker serves (default `[server.address]`). */
  listen?: readonly string[];
  /** A module (path or URL) exporting `createDispatcher(): Dispatcher | Promise<Dispatcher>`. */
  dispatcherModule?: string;
  /** The static secret key (32 bytes); else `security.key_file`, created with mode 0600 if absent. */
  staticSecret?: Uint8Array;
  tls?: TlsMaterial;
  /** The primary's log (default: made from `[logging]`, closed when the group stops). */
  logger?: Logger;
  /** Restarts within a minute, all workers together, before the group gives up (default 10). */
  maxRestartsPerMinute?: number;
}

export interface WorkerGroupEvents {
  'worker-listening': { id: number; pid: number; restart: boolean };
  /** A worker exited; `restartInMs` is null when it is not started again. */
  'worker-exit': { id: number; pid: number; code: number | null; signal: string | null; restartInMs: number | null };
}

const here = fileURLToPath(import.meta.url);

/** The compiled worker entry (worker-process.js beside this file, or in dist/ when running from sources), if present. */
export function workerScript(): string | null {
  if (here.endsWith('.js')) return join(dirname(here), 'worker-process.js');
  const built = join(dirname(here), '..', '..', 'dist', 'src', 'service', 'worker-process.js');
  return existsSync(built) ? built : null;
}

/** `--workers` default: the cores available, or 1 when there is no compiled program to fork. */
export function defaultWorkerCount(): number {
  return here.endsWith('.js') ? Math.min(availableParallelism(), MAX_WORKERS) : 1;
}

interface Slot {
  id: number;
  worker: Worker | null;
  /** Times of this slot's restarts within the window. */
  restarts: number[];
  timer: NodeJS.Timeout | null;
}

export class WorkerGroup extends TypedEmitter<WorkerGroupEvents> {
  /** The bound endpoint URLs (the real ports), as every worker reports them. */
  readonly addresses: string[] = [];
  readonly publicKey: string;
  /** Resolves once every worker has exited: with null after `shutdown()`, or the crash-loop error. */
  readonly closed: Promise<NproError | null>;
  readonly #slots: Slot[];
  readonly #start: StartMessage;
  readonly #log: Logger;
  readonly #ownLogger: Logger | null;
  readonly #maxRestarts: number;
  readonly #restarts: number[] = [];
  #stopping: Promise<void> | null = null;
  #error: NproError | null = null;
  #forceTimer: NodeJS.Timeout | null = null;
  #deadline = Infinity;
  #resolveClosed!: (error: NproError | null) => void;

  private constructor(start: StartMessage, count: number, log: Logger, ownLogger: Logger | null, maxRestarts: number) {
    super();
    this.#start = start;
    this.publicKey = encodePublicKey(defaultCrypto.x25519PublicKey(start.secret));
    this.#slots = Array.from({ length: count }, (_, i) => ({ id: i + 1, worker: null, restarts: [], timer: null }));
    this.#log = log;
    this.#ownLogger = ownLogger;
    this.#maxRestarts = maxRestarts;
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
  }

  /** Checks the options, forks every worker and resolves once all listen (or rejects with the first failure). */
  static async start(options: WorkersOptions): Promise<WorkerGroup> {
    const count = options.workers;
    if (!Number.isSafeInteger(count) || count < 1 || count > MAX_WORKERS) {
      throw new NproError('INVALID_ARGUMENT', `workers must be an integer from 1 to ${MAX_WORKERS}, got ${count}`);
    }
    if (!cluster.isPrimary) throw new NproError('INVALID_STATE', 'startWorkers() runs in a primary process, not in a cluster worker');
    const script = workerScript();
    if (script === null) throw new NproError('INVALID_STATE', 'the compiled worker (dist/src/service/worker-process.js) is missing; run "npm run build"');
    const config = resolveConfig(options.config);
    const listen = [...(options.listen ?? [config.server.address])];
    const field = options.listen === undefined ? 'server.address' : 'listen';
    // A stale Unix socket file is removed here, once: a worker's bind is shared, not probed.
    for (const text of listen) {
      const e = endpointOf(text, field);
      if (e.transport === 'unix' && !e.abstract) await clearStale(e.path, formatEndpoint(e));
    }
    const secret = options.staticSecret ?? (await loadOrCreateKeyFile(config.security.key_file)).secretKey;
    const ownLogger = options.logger === undefined ? createLogger(config.logging) : null;
    const log = (options.logger ?? ownLogger!).child({ component: 'workers' });
    const start: StartMessage = { type: 'npro:start', id: 0, config, listen, secret };
    if (options.tls !== undefined) start.tls = options.tls;
    if (options.dispatcherModule !== undefined) start.dispatcherModule = moduleUrl(options.dispatcherModule);
    cluster.schedulingPolicy = cluster.SCHED_RR;
    // 'advanced' serialization carries the key as bytes.
    cluster.setupPrimary({ exec: script, args: [], serialization: 'advanced' });
    const group = new WorkerGroup(start, count, log, ownLogger, options.maxRestartsPerMinute ?? DEFAULT_MAX_RESTARTS);
    await group.#startAll();
    return group;
  }

  /** The pids of the workers alive now. */
  get pids(): number[] {
    return this.#slots.flatMap((s) => (s.worker?.process.pid === undefined || isDead(s.worker) ? [] : [s.worker.process.pid]));
  }

  /**
   * Asks every worker to drain (`Daemon.shutdown` with `timeoutMs`, default `server.shutdown_timeout`;
   * 0 = close now) and resolves once all have exited; workers alive {@link FORCE_MARGIN_MS} after the
   * deadline are killed. A second call with an earlier deadline brings it forward.
   */
  shutdown(options: { timeoutMs?: number } = {}): Promise<void> {
    const timeoutMs = Math.max(0, options.timeoutMs ?? this.#start.config.server.shutdown_timeout);
    if (Date.now() + timeoutMs >= this.#deadline) return this.#stopping!;
    this.#deadline = Date.now() + timeoutMs;
    if (this.#stopping === null) this.#log.info({ timeoutMs }, `stopping ${this.pids.length} workers`);
    for (const slot of this.#slots) {
      if (slot.timer !== null) clearTimeout(slot.timer);
      slot.timer = null;
      if (slot.worker !== null && !isDead(slot.worker)) send(slot.worker, { type: 'npro:stop', timeoutMs });
    }
    if (this.#forceTimer !== null) clearTimeout(this.#forceTimer);
    this.#forceTimer = setTimeout(() => this.#killAll(), timeoutMs + FORCE_MARGIN_MS);
    this.#forceTimer.unref();
    if (this.#stopping === null) {
      this.#stopping = this.closed.then(() => undefined);
      this.#checkStopped();
    }
    return this.#stopping;
  }

  async #startAll(): Promise<void> {
    const started = this.#slots.map((slot) => this.#fork(slot, false));
    const results = await Promise.allSettled(started);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) {
      this.#error = failed.reason as NproError;
      await this.shutdown({ timeoutMs: 0 });
      throw failed.reason;
    }
    const reports = results.map((r) => (r as PromiseFulfilledResult<ListeningMessage>).value);
    this.addresses.push(...reports[0]!.addresses);
    if (reports.some((r) => r.publicKey !== this.publicKey || r.addresses.join() !== this.addresses.join())) {
      await this.shutdown({ timeoutMs: 0 });
      throw new NproError('INVALID_STATE', 'the workers report different addresses or keys');
    }
    this.#log.info({ addresses: this.addresses, workers: this.pids }, `${this.#slots.length} workers listening`);
  }

  /** Forks the worker of `slot`; resolves with its `listening` report, rejects if it fails to start. */
  #fork(slot: Slot, restart: boolean): Promise<ListeningMessage> {
    const worker = cluster.fork();
    slot.worker = worker;
    const pid = worker.process.pid ?? -1;
    return new Promise((resolveStart, rejectStart) => {
      let listening = false;
      worker.on('message', (m: FromWorker) => {
        if (m.type === 'npro:ready') send(worker, { ...this.#start, id: slot.id });
        else if (m.type === 'npro:failed') {
          if (restart) this.#log.error({ worker: slot.id, workerPid: pid, code: m.code }, `worker ${slot.id} could not start: ${m.message}`);
          rejectStart(new NproError(isErrorCode(m.code) ? m.code : 'INVALID_STATE', m.message));
        }
        else if (m.type === 'npro:listening') {
          listening = true;
          this.#log.info({ worker: slot.id, workerPid: pid }, `worker ${slot.id} listening (pid ${pid})${restart ? ' after a restart' : ''}`);
          this.emit('worker-listening', { id: slot.id, pid, restart });
          // A stop asked for while it was starting.
          if (this.#stopping !== null) send(worker, { type: 'npro:stop', timeoutMs: Math.max(0, this.#deadline - Date.now()) });
          resolveStart(m);
        }
      });
      // A send to a worker that has just died emits 'error'; its exit is what counts.
      worker.on('error', () => undefined);
      worker.once('exit', (code: number | null, signal: string | null) => {
        if (!listening) rejectStart(new NproError('INVALID_STATE', `worker ${slot.id} (pid ${pid}) exited before listening (${signal ?? code})`));
        this.#exited(slot, worker, pid, code, signal, listening || restart);
      });
    });
  }

  #exited(slot: Slot, worker: Worker, pid: number, code: number | null, signal: string | null, restartable: boolean): void {
    if (slot.worker === worker) slot.worker = null;
    const restartIn = this.#stopping === null && restartable ? this.#restartDelay(slot) : null;
    const how = signal ?? `code ${code}`;
    if (this.#stopping !== null) this.#log.debug({ worker: slot.id, workerPid: pid, code, signal }, `worker ${slot.id} (pid ${pid}) exited (${how})`);
    else if (restartIn !== null) this.#log.warn({ worker: slot.id, workerPid: pid, code, signal }, `worker ${slot.id} (pid ${pid}) exited (${how}); restarting in ${restartIn} ms`);
    this.emit('worker-exit', { id: slot.id, pid, code, signal, restartInMs: restartIn });
    if (restartIn !== null) {
      slot.timer = setTimeout(() => {
        slot.timer = null;
        this.#fork(slot, true).catch(() => undefined);
      }, restartIn);
    } else if (this.#stopping === null && restartable) {
      this.#error = new NproError('INVALID_STATE', `workers exited ${this.#restarts.length} times within a minute (a crash loop); stopping`, { details: { reason: 'crash-loop' } });
      this.#log.error({ worker: slot.id, workerPid: pid, code, signal }, this.#error.message);
      void this.shutdown({ timeoutMs: 0 });
    }
    this.#checkStopped();
  }

  /** The backoff before restarting `slot`, or null when the group has restarted too often. */
  #restartDelay(slot: Slot): number | null {
    const now = Date.now();
    const recent = (times: number[]) => times.filter((t) => now - t < RESTART_WINDOW_MS);
    this.#restarts.splice(0, Infinity, ...recent(this.#restarts), now);
    slot.restarts = [...recent(slot.restarts), now];
    if (this.#restarts.length > this.#maxRestarts) return null;
    return Math.min(RESTART_MAX_MS, RESTART_BASE_MS * 2 ** (slot.restarts.length - 1));
  }

  #checkStopped(): void {
    if (this.#stopping === null || this.#slots.some((s) => s.worker !== null)) return;
    if (this.#forceTimer !== null) clearTimeout(this.#forceTimer);
    this.#log.info('every worker stopped');
    void (this.#ownLogger?.close() ?? Promise.resolve()).then(() => this.#resolveClosed(this.#error));
  }

  #killAll(): void {
    for (const slot of this.#slots) {
      const w = slot.worker;
      if (w !== null && !isDead(w)) {
        this.#log.warn({ worker: slot.id, workerPid: w.process.pid }, `worker ${slot.id} still running after the deadline: killed`);
        w.process.kill('SIGKILL');
      }
    }
  }
}

/** Starts a {@link WorkerGroup}. */
export function startWorkers(options: WorkersOptions): Promise<WorkerGroup> {
  return WorkerGroup.start(options);
}

function isDead(worker: Worker): boolean {
  return worker.process.exitCode !== null || worker.process.signalCode !== null;
}

function send(worker: Worker, message: ToWorker): void {
  if (worker.isConnected()) worker.send(message);
}

/** A module specifier a worker can import: URLs as given, paths made absolute file URLs. */
function moduleUrl(spec: string): string {
  return /^[a-z][a-z0-9+.-]+:/i.test(spec) && !isAbsolute(spec) ? spec : pathToFileURL(resolve(spec)).href;
}
