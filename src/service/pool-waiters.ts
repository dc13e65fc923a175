/**
 * What waits on a pool: a request (from `request()` until it settles, across at most two attempts)
 * and an acquire (until it holds a connection). Both have a deadline on the pool's clock, an optional
 * `AbortSignal`, and settle exactly once.
 */
import type { NproError } from '../core/errors.js';
import type { Deadlined } from './deadlines.js';
import type { PoolEndpoint, PooledConnection } from './pool-endpoint.js';
import type { PoolConnection, PoolLease } from './pool-options.js';

interface Waiting<C extends PoolConnection> extends Deadlined {
  readonly kind: 'request' | 'acquire';
  settled: boolean;
  /** In the pool's queue, waiting for a connection. */
  queued: boolean;
  /** Endpoints whose connect attempt failed while it waited: not opened again for it. */
  tried: Set<PoolEndpoint<C>> | null;
  /** The error of the last such attempt (what it fails with when nothing else can be tried). */
  lastError: NproError | null;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | null;
}

export class PoolRequest<C extends PoolConnection> implements Waiting<C> {
  readonly kind = 'request' as const;
  settled = false;
  queued = false;
  tried: Set<PoolEndpoint<C>> | null = null;
  lastError: NproError | null = null;
  onAbort: (() => void) | null = null;
  /** 0 for the first attempt, 1 for the retry of an idempotent request. */
  attempt = 0;
  /** Times a server refused it unprocessed (GoAway) and it was sent again. */
  refusals = 0;
  /** The endpoint of the failed first attempt: the retry goes elsewhere when it can. */
  avoid: PoolEndpoint<C> | null = null;
  /** The connection it is in flight on. */
  conn: PooledConnection<C> | null = null;

  constructor(
    readonly command: string,
    readonly payload: Uint8Array,
    /** On the pool's `Timers` clock; `Infinity` for none. */
    readonly deadline: number,
    readonly idempotent: boolean,
    readonly signal: AbortSignal | undefined,
    readonly resolve: (payload: Uint8Array) => void,
    readonly reject: (error: NproError) => void,
  ) {}
}

export class AcquireWaiter<C extends PoolConnection> implements Waiting<C> {
  readonly kind = 'acquire' as const;
  settled = false;
  queued = false;
  tried: Set<PoolEndpoint<C>> | null = null;
  lastError: NproError | null = null;
  onAbort: (() => void) | null = null;
  /** A connect attempt started for it is under way. */
  opening = false;

  constructor(
    readonly deadline: number,
    readonly signal: AbortSignal | undefined,
    readonly resolve: (lease: PoolLease<C>) => void,
    readonly reject: (error: NproError) => void,
  ) {}
}

export type Waiter<C extends PoolConnection> = PoolRequest<C> | AcquireWaiter<C>;

/** A lease handed out by `acquire()`; `release()` and `destroy()` act once, whichever comes first. */
export class Lease<C extends PoolConnection> implements PoolLease<C> {
  #done = false;
  readonly #give: (conn: PooledConnection<C>, destroy: boolean) => void;

  constructor(
    readonly conn: PooledConnection<C>,
    give: (conn: PooledConnection<C>, destroy: boolean) => void,
  ) {
    this.#give = give;
  }

  get client(): C {
    return this.conn.client;
  }

  get endpoint(): string {
    return this.conn.endpoint.url;
  }

  release(): void {
    this.#end(false);
  }

  destroy(): void {
    this.#end(true);
  }

  #end(destroy: boolean): void {
    if (this.#done) return;
    this.#done = true;
    this.#give(this.conn, destroy);
  }
}
