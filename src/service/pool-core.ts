/**
 * The connection side of `ConnectionPool` (behaviour.md §1, §3 `[pool]`, §4 Pool): opening within
 * `pool.max_size`, keeping `pool.min_size` warm, the idle timeout, the max lifetime, health checks,
 * the breaker of each endpoint, and closing (pool-maintenance.ts keeps the timers). `pool.ts` adds
 * requests, leases and the public API.
 */
import { NproError } from '../core/errors.js';
import type { NetworkConfig } from '../utils/config/index.js';
import type { Logger } from '../utils/logger.js';
import type { TimerHandle, Timers } from '../utils/timers.js';
import { CircuitBreaker } from './breaker.js';
import { PoolEndpoint, PooledConnection } from './pool-endpoint.js';
import { Maintenance } from './pool-maintenance.js';
import { CONNECTION_FAILURES, type PoolConnection, type PoolStats } from './pool-options.js';
import { backoffDelay } from './reconnect.js';

/** Why a connect was started: a caller needs one, `min_size`, or the half-open probe. */
export type OpenPurpose = 'demand' | 'warm' | 'probe';

export type PoolState = 'new' | 'starting' | 'open' | 'closing' | 'closed';

/** An `NproError` for anything thrown. */
export function asNproError(err: unknown, code: 'CONNECT_FAILED' | 'CONNECTION_CLOSED' = 'CONNECTION_CLOSED'): NproError {
  return NproError.is(err) ? err : new NproError(code, String(err), { cause: err });
}

export abstract class PoolCore<C extends PoolConnection> {
  protected state: PoolState = 'new';
  protected endpoints: PoolEndpoint<C>[] = [];
  protected readonly counters: PoolStats['counters'] = {
    requests: 0, retries: 0, connects: 0, connectFailures: 0, healthChecks: 0, healthCheckFailures: 0, idleClosed: 0, lifetimeRetired: 0, breakerOpens: 0,
  };

  readonly #maintenance: Maintenance<C>;
  /** Set while closing: resolves once no connection is open or being opened. */
  #drained: (() => void) | null = null;

  protected constructor(
    protected readonly config: NetworkConfig,
    protected readonly timers: Timers,
    protected readonly log: Logger,
    /** 0: no health checks. */
    healthCheckMs: number,
    protected readonly pingTimeoutMs: number,
  ) {
    const counters = this.counters;
    this.#maintenance = new Maintenance<C>(config.pool, timers, healthCheckMs, pingTimeoutMs, {
      running: () => this.state === 'open',
      counters,
      retire: (conn) => this.retire(conn, 'lifetime'),
      closeConn: (conn) => this.closeConn(conn),
      checkFailed: (conn, error) => {
        this.log.debug({ endpoint: conn.endpoint.url, code: error.code, err: error.message }, 'health check failed');
        this.connectionFailed(conn, error);
        if (conn.leased) conn.expired = true;
        else this.closeConn(conn);
      },
    });
  }

  /** Serves whoever waits for a connection (a connection or a slot became available, a breaker changed). */
  protected abstract pump(): void;
  /** A connect attempt on `endpoint` failed: waiters do not open there again. */
  protected abstract connectFailed(endpoint: PoolEndpoint<C>, error: NproError): void;

  protected makeBreaker(endpoint: PoolEndpoint<C>): CircuitBreaker {
    const p = this.config.pool;
    return new CircuitBreaker({
      failures: p.breaker_failures,
      resetMs: p.breaker_reset,
      timers: this.timers,
      onOpen: () => this.#breakerOpened(endpoint),
      onHalfOpen: () => {
        if (this.state === 'open' && endpoint.breaker.beginProbe()) void this.open(endpoint, 'probe');
      },
      onClose: () => {
        this.log.info({ endpoint: endpoint.url }, 'circuit breaker closed: the probe succeeded');
        this.replenish(endpoint);
        this.pump();
      },
    });
  }

  // ── opening ────────────────────────────────────────────────────────────────────────────────

  /** Starts a connect on `endpoint` (counted in `size` at once); resolves once it is handled. */
  protected open(endpoint: PoolEndpoint<C>, purpose: OpenPurpose, onSettled?: () => void): Promise<void> {
    endpoint.opening++;
    if (purpose === 'demand') endpoint.demandOpening++;
    return this.#dial(endpoint, purpose === 'probe').then(
      (client) => this.#opened(endpoint, purpose, client, onSettled),
      (err: unknown) => this.#openFailed(endpoint, purpose, asNproError(err, 'CONNECT_FAILED'), onSettled),
    );
  }

  /** Connect (and for the probe, a `Ping` round trip). */
  async #dial(endpoint: PoolEndpoint<C>, probe: boolean): Promise<C> {
    const client = await endpoint.group.connect(endpoint.url);
    if (!probe) return client;
    try {
      await client.ping({ timeoutMs: this.pingTimeoutMs });
    } catch (err) {
      await client.close().catch(() => undefined);
      throw err;
    }
    return client;
  }

  #settledOpen(endpoint: PoolEndpoint<C>, purpose: OpenPurpose): void {
    endpoint.opening--;
    if (purpose === 'demand') endpoint.demandOpening--;
  }

  #opened(endpoint: PoolEndpoint<C>, purpose: OpenPurpose, client: C, onSettled: (() => void) | undefined): void {
    this.#settledOpen(endpoint, purpose);
    onSettled?.();
    const probe = purpose === 'probe';
    const conn = new PooledConnection(endpoint, client, this.timers.now());
    endpoint.conns.add(conn);
    client.on('disconnected', (e) => {
      conn.ended = true;
      if (e.code !== null && !conn.closedByPool) this.connectionFailed(conn, e.error ?? new NproError('CONNECTION_CLOSED', e.reason));
      if (conn.state === 'ready') conn.state = 'draining';
    });
    client.on('closed', () => this.removed(conn));
    if (this.state !== 'open' || (!probe && !endpoint.breaker.allows)) {
      // Closing, or the breaker opened while this connect was under way: not used.
      this.closeConn(conn);
      this.checkDrained();
      return;
    }
    this.counters.connects++;
    endpoint.breaker.success(probe);
    if (purpose === 'warm') endpoint.replenishFailures = 0;
    if (!client.connected) this.retire(conn, 'goaway');
    else this.arm(conn);
    this.pump();
  }

  #openFailed(endpoint: PoolEndpoint<C>, purpose: OpenPurpose, error: NproError, onSettled: (() => void) | undefined): void {
    this.#settledOpen(endpoint, purpose);
    onSettled?.();
    if (this.state === 'open') {
      this.counters.connectFailures++;
      this.log.debug({ endpoint: endpoint.url, purpose, code: error.code, err: error.message }, 'connect failed');
      this.connectFailed(endpoint, error);
      endpoint.breaker.failure(purpose === 'probe');
      if (purpose === 'warm' && endpoint.breaker.allows && endpoint.replenishTimer === null) {
        endpoint.replenishFailures++;
        const delay = backoffDelay(this.config.client.reconnect_delay, endpoint.replenishFailures);
        endpoint.replenishTimer = this.timers.setTimeout(() => {
          endpoint.replenishTimer = null;
          this.replenish(endpoint);
        }, delay);
      }
    }
    this.pump();
    this.checkDrained();
  }

  /** Opens connections until `endpoint` has `pool.min_size` ready or opening (never past `max_size`). */
  protected replenish(endpoint: PoolEndpoint<C>): Promise<void>[] {
    const started: Promise<void>[] = [];
    if (this.state !== 'open' || !endpoint.breaker.allows || endpoint.replenishTimer !== null) return started;
    const { min_size, max_size } = this.config.pool;
    for (let need = min_size - endpoint.warm; need > 0 && endpoint.size < max_size; need--) started.push(this.open(endpoint, 'warm'));
    return started;
  }

  // ── failures and the breaker ───────────────────────────────────────────────────────────────

  /** One breaker failure for `conn`'s endpoint, counted once per connection (see `CONNECTION_FAILURES`). */
  protected connectionFailed(conn: PooledConnection<C>, error: NproError): void {
    if (conn.failed || conn.closedByPool || this.state !== 'open') return;
    conn.failed = true;
    this.log.debug({ endpoint: conn.endpoint.url, code: error.code, err: error.message }, 'connection failed');
    conn.endpoint.breaker.failure();
  }

  /** A request failed on `conn`: a connection failure when the code says so and the connection broke. */
  protected requestFailedOn(conn: PooledConnection<C>, error: NproError): void {
    if (CONNECTION_FAILURES.has(error.code) && !conn.client.connected) this.connectionFailed(conn, error);
    if (conn.state === 'ready' && !conn.leased && !conn.client.connected) this.retire(conn, 'goaway');
  }

  #breakerOpened(endpoint: PoolEndpoint<C>): void {
    this.counters.breakerOpens++;
    this.log.warn(
      { endpoint: endpoint.url, failures: endpoint.breaker.failures, resetMs: this.config.pool.breaker_reset },
      'circuit breaker open: calls to this endpoint fail with CIRCUIT_OPEN until one probe succeeds',
    );
    endpoint.replenishTimer?.cancel();
    endpoint.replenishTimer = null;
    for (const conn of [...endpoint.conns]) {
      if (conn.leased || conn.state !== 'ready') continue;
      conn.state = 'draining';
      if (conn.inFlight === 0) this.closeConn(conn);
    }
    this.pump();
  }

  /** Arms `conn`'s maintenance timer (pool-maintenance.ts). */
  protected arm(conn: PooledConnection<C>): void {
    this.#maintenance.arm(conn);
  }

  /**
   * Takes `conn` out of service: GoAway (or it ended), past `max_lifetime`. It drains (closes once
   * its pooled requests are done; a leased one when released); `min_size` is kept by opening anew.
   */
  protected retire(conn: PooledConnection<C>, why: 'goaway' | 'lifetime'): void {
    if (conn.state !== 'ready') return;
    if (why === 'lifetime') this.counters.lifetimeRetired++;
    if (conn.leased) {
      conn.expired = true;
      return;
    }
    conn.state = 'draining';
    if (conn.inFlight === 0) this.closeConn(conn);
    this.replenish(conn.endpoint);
  }

  /** Closes `conn` (it keeps counting against `max_size` until its socket has closed). */
  protected closeConn(conn: PooledConnection<C>): void {
    if (conn.state === 'closing' || conn.state === 'closed') return;
    conn.state = 'closing';
    conn.closedByPool = true;
    conn.cancelTimer();
    conn.client.close().then(
      () => this.removed(conn),
      () => this.removed(conn),
    );
  }

  /** `conn`'s socket has closed: it leaves its endpoint. */
  protected removed(conn: PooledConnection<C>): void {
    if (conn.state === 'closed') return;
    conn.state = 'closed';
    conn.cancelTimer();
    conn.endpoint.conns.delete(conn);
    this.replenish(conn.endpoint);
    this.pump();
    this.checkDrained();
  }

  // ── leases and closing ─────────────────────────────────────────────────────────────────────

  /** A lease ended: the connection goes back (idle), or is closed (destroyed, too old, ended, pool closing). */
  protected released(conn: PooledConnection<C>, destroy: boolean): void {
    conn.leased = false;
    conn.lastUsed = this.timers.now();
    if (conn.state === 'closed') return;
    const done = destroy || this.state !== 'open' || conn.expired || conn.state !== 'ready' || !conn.client.connected;
    if (done) {
      // Pooled requests sent before the lease (it went to the least-loaded connection) finish first.
      if (destroy || conn.inFlight === 0) this.closeConn(conn);
      else if (conn.state === 'ready') conn.state = 'draining';
    } else {
      this.arm(conn);
    }
    this.pump();
    this.checkDrained();
  }

  /**
   * Closing (the pool takes no calls any more): idle connections close now, busy ones when their
   * requests are done, leased ones when released; at `timeoutMs` everything left is closed. Resolves
   * once every connection is closed and no connect is under way.
   */
  protected async closeConnections(timeoutMs: number): Promise<void> {
    const drained = new Promise<void>((resolve) => (this.#drained = resolve));
    for (const e of this.endpoints) {
      e.breaker.stop();
      e.replenishTimer?.cancel();
      e.replenishTimer = null;
      for (const conn of [...e.conns]) {
        conn.cancelTimer();
        if (conn.leased) continue;
        if (conn.inFlight === 0) this.closeConn(conn);
        else if (conn.state === 'ready') conn.state = 'draining';
      }
    }
    this.checkDrained();
    if (timeoutMs > 0) {
      const deadline: { timer: TimerHandle | null } = { timer: null };
      await Promise.race([drained, new Promise<void>((resolve) => (deadline.timer = this.timers.setTimeout(resolve, timeoutMs)))]);
      deadline.timer?.cancel();
    }
    for (const e of this.endpoints) for (const conn of [...e.conns]) this.closeConn(conn);
    this.checkDrained();
    await drained;
    this.#drained = null;
  }

  /** Something closed or settled: while closing, resolves `closeConnections` once nothing is left. */
  protected checkDrained(): void {
    if (this.#drained === null) return;
    for (const e of this.endpoints) if (e.size > 0) return;
    this.#drained();
  }

  // ── reporting ──────────────────────────────────────────────────────────────────────────────

  protected buildStats(waiting: number): PoolStats {
    const endpoints = this.endpoints.map((e) => e.stats());
    const totals = { open: 0, idle: 0, leased: 0, opening: 0, draining: 0, inFlight: 0 };
    for (const e of endpoints) {
      totals.open += e.open;
      totals.idle += e.idle;
      totals.leased += e.leased;
      totals.opening += e.opening;
      totals.draining += e.draining;
      totals.inFlight += e.inFlight;
    }
    const state = this.state === 'new' || this.state === 'starting' ? 'open' : this.state;
    return { state, endpoints, totals, waiting, counters: { ...this.counters } };
  }
}
