/**
 * Where a pool call goes (behaviour.md §1 "least-loaded choice"): a decision without I/O, made from
 * the endpoints' bookkeeping. `pool.ts` carries it out.
 *
 * - Only endpoints whose breaker is closed are considered; none → `CIRCUIT_OPEN` (or, for a call
 *   that waited for a connect that failed, that connect's error).
 * - The retry of an idempotent request avoids the endpoint of its first attempt when another is
 *   healthy.
 * - The connection with the fewest pool requests in flight wins (ready, not leased, still taking
 *   requests; ties rotate over the endpoints). Idle (nothing in flight) → used at once.
 * - Otherwise a connection is opened on the candidate endpoint with the fewest connections that is
 *   below `pool.max_size` and whose connect has not failed for this call: for requests only when no
 *   other demand connect is under way there (a multiplexed connection soon takes them all); for an
 *   acquire, one connect of its own. A request then goes to the busy least-loaded connection if
 *   there is one; an acquire waits for its connect, else takes the least-loaded connection.
 * - With nothing usable, it waits while a connect is under way or an endpoint is full (a slot or a
 *   lease may free up); else it fails with the last connect error.
 */
import { NproError } from '../core/errors.js';
import type { PoolEndpoint, PooledConnection } from './pool-endpoint.js';
import type { PoolConnection } from './pool-options.js';
import type { Waiter } from './pool-waiters.js';

export type Choice<C extends PoolConnection> =
  | { kind: 'use'; conn: PooledConnection<C>; open: PoolEndpoint<C> | null }
  | { kind: 'wait'; open: PoolEndpoint<C> | null }
  | { kind: 'fail'; error: NproError };

export interface ChoiceContext<C extends PoolConnection> {
  endpoints: readonly PoolEndpoint<C>[];
  maxSize: number;
  /** Rotates the endpoint scanned first, so that ties spread. */
  rotate: number;
  /** A connection found no longer taking requests (GoAway, ended): the caller retires it. */
  gone: (conn: PooledConnection<C>) => void;
}

export function choose<C extends PoolConnection>(w: Waiter<C>, ctx: ChoiceContext<C>): Choice<C> {
  const all = ctx.endpoints;
  const healthy = all.every((e) => e.breaker.allows) ? all : all.filter((e) => e.breaker.allows);
  if (healthy.length === 0) return { kind: 'fail', error: w.lastError ?? circuitOpen(ctx.endpoints) };
  const avoid = w.kind === 'request' ? w.avoid : null;
  const candidates = avoid !== null && healthy.length > 1 && healthy.includes(avoid) ? healthy.filter((e) => e !== avoid) : healthy;
  const best = leastLoaded(candidates, ctx);
  if (best !== null && best.inFlight === 0) return { kind: 'use', conn: best, open: null };
  let open: PoolEndpoint<C> | null = null;
  if (w.kind === 'acquire') {
    if (w.opening) return { kind: 'wait', open: null };
    open = opener(candidates, w, ctx.maxSize, false);
    if (open !== null) return { kind: 'wait', open };
  } else {
    open = opener(candidates, w, ctx.maxSize, true);
  }
  if (best !== null) return { kind: 'use', conn: best, open };
  if (open !== null || candidates.some((e) => e.opening > 0 || e.size >= ctx.maxSize)) return { kind: 'wait', open };
  return { kind: 'fail', error: w.lastError ?? new NproError('CONNECT_FAILED', 'no endpoint could be connected') };
}

function leastLoaded<C extends PoolConnection>(candidates: readonly PoolEndpoint<C>[], ctx: ChoiceContext<C>): PooledConnection<C> | null {
  let best: PooledConnection<C> | null = null;
  const n = candidates.length;
  const start = ctx.rotate % n;
  for (let i = 0; i < n; i++) {
    for (const conn of candidates[(start + i) % n]!.conns) {
      if (conn.state !== 'ready' || conn.leased) continue;
      if (!conn.client.connected) {
        ctx.gone(conn);
        continue;
      }
      if (best === null || conn.inFlight < best.inFlight) best = conn;
      if (best.inFlight === 0) return best;
    }
  }
  return best;
}

function opener<C extends PoolConnection>(candidates: readonly PoolEndpoint<C>[], w: Waiter<C>, maxSize: number, onePerEndpoint: boolean): PoolEndpoint<C> | null {
  let pick: PoolEndpoint<C> | null = null;
  for (const e of candidates) {
    if (e.size >= maxSize || w.tried?.has(e) === true) continue;
    if (onePerEndpoint && e.demandOpening > 0) continue;
    if (pick === null || e.size < pick.size) pick = e;
  }
  return pick;
}

/** Every healthy endpoint at `max_size` with no connection taking requests (all leased or draining). */
export function exhausted<C extends PoolConnection>(endpoints: readonly PoolEndpoint<C>[], maxSize: number): boolean {
  return endpoints.every((e) => !e.breaker.allows || (e.size >= maxSize && [...e.conns].every((c) => c.leased || c.state !== 'ready')));
}

/** `CIRCUIT_OPEN`, naming each endpoint's breaker state and the earliest probe time. */
export function circuitOpen<C extends PoolConnection>(endpoints: readonly PoolEndpoint<C>[]): NproError {
  const retryAt = endpoints.map((e) => e.breaker.retryAt).filter((t) => t > 0);
  return new NproError('CIRCUIT_OPEN', `the circuit breaker of every endpoint is open (${endpoints.map((e) => e.url).join(', ')})`, {
    retryable: true,
    details: { endpoints: endpoints.map((e) => ({ url: e.url, breaker: e.breaker.state })), ...(retryAt.length > 0 ? { retryAt: Math.min(...retryAt) } : {}) },
  });
}
