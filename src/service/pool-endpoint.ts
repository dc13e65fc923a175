/**
 * The bookkeeping of one pool endpoint (one address dialled) and of its connections: what is open,
 * being opened, leased, draining, and how much is in flight. The pool's decisions live in `pool.ts`;
 * this file only counts.
 *
 * A connection counts against `pool.max_size` from the moment its connect starts until its socket
 * has closed: `size` = connections being opened + connections not yet closed (leased, draining and
 * closing ones included).
 */
import type { TimerHandle } from '../utils/timers.js';
import { CircuitBreaker } from './breaker.js';
import type { PoolConnection, PoolEndpointStats } from './pool-options.js';
import type { TargetGroup } from './pool-targets.js';

/**
 * `ready`: takes pooled requests and leases. `draining`: takes nothing new, closes once its pooled
 * requests are done (GoAway, max lifetime, breaker open). `closing`: `close()` called, the socket
 * not yet closed. `closed`: gone (removed from its endpoint).
 */
export type PooledState = 'ready' | 'draining' | 'closing' | 'closed';

export class PooledConnection<C extends PoolConnection> {
  state: PooledState = 'ready';
  /** Pool requests sent on it and not yet settled by the connection. */
  inFlight = 0;
  leased = false;
  /** Past `pool.max_lifetime` while leased: closed when released. */
  expired = false;
  /** The pool closed it (its end is not a failure). */
  closedByPool = false;
  /** Its client reported the end of the connection (`disconnected`). */
  ended = false;
  /** Already counted as one breaker failure. */
  failed = false;
  /** A health-check `Ping` is under way. */
  checking = false;
  /** Last time a request, a lease or a health check finished on it (`Timers` clock). */
  lastUsed: number;
  lastCheck: number;
  /** The one maintenance timer (idle timeout, health check, lifetime) and when it fires. */
  timer: TimerHandle | null = null;
  timerAt = Infinity;

  constructor(
    readonly endpoint: PoolEndpoint<C>,
    readonly client: C,
    /** When it was established; never reset, leases included. */
    readonly createdAt: number,
  ) {
    this.lastUsed = createdAt;
    this.lastCheck = createdAt;
  }

  /** Ready, not leased, nothing in flight. */
  get idle(): boolean {
    return this.state === 'ready' && !this.leased && this.inFlight === 0;
  }

  cancelTimer(): void {
    this.timer?.cancel();
    this.timer = null;
    this.timerAt = Infinity;
  }
}

export class PoolEndpoint<C extends PoolConnection> {
  /** Connections established and not yet closed. */
  readonly conns = new Set<PooledConnection<C>>();
  /** Connect attempts under way. */
  opening = 0;
  /** Of which opened on demand (requests with no idle connection): at most one at a time. */
  demandOpening = 0;
  /** Pool requests in flight on this endpoint. */
  inFlight = 0;
  /** Retry of a failed warm-up connect (`pool.min_size`), with backoff. */
  replenishTimer: TimerHandle | null = null;
  replenishFailures = 0;
  breaker!: CircuitBreaker;

  constructor(
    readonly url: string,
    readonly group: TargetGroup<C>,
    readonly index: number,
  ) {}

  /** What counts against `pool.max_size`. */
  get size(): number {
    return this.opening + this.conns.size;
  }

  /** Connections that are or will be usable (ready or leased, opening included): what `min_size` keeps. */
  get warm(): number {
    let n = this.opening;
    for (const c of this.conns) if (c.state === 'ready') n++;
    return n;
  }

  stats(): PoolEndpointStats {
    let idle = 0;
    let leased = 0;
    let draining = 0;
    for (const c of this.conns) {
      if (c.leased) leased++;
      else if (c.state !== 'ready') draining++;
      else if (c.inFlight === 0) idle++;
    }
    return {
      url: this.url,
      configuredUrl: this.group.configuredUrl,
      open: this.conns.size,
      idle,
      leased,
      opening: this.opening,
      draining,
      inFlight: this.inFlight,
      breaker: this.breaker.state,
      failures: this.breaker.failures,
    };
  }
}
