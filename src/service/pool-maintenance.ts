/**
 * The upkeep of pooled connections (behaviour.md §3 `pool.idle_timeout`, `pool.max_lifetime`; §1
 * health checks): one timer per connection on the pool's `Timers`, armed for the earliest of
 *
 * - its end of life, `created + pool.max_lifetime` (the age is never reset, leases included): the
 *   connection is retired (drained and replaced);
 * - its idle deadline, `last use + pool.idle_timeout`, only while idle and while its endpoint has
 *   more than `pool.min_size` connections: it is closed;
 * - its next health check, `max(last use, last check) + healthCheckIntervalMs`, only while idle: a
 *   `Ping` with a deadline of `healthCheckTimeoutMs`; a failure counts against the breaker and closes
 *   the connection. Health checks are not uses: they never keep a connection from its idle timeout.
 *
 * A use (request, lease) does not touch the timer: when it fires early it is armed again for what is
 * then due, so busy connections cost no timer churn.
 */
import { NproError } from '../core/errors.js';
import type { NetworkConfig } from '../utils/config/index.js';
import type { Timers } from '../utils/timers.js';
import type { PooledConnection } from './pool-endpoint.js';
import type { PoolConnection, PoolStats } from './pool-options.js';

/** What the upkeep asks of the pool. */
export interface MaintenanceHost<C extends PoolConnection> {
  /** True while the pool takes calls (not closing). */
  running(): boolean;
  readonly counters: PoolStats['counters'];
  retire(conn: PooledConnection<C>, why: 'lifetime'): void;
  closeConn(conn: PooledConnection<C>): void;
  /** A health check failed: one breaker failure of its endpoint. */
  checkFailed(conn: PooledConnection<C>, error: NproError): void;
}

export class Maintenance<C extends PoolConnection> {
  constructor(
    private readonly pool: NetworkConfig['pool'],
    private readonly timers: Timers,
    /** 0: no health checks. */
    private readonly healthCheckMs: number,
    private readonly pingTimeoutMs: number,
    private readonly host: MaintenanceHost<C>,
  ) {}

  /** Arms `conn`'s timer for what is due next, unless it already fires earlier. */
  arm(conn: PooledConnection<C>): void {
    if (!this.host.running() || conn.state !== 'ready') return;
    const due = this.#nextDue(conn);
    if (conn.timer !== null && conn.timerAt <= due) return;
    conn.cancelTimer();
    conn.timerAt = due;
    conn.timer = this.timers.setTimeout(() => {
      conn.timer = null;
      conn.timerAt = Infinity;
      this.#due(conn);
    }, Math.max(0, due - this.timers.now()));
  }

  #checkAt(conn: PooledConnection<C>): number {
    return this.healthCheckMs > 0 && !conn.checking ? Math.max(conn.lastUsed, conn.lastCheck) + this.healthCheckMs : Infinity;
  }

  #idleAt(conn: PooledConnection<C>): number {
    return conn.endpoint.warm > this.pool.min_size ? conn.lastUsed + this.pool.idle_timeout : Infinity;
  }

  #nextDue(conn: PooledConnection<C>): number {
    const end = conn.createdAt + this.pool.max_lifetime;
    return conn.idle ? Math.min(end, this.#idleAt(conn), this.#checkAt(conn)) : end;
  }

  #due(conn: PooledConnection<C>): void {
    if (!this.host.running() || conn.state !== 'ready') return;
    const now = this.timers.now();
    if (now >= conn.createdAt + this.pool.max_lifetime) {
      this.host.retire(conn, 'lifetime');
      return;
    }
    if (conn.idle) {
      if (now >= this.#idleAt(conn)) {
        this.host.counters.idleClosed++;
        this.host.closeConn(conn);
        return;
      }
      if (now >= this.#checkAt(conn)) this.#check(conn);
    }
    this.arm(conn);
  }

  #check(conn: PooledConnection<C>): void {
    conn.checking = true;
    this.host.counters.healthChecks++;
    conn.client.ping({ timeoutMs: this.pingTimeoutMs }).then(
      () => {
        conn.checking = false;
        conn.lastCheck = this.timers.now();
        if (this.host.running() && conn.state === 'ready') conn.endpoint.breaker.success();
        this.arm(conn);
      },
      (err: unknown) => {
        conn.checking = false;
        if (conn.closedByPool || conn.state === 'closed') return;
        this.host.counters.healthCheckFailures++;
        this.host.checkFailed(conn, NproError.is(err) ? err : new NproError('CONNECTION_CLOSED', String(err), { cause: err }));
      },
    );
  }
}
