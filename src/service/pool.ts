/**
 * `ConnectionPool` (behaviour.md §1, §3 `[pool]`, §4 Pool): connections to one or more endpoints,
 * with the same `request()` as a client, leases for callers that want a connection of their own,
 * and a circuit breaker per endpoint.
 *
 * ```ts
 * const pool = await ConnectionPool.create({ endpoints: ['tcp://10.0.0.1:9000', 'tcp://10.0.0.2:9000'],
 *   config: { pool: { max_size: 4 } }, clientOptions: { serverPublicKey } });
 * const reply = await pool.request('ECHO', 'hi', { idempotent: true });
 * await pool.withLease(async (client) => { for await (const m of client) … });
 * await pool.close();
 * ```
 *
 * - Requests go to the connection with the fewest pool requests in flight, among the endpoints whose
 *   breaker is closed (ties rotate over the endpoints). When every connection has something in
 *   flight and an endpoint is below `pool.max_size`, one more connection is opened there (one at a
 *   time per endpoint) while the request goes to the least-loaded one; with no connection at all it
 *   waits for one. A connection that received `GoAway` takes nothing new and closes once drained;
 *   the requests it refused unprocessed (above `last_id`) are sent again elsewhere, idempotent or
 *   not (up to 8 times).
 * - Deadlines (`timeoutMs`, default `client.response_timeout`) cover the wait for a connection and
 *   every attempt: `DEADLINE_EXCEEDED`, or `POOL_EXHAUSTED` when it never got a connection because
 *   every endpoint was at `max_size` with its connections leased or draining. A request marked
 *   `idempotent` that fails for a reason in `RETRY_FAILURES` is sent once more, on another endpoint
 *   when one is healthy; any other request fails with its code. A connect that fails while a
 *   request waits for it fails that request with the connect's error unless another endpoint can
 *   take it.
 * - `acquire()` hands out a connection not used for pooled requests while leased: an idle one, else
 *   a new one below `max_size`, else the least-loaded one (its pooled requests finish there); when
 *   every connection is leased at `max_size` it waits up to `timeoutMs` (default
 *   `client.connection_timeout`) → `POOL_EXHAUSTED`.
 * - While an endpoint's breaker is open, it gets no calls; when every endpoint's is open, `request()`
 *   and `acquire()` fail at once with `CIRCUIT_OPEN`.
 * - Connections are `Client`s with `client.auto_reconnect` off: the pool replaces them instead.
 * - `close({ timeoutMs })` (default `client.response_timeout`): new calls and waiting ones fail
 *   `CONNECTION_CLOSED`; in-flight requests may finish until the deadline; idle connections close at
 *   once, leased ones when released; at the deadline everything left is closed.
 */
import { NproError } from '../core/errors.js';
import { utf8Encoder } from '../utils/bytes.js';
import type { NetworkConfig } from '../utils/config/index.js';
import { createLogger, type Logger } from '../utils/logger.js';
import { systemTimers } from '../utils/timers.js';
import { Client, type RequestOptions } from './client.js';
import { resolveClientSettings } from './client-options.js';
import { DeadlineQueue } from './deadlines.js';
import { checkTimeout, resolveConfig } from './options.js';
import { choose, exhausted, type ChoiceContext } from './pool-choice.js';
import { PoolCore, asNproError } from './pool-core.js';
import { PoolEndpoint, type PooledConnection } from './pool-endpoint.js';
import { RETRY_FAILURES, type AcquireOptions, type PoolConnection, type PoolLease, type PoolOptions, type PoolStats, type PoolTarget } from './pool-options.js';
import { resolveTargets, systemLookup } from './pool-targets.js';
import { AcquireWaiter, Lease, PoolRequest, type Waiter } from './pool-waiters.js';

export class ConnectionPool<C extends PoolConnection = Client> extends PoolCore<C> {
  readonly #options: PoolOptions<C>;
  readonly #ownLogger: Logger | null;
  readonly #deadlines: DeadlineQueue<Waiter<C>>;
  #waiting: Waiter<C>[] = [];
  #pumping = false;
  #pumpAgain = false;
  readonly #choice: ChoiceContext<C> = { endpoints: [], maxSize: 0, rotate: 0, gone: (c) => this.retire(c, 'goaway') };
  #starting: Promise<void> | null = null;
  #closing: Promise<void> | null = null;

  constructor(options: PoolOptions<C>) {
    const config = resolveConfig(options.config);
    const ownLogger = options.logger === undefined ? createLogger(config.logging) : null;
    const log = (options.logger ?? ownLogger!).child({ component: 'pool' });
    const health = options.healthCheckIntervalMs ?? config.client.heartbeat_interval;
    if (!(health >= 0)) throw new NproError('INVALID_ARGUMENT', `healthCheckIntervalMs must be 0 or more, got ${health}`);
    const ping = checkTimeout(options.healthCheckTimeoutMs ?? config.client.connection_timeout, 'healthCheckTimeoutMs');
    super(config, options.hooks?.timers ?? systemTimers, log, health, ping);
    this.#options = options;
    this.#ownLogger = ownLogger;
    this.#deadlines = new DeadlineQueue(this.timers, (w) => this.#expired(w));
    this.#choice.maxSize = config.pool.max_size;
  }

  /** A started pool: endpoints resolved, `pool.min_size` connections attempted on each. */
  static async create<C extends PoolConnection = Client>(options: PoolOptions<C>): Promise<ConnectionPool<C>> {
    const pool = new ConnectionPool<C>(options);
    try {
      await pool.start();
    } catch (err) {
      await pool.close({ timeoutMs: 0 });
      throw err;
    }
    return pool;
  }

  /**
   * Resolves the endpoints (CONFIG_INVALID for a bad one, CONNECT_FAILED for a name that does not
   * resolve) and opens `pool.min_size` connections on each; resolves once those attempts settled (a
   * failed one is a breaker failure, retried with the client's backoff). Idempotent.
   */
  start(): Promise<void> {
    this.#starting ??= this.#start();
    return this.#starting;
  }

  async #start(): Promise<void> {
    if (this.state !== 'new') throw new NproError('INVALID_STATE', 'the pool is closed');
    this.state = 'starting';
    const config = this.config;
    const given = this.#options.clientOptions ?? {};
    const clientConfig: NetworkConfig = { ...config, client: { ...config.client, auto_reconnect: false } };
    const options = { ...given, config: clientConfig, logger: given.logger ?? this.log.child({ component: 'client' }) };
    const connect = this.#options.hooks?.connect ?? ((t: PoolTarget) => Client.connect(t.url, t.options) as unknown as Promise<C>);
    const raw = this.#options.endpoints ?? config.client.address;
    const groups = await resolveTargets(typeof raw === 'string' ? [raw] : raw, {
      config, options, connect, lookup: this.#options.hooks?.lookup ?? systemLookup, pingTimeoutMs: this.pingTimeoutMs,
    });
    if (this.#options.hooks?.connect === undefined) {
      // Every problem of the client options is reported now, before any connection is opened.
      for (const g of groups) await resolveClientSettings(g.configuredUrl, g.initialOptions);
    }
    if (this.state !== 'starting') return;
    for (const group of groups) {
      for (const url of group.urls) {
        const endpoint = new PoolEndpoint(url, group, this.endpoints.length);
        endpoint.breaker = this.makeBreaker(endpoint);
        this.endpoints.push(endpoint);
      }
    }
    this.state = 'open';
    const warm = this.endpoints.flatMap((e) => this.replenish(e));
    this.pump();
    await Promise.all(warm);
  }

  /** The URLs dialled, one per endpoint (a name with several addresses gives several). */
  get endpointUrls(): string[] {
    return this.endpoints.map((e) => e.url);
  }

  stats(): PoolStats {
    let waiting = 0;
    for (const w of this.#waiting) if (!w.settled) waiting++;
    return this.buildStats(waiting);
  }

  // ── requests ───────────────────────────────────────────────────────────────────────────────

  /** A request on the least-loaded healthy connection (see the module comment). */
  request(command: string, payload: Uint8Array | string = new Uint8Array(0), options: RequestOptions = {}): Promise<Uint8Array> {
    const refused = this.#refusal();
    if (refused !== null) return Promise.reject(refused);
    if (typeof command !== 'string' || command === '') return Promise.reject(new NproError('INVALID_ARGUMENT', 'a command is a non-empty string'));
    const timeoutMs = options.timeoutMs ?? this.config.client.response_timeout;
    if (!(timeoutMs > 0)) return Promise.reject(new NproError('INVALID_ARGUMENT', `timeoutMs must be positive, got ${timeoutMs}`));
    const signal = options.signal;
    if (signal?.aborted === true) return Promise.reject(new NproError('CANCELLED', 'the request was aborted', { cause: signal.reason }));
    const bytes = typeof payload === 'string' ? utf8Encoder.encode(payload) : payload;
    this.counters.requests++;
    return new Promise<Uint8Array>((resolve, reject) => {
      const r = new PoolRequest<C>(command, bytes, this.timers.now() + timeoutMs, options.idempotent === true, signal, resolve, reject);
      this.#track(r);
      this.#dispatch(r);
    });
  }

  /** A connection of one's own (see the module comment); give it back with `release()`. */
  acquire(options: AcquireOptions = {}): Promise<PoolLease<C>> {
    const refused = this.#refusal();
    if (refused !== null) return Promise.reject(refused);
    const timeoutMs = options.timeoutMs ?? this.config.client.connection_timeout;
    if (!(timeoutMs > 0)) return Promise.reject(new NproError('INVALID_ARGUMENT', `timeoutMs must be positive, got ${timeoutMs}`));
    const signal = options.signal;
    if (signal?.aborted === true) return Promise.reject(new NproError('CANCELLED', 'the acquire was aborted', { cause: signal.reason }));
    return new Promise<PoolLease<C>>((resolve, reject) => {
      const w = new AcquireWaiter<C>(this.timers.now() + timeoutMs, signal, resolve, reject);
      this.#track(w);
      this.#dispatch(w);
    });
  }

  /** Runs `fn` with a leased connection, released on every path (return, throw). */
  async withLease<T>(fn: (client: C) => Promise<T> | T, options: AcquireOptions = {}): Promise<T> {
    const lease = await this.acquire(options);
    try {
      return await fn(lease.client);
    } finally {
      lease.release();
    }
  }

  #refusal(): NproError | null {
    if (this.state === 'new') return new NproError('INVALID_STATE', 'the pool is not started: call start() or use ConnectionPool.create()');
    if (this.state === 'closing' || this.state === 'closed') return new NproError('CONNECTION_CLOSED', 'the pool is closed');
    return null;
  }

  #track(w: Waiter<C>): void {
    const signal = w.signal;
    if (signal !== undefined) {
      w.onAbort = () => this.#aborted(w);
      signal.addEventListener('abort', w.onAbort, { once: true });
    }
    this.#deadlines.add(w);
  }

  #dispatch(w: Waiter<C>): void {
    if (this.state === 'open' && this.#serve(w)) return;
    w.queued = true;
    this.#waiting.push(w);
  }

  /** Serves `w` now (pool-choice.ts): true when it was sent, leased or failed; false to keep it waiting. */
  #serve(w: Waiter<C>): boolean {
    const ctx = this.#choice;
    ctx.endpoints = this.endpoints;
    ctx.rotate++;
    const choice = choose(w, ctx);
    if (choice.kind === 'fail') {
      this.#settle(w, choice.error);
      return true;
    }
    if (choice.open !== null) {
      if (w.kind === 'acquire') {
        w.opening = true;
        void this.open(choice.open, 'demand', () => (w.opening = false));
      } else {
        void this.open(choice.open, 'demand');
      }
    }
    if (choice.kind === 'wait') return false;
    this.#use(w, choice.conn);
    return true;
  }

  #use(w: Waiter<C>, conn: PooledConnection<C>): void {
    if (w.kind === 'acquire') this.#lease(w, conn);
    else this.#send(w, conn);
  }

  #send(r: PoolRequest<C>, conn: PooledConnection<C>): void {
    r.conn = conn;
    conn.inFlight++;
    conn.endpoint.inFlight++;
    // The connection enforces the same deadline and signal (and sends `Cancel`); the pool's own
    // deadline covers the wait for a connection, and settles first when both fire.
    const timeoutMs = Math.max(1, r.deadline - this.timers.now());
    conn.client.request(r.command, r.payload, r.signal === undefined ? { timeoutMs } : { timeoutMs, signal: r.signal }).then(
      (bytes) => {
        this.#attemptDone(r, conn);
        if (this.state === 'open') conn.endpoint.breaker.success();
        this.#settle(r, bytes);
      },
      (err: unknown) => this.#attemptFailed(r, conn, asNproError(err)),
    );
  }

  #attemptDone(r: PoolRequest<C>, conn: PooledConnection<C>): void {
    if (r.conn === conn) r.conn = null;
    conn.inFlight--;
    conn.endpoint.inFlight--;
    conn.lastUsed = this.timers.now();
    if (conn.inFlight === 0) {
      if (conn.state === 'draining' && !conn.leased) this.closeConn(conn);
      else this.arm(conn);
    }
    if (this.#waiting.length > 0) this.pump();
    this.checkDrained();
  }

  #attemptFailed(r: PoolRequest<C>, conn: PooledConnection<C>, error: NproError): void {
    this.requestFailedOn(conn, error);
    this.#attemptDone(r, conn);
    if (r.settled) return;
    // Time must be left: a `DEADLINE_EXCEEDED` at the deadline is the request's own (no retry).
    const open = this.state === 'open' && this.timers.now() < r.deadline - RETRY_MARGIN_MS;
    if (open && r.refusals < MAX_REFUSALS && refusedUnprocessed(conn, error)) {
      r.refusals++;
      this.#dispatch(r);
      return;
    }
    if (!(open && r.idempotent && r.attempt === 0 && RETRY_FAILURES.has(error.code))) {
      this.#settle(r, error);
      return;
    }
    r.attempt = 1;
    r.avoid = conn.endpoint;
    this.counters.retries++;
    this.#dispatch(r);
  }

  #lease(w: AcquireWaiter<C>, conn: PooledConnection<C>): void {
    conn.leased = true;
    conn.lastUsed = this.timers.now();
    this.#settle(w, new Lease(conn, (c, destroy) => this.released(c, destroy)));
  }

  // ── settling ───────────────────────────────────────────────────────────────────────────────

  #settle(w: Waiter<C>, result: Uint8Array | PoolLease<C> | NproError, expired = false): void {
    if (w.settled) return;
    w.settled = true;
    if (w.onAbort !== null) {
      w.signal!.removeEventListener('abort', w.onAbort);
      w.onAbort = null;
    }
    if (!expired) this.#deadlines.settled(w);
    if (NproError.is(result)) w.reject(result);
    else if (w.kind === 'request') w.resolve(result as Uint8Array);
    else w.resolve(result as PoolLease<C>);
  }

  #expired(w: Waiter<C>): void {
    if (w.kind === 'acquire') {
      this.#settle(w, new NproError('POOL_EXHAUSTED', 'no connection became available before the acquire timeout'), true);
      return;
    }
    const waited = w.conn === null;
    const error = waited && exhausted(this.endpoints, this.config.pool.max_size)
      ? new NproError('POOL_EXHAUSTED', `no connection became available for ${w.command} before its deadline`)
      : new NproError('DEADLINE_EXCEEDED', `no response to ${w.command} before its deadline`);
    this.#settle(w, error, true);
  }

  #aborted(w: Waiter<C>): void {
    const error = new NproError('CANCELLED', `the ${w.kind} was aborted`, { cause: w.signal?.reason });
    this.#settle(w, error);
  }

  // ── PoolCore ───────────────────────────────────────────────────────────────────────────────

  protected pump(): void {
    if (this.#pumping) {
      this.#pumpAgain = true;
      return;
    }
    if (this.state !== 'open' || this.#waiting.length === 0) return;
    this.#pumping = true;
    try {
      do {
        this.#pumpAgain = false;
        const queue = this.#waiting;
        this.#waiting = [];
        for (const w of queue) {
          if (w.settled) continue;
          if (this.#serve(w)) w.queued = false;
          else this.#waiting.push(w);
        }
      } while (this.#pumpAgain && this.state === 'open');
    } finally {
      this.#pumping = false;
    }
  }

  protected connectFailed(endpoint: PoolEndpoint<C>, error: NproError): void {
    for (const w of this.#waiting) {
      if (w.settled) continue;
      (w.tried ??= new Set()).add(endpoint);
      w.lastError = error;
    }
  }

  // ── closing ────────────────────────────────────────────────────────────────────────────────

  /** Drains and closes (see the module comment); resolves once every connection is closed. */
  close(options: { timeoutMs?: number } = {}): Promise<void> {
    this.#closing ??= this.#close(Math.max(0, options.timeoutMs ?? this.config.client.response_timeout));
    return this.#closing;
  }

  async #close(timeoutMs: number): Promise<void> {
    if (this.state === 'starting') await this.#starting?.catch(() => undefined);
    this.state = 'closing';
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const w of waiting) this.#settle(w, new NproError('CONNECTION_CLOSED', 'the pool is closed'));
    await this.closeConnections(timeoutMs);
    this.#deadlines.clear();
    this.state = 'closed';
    await this.#ownLogger?.close();
  }
}

/** A retry needs at least this much time left before the request's deadline (ms). */
const RETRY_MARGIN_MS = 5;

/** Times a request refused unprocessed (GoAway) is sent again, whatever its idempotency. */
const MAX_REFUSALS = 8;

/**
 * The server did not process the request: `CONNECTION_CLOSED` with `retryable` while the connection
 * has not ended is how a client fails requests above a `GoAway`'s `last_id` (or never sent), which
 * protocol.md §5 guarantees were not processed. A request failed by the end of the connection
 * (`Disconnect`, reported first as `disconnected`) may have been processed and does not qualify.
 */
function refusedUnprocessed<C extends PoolConnection>(conn: PooledConnection<C>, error: NproError): boolean {
  return error.code === 'CONNECTION_CLOSED' && error.retryable && !conn.ended && !conn.closedByPool;
}
