/**
 * What `ConnectionPool` takes and reports (behaviour.md §1 `ConnectionPool`, §3 `[pool]`), and the
 * two lists of error codes that decide what a failure means to the pool.
 */
import type { ErrorCode } from '../core/errors.js';
import type { NetworkConfig, NetworkConfigInput } from '../utils/config/index.js';
import type { Logger } from '../utils/logger.js';
import type { Timers } from '../utils/timers.js';
import type { BreakerState } from './breaker.js';
import type { ClientEvents, ClientOptions, RequestOptions } from './client.js';

/**
 * What the pool needs of a connection: `Client` has all of it. A test of the pool's bookkeeping may
 * inject another implementation through `hooks.connect`.
 */
export interface PoolConnection {
  /** True while the connection takes new requests (false after `GoAway` or its end). */
  readonly connected: boolean;
  /** The server's static key (base64url) once handshaken. */
  readonly serverPublicKey?: string;
  request(command: string, payload?: Uint8Array | string, options?: RequestOptions): Promise<Uint8Array>;
  ping(options?: { timeoutMs?: number }): Promise<number>;
  close(): Promise<void>;
  on<K extends 'disconnected' | 'closed'>(event: K, listener: (arg: ClientEvents[K]) => void): unknown;
}

/** One connection to open: the address dialled, the endpoint it belongs to, the client options. */
export interface PoolTarget {
  /** The URL dialled: the configured one, or one address of a name with several. */
  url: string;
  /** The endpoint as configured (the known_hosts key). */
  configuredUrl: string;
  options: ClientOptions;
}

/** An address of a host name, as `dns.lookup(host, { all: true })` gives it. */
export interface LookupAddress {
  address: string;
  family: number;
}

export interface PoolHooks<C extends PoolConnection> {
  /** The pool's clock: idle timeout, lifetime, health checks, breaker, deadlines (default `systemTimers`). */
  timers?: Timers;
  /** Opens one connection (default: `Client.connect(target.url, target.options)`). */
  connect?: (target: PoolTarget) => Promise<C>;
  /** Resolves a host name to all its addresses (default: `node:dns` `lookup` with `all: true`). */
  lookup?: (host: string) => Promise<LookupAddress[]>;
}

export interface PoolOptions<C extends PoolConnection> {
  /** Endpoint URLs (default: `[client.address]`). A name with several addresses becomes one endpoint per address. */
  endpoints?: string | readonly string[];
  /** Configuration: `[pool]` for the pool, the rest for its connections (default: every default). */
  config?: NetworkConfigInput | NetworkConfig;
  /** Options of every connection: trust, keys, TLS, … (`config` and reconnecting belong to the pool). */
  clientOptions?: Omit<ClientOptions, 'config'>;
  /** Default: a logger made from `[logging]`, closed by `close()`; connections log through it too. */
  logger?: Logger;
  /**
   * An idle connection gets a `Ping` when it has been unused (requests, leases and checks) this
   * long, in ms (default `client.heartbeat_interval`; 0 turns health checks off).
   */
  healthCheckIntervalMs?: number;
  /** Deadline of a health-check `Ping` and of the half-open probe's `Ping` (default `client.connection_timeout`). */
  healthCheckTimeoutMs?: number;
  hooks?: PoolHooks<C>;
}

export interface AcquireOptions {
  signal?: AbortSignal;
  /** How long to wait for a connection (default `client.connection_timeout`) → `POOL_EXHAUSTED`. */
  timeoutMs?: number;
}

/** A connection of one's own, until `release()` (back to the pool) or `destroy()` (closed). */
export interface PoolLease<C extends PoolConnection> {
  readonly client: C;
  /** The URL of the endpoint it is connected to. */
  readonly endpoint: string;
  /** Gives the connection back (closed instead when the pool is closing, it is too old, or it ended). Idempotent. */
  release(): void;
  /** Closes the connection instead of giving it back. Idempotent (and a no-op after `release()`). */
  destroy(): void;
}

export interface PoolEndpointStats {
  /** The URL dialled. */
  url: string;
  /** The endpoint as configured (differs from `url` for a name with several addresses). */
  configuredUrl: string;
  /** Connections established and not yet closed (leased, draining and closing ones included). */
  open: number;
  /** Open, not leased, nothing in flight, taking requests. */
  idle: number;
  leased: number;
  /** Connect attempts under way (the half-open probe included). */
  opening: number;
  /** Taking no new requests (GoAway, max lifetime, breaker open) until their requests are done. */
  draining: number;
  /** Pool requests in flight on this endpoint's connections. */
  inFlight: number;
  breaker: BreakerState;
  /** Consecutive failures counted by the breaker. */
  failures: number;
}

export interface PoolStats {
  state: 'open' | 'closing' | 'closed';
  endpoints: PoolEndpointStats[];
  totals: { open: number; idle: number; leased: number; opening: number; draining: number; inFlight: number };
  /** Requests and acquires waiting for a connection. */
  waiting: number;
  counters: {
    requests: number;
    /** Idempotent requests sent a second time. */
    retries: number;
    /** Connections established (probes included). */
    connects: number;
    connectFailures: number;
    healthChecks: number;
    healthCheckFailures: number;
    /** Connections closed by `pool.idle_timeout`. */
    idleClosed: number;
    /** Connections retired by `pool.max_lifetime`. */
    lifetimeRetired: number;
    breakerOpens: number;
  };
}

/**
 * Codes with which a request fails when its connection broke. Breaker failures are counted per
 * connection, once: a connection that ends with an error (the client's `disconnected` event with a
 * code), or a request failing with one of these on a connection that no longer takes requests, is
 * one failure of its endpoint. Every failed connect attempt and every failed health check is one
 * failure too, whatever its code. Not failures: a clean end (the server's `Disconnect`, a drained
 * `GoAway`, the pool's own close), and any answer the server gave to a request (`HANDLER_ERROR`,
 * `UNKNOWN_OPCODE`, `DEADLINE_EXCEEDED`, `CANCELLED`, `TOO_MANY_STREAMS`, `RATE_LIMITED`,
 * `MESSAGE_MALFORMED`, `FRAME_TOO_LARGE`, `COMPRESSION_FAILED`, …).
 */
export const CONNECTION_FAILURES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'TRUNCATED', 'HEARTBEAT_TIMEOUT', 'FRAME_TIMEOUT', 'RECORD_AUTH_FAILED', 'PROTOCOL_ERROR', 'KEY_EXHAUSTED',
  'CONNECT_FAILED', 'HANDSHAKE_TIMEOUT', 'HANDSHAKE_FAILED', 'TLS_ERROR',
]);

/**
 * Failures after which a request marked idempotent is sent once more, on another endpoint when one
 * is healthy (else on another connection): the codes above, `CONNECTION_CLOSED` (the connection
 * ended or went away before answering), `SERVER_BUSY`, and `DEADLINE_EXCEEDED` from the server
 * before the caller's deadline (a daemon at its drain deadline answers what it stops waiting for that
 * way; the pool's own deadline is `DEADLINE_EXCEEDED` too, but then no time is left). A request not
 * marked idempotent fails with its code.
 */
export const RETRY_FAILURES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  ...CONNECTION_FAILURES, 'CONNECTION_CLOSED', 'SERVER_BUSY', 'DEADLINE_EXCEEDED',
]);
