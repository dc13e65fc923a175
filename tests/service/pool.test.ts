/**
 * `ConnectionPool` against real loopback daemons, with the pool's clock driven by hand
 * (behaviour.md §1, §3 `[pool]`, §4 Pool): `min_size` kept warm, the idle timeout, the max lifetime
 * (kept across leases), health checks, the breaker with exactly one probe, leases, deadlines,
 * draining close, and endpoints (names with several addresses, trust keyed by the configured URL).
 */
import net from 'node:net';
import { existsSync, readFileSync } from 'node:fs';
import { NproError } from '../../src/core/errors.js';
import { Dispatcher } from '../../src/protocol/dispatcher.js';
import type { Client } from '../../src/service/client.js';
import { ConnectionPool } from '../../src/service/pool.js';
import type { PoolOptions } from '../../src/service/pool-options.js';
import type { NetworkConfigInput } from '../../src/utils/config/index.js';
import { silentLogger } from '../../src/utils/logger.js';
import { ManualTimers } from '../../src/utils/timers.js';
import { RawServer } from '../helpers/raw-peer.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { Resources, keyPair, rejection, sleep, text, until } from '../helpers/service.js';

const r = new Resources();
afterEach(() => r.closeAll());

type PoolTable = NonNullable<NetworkConfigInput['pool']>;

/** A started pool on a manual clock; health checks off unless asked for. */
async function poolOf(endpoints: string | string[], key: string | undefined, pool: PoolTable, extra: Partial<PoolOptions<Client>> = {}) {
  const timers = new ManualTimers();
  const p = await ConnectionPool.create({
    endpoints,
    logger: silentLogger(),
    healthCheckIntervalMs: 0,
    ...extra,
    config: r.config({ ...(extra.config as NetworkConfigInput | undefined), pool }),
    clientOptions: { ...(key === undefined ? {} : { serverPublicKey: key }), ...extra.clientOptions },
    hooks: { timers, ...extra.hooks },
  });
  r.add(() => p.close({ timeoutMs: 0 }));
  return { pool: p, timers };
}

/** A daemon with `SLOW` (answers its session id when let go) and `WHO` (answers its session id at once). */
async function slowDaemon() {
  const held: (() => void)[] = [];
  const signals: AbortSignal[] = [];
  const dispatcher = new Dispatcher()
    .register('SLOW', (_p, ctx) => new Promise<string>((resolve) => {
      signals.push(ctx.signal);
      held.push(() => resolve(ctx.sessionId));
    }))
    .register('WHO', (_p, ctx) => ctx.sessionId);
  const daemon = await r.daemon({ dispatcher });
  return { daemon, held, signals, release: () => held.splice(0).forEach((f) => f()) };
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('pool.min_size, pool.idle_timeout, pool.max_lifetime', () => {
  test('min_size connections are opened at start and replaced when one ends', async () => {
    const d = await r.daemon();
    const { pool } = await poolOf(d.addresses[0]!, d.publicKey, { min_size: 2, max_size: 4 });
    expect(pool.stats().endpoints[0]).toMatchObject({ open: 2, idle: 2, opening: 0, breaker: 'closed' });
    await until(() => d.stats().connections.current === 2);
    (await pool.acquire()).destroy();
    await until(() => d.stats().connections.total === 3 && pool.stats().totals.open === 2 && pool.stats().totals.opening === 0);
    expect(pool.stats().counters.connects).toBe(3);
  });

  test('idle_timeout closes connections above min_size unused that long; a use restarts the wait', async () => {
    const { daemon: d } = await slowDaemon();
    const { pool, timers } = await poolOf(d.addresses[0]!, d.publicKey, { min_size: 1, max_size: 3, idle_timeout: 1000 });
    const leases = [await pool.acquire(), await pool.acquire(), await pool.acquire()];
    expect(pool.stats().totals).toMatchObject({ open: 3, leased: 3 });
    for (const l of leases) l.release();
    timers.advance(600);
    await leases[2]!.client.ping();
    const kept = await pool.acquire();
    kept.release();
    timers.advance(399);
    expect(pool.stats().totals.open).toBe(3);
    timers.advance(1);
    // The two unused since 0 close; the one used at 600 is kept (and then, at min_size, stays).
    await until(() => pool.stats().totals.open === 1);
    expect(pool.stats().counters.idleClosed).toBe(2);
    const survivor = await pool.acquire();
    expect(survivor.client).toBe(kept.client);
    survivor.release();
    timers.advance(10_000);
    expect(pool.stats().totals.open).toBe(1);
    await until(() => d.stats().connections.current === 1);
    expect(text(await pool.request('WHO'))).toBe(kept.client.sessionId);
  });

  test('max_lifetime counts from the connect, across leases: the connection is drained and replaced', async () => {
    const d = await r.daemon();
    const { pool, timers } = await poolOf(d.addresses[0]!, d.publicKey, { min_size: 1, max_size: 2, max_lifetime: 5000, idle_timeout: 60_000 });
    timers.advance(3000);
    const lease = await pool.acquire();
    const first = lease.client.sessionId;
    timers.advance(1500);
    lease.release();
    timers.advance(499);
    expect(pool.stats().counters.lifetimeRetired).toBe(0);
    timers.advance(1);
    expect(pool.stats().counters.lifetimeRetired).toBe(1);
    await until(() => d.stats().connections.total === 2 && d.stats().connections.current === 1 && pool.stats().totals.opening === 0);
    const second = await pool.acquire();
    expect(second.client.sessionId).not.toBe(first);
    // Leased past its lifetime: kept while leased, closed (and replaced) when released.
    timers.advance(5000);
    expect(pool.stats().counters.lifetimeRetired).toBe(2);
    expect(text(await second.client.request('ECHO', 'leased'))).toBe('leased');
    second.release();
    await until(() => d.stats().connections.total === 3 && d.stats().connections.current === 1 && pool.stats().totals.opening === 0);
  });
});

describe('health checks', () => {
  test('the default interval is client.heartbeat_interval; a connection in use is not checked', async () => {
    const { daemon: d, held, release } = await slowDaemon();
    const { pool, timers } = await poolOf(d.addresses[0]!, d.publicKey, { min_size: 1, max_size: 1 }, {
      healthCheckIntervalMs: undefined, config: { client: { heartbeat_interval: 2000 } },
    });
    const slow = pool.request('SLOW');
    await until(() => held.length === 1);
    timers.advance(5000);
    expect(pool.stats().counters.healthChecks).toBe(0);
    release();
    await slow;
    timers.advance(1999);
    expect(pool.stats().counters.healthChecks).toBe(0);
    timers.advance(1);
    expect(pool.stats().counters.healthChecks).toBe(1);
  });

  test('an idle connection gets a Ping every healthCheckIntervalMs; a failed check is a breaker failure and closes it', async () => {
    const d = await r.daemon();
    const proxy = await TcpProxy.start(d.addresses[0]!);
    r.add(() => proxy.close());
    const { pool, timers } = await poolOf(proxy.url, d.publicKey, { min_size: 1, max_size: 2, breaker_failures: 1 }, {
      healthCheckIntervalMs: 1000, healthCheckTimeoutMs: 200,
    });
    const messages = d.stats().messages;
    timers.advance(999);
    expect(pool.stats().counters.healthChecks).toBe(0);
    timers.advance(1);
    expect(pool.stats().counters.healthChecks).toBe(1);
    await until(() => d.stats().messages > messages, 2000, 'the Ping');
    timers.advance(1000);
    await until(() => {
      timers.advance(0);
      return pool.stats().counters.healthChecks === 2;
    });
    expect(pool.stats().endpoints[0]).toMatchObject({ breaker: 'closed', failures: 0, open: 1 });
    // The second check started, so the first one succeeded: no failure counted.
    proxy.freeze();
    await until(() => {
      timers.advance(500);
      return pool.stats().counters.healthCheckFailures === 1;
    }, 3000, 'a check to fail');
    expect(pool.stats().endpoints[0]).toMatchObject({ breaker: 'open', failures: 1 });
    await until(() => pool.stats().totals.open === 0, 3000, 'the connection to close');
    expect((await rejection(pool.request('ECHO', 'x'))).code).toBe('CIRCUIT_OPEN');
  });
});

describe('circuit breaker (pool.breaker_failures, pool.breaker_reset)', () => {
  test('answers of the server are not failures: HANDLER_ERROR, UNKNOWN_OPCODE, DEADLINE_EXCEEDED from a handler', async () => {
    const dispatcher = new Dispatcher()
      .register('THROW', () => {
        throw new Error('handler bug');
      })
      .register('LATE', () => {
        throw new NproError('DEADLINE_EXCEEDED', 'the handler gave up');
      });
    const d = await r.daemon({ dispatcher });
    const { pool } = await poolOf(d.addresses[0]!, d.publicKey, { breaker_failures: 1 });
    expect((await rejection(pool.request('THROW'))).code).toBe('HANDLER_ERROR');
    expect((await rejection(pool.request('NOPE'))).code).toBe('UNKNOWN_OPCODE');
    expect((await rejection(pool.request('LATE', '', { idempotent: true }))).code).toBe('DEADLINE_EXCEEDED');
    expect(pool.stats().endpoints[0]).toMatchObject({ breaker: 'closed', failures: 0, open: 1 });
    // The idempotent one was sent a second time (the server gave up before the deadline), then failed with its code.
    expect(pool.stats().counters.retries).toBe(1);
  });

  test('consecutive failures open it: CIRCUIT_OPEN at once; after breaker_reset exactly one probe', async () => {
    const d = await r.daemon();
    const proxy = await TcpProxy.start(d.addresses[0]!, 'refuse');
    r.add(() => proxy.close());
    const { pool, timers } = await poolOf(proxy.url, d.publicKey, { max_size: 2, breaker_failures: 3, breaker_reset: 1000 });
    for (let i = 0; i < 3; i++) {
      const err = await rejection(pool.request('ECHO', 'x'));
      expect(err.code).not.toBe('CIRCUIT_OPEN');
    }
    expect(proxy.accepts).toBe(3);
    expect(pool.stats().endpoints[0]).toMatchObject({ breaker: 'open', failures: 3 });
    const err = await rejection(pool.request('ECHO', 'x'));
    expect(err.code).toBe('CIRCUIT_OPEN');
    expect((await rejection(pool.acquire())).code).toBe('CIRCUIT_OPEN');
    timers.advance(999);
    await sleep(50);
    expect(proxy.accepts).toBe(3);
    timers.advance(1);
    expect(pool.stats().endpoints[0]!.breaker).toBe('half-open');
    expect((await rejection(pool.request('ECHO', 'x'))).code).toBe('CIRCUIT_OPEN');
    await until(() => pool.stats().endpoints[0]!.breaker === 'open', 2000, 'the probe to fail');
    await sleep(50);
    expect(proxy.accepts).toBe(4);
    proxy.mode = 'forward';
    timers.advance(1000);
    await until(() => pool.stats().endpoints[0]!.breaker === 'closed', 2000, 'the probe to succeed');
    expect(proxy.accepts).toBe(5);
    expect(text(await pool.request('ECHO', 'back'))).toBe('back');
    expect(proxy.accepts).toBe(5);
    expect(pool.stats().counters.breakerOpens).toBe(2);
  });

  test('while one endpoint is open, requests go to the other', async () => {
    const d = await r.daemon();
    const proxy = await TcpProxy.start(d.addresses[0]!, 'refuse');
    r.add(() => proxy.close());
    const { pool } = await poolOf([proxy.url, d.addresses[0]!], d.publicKey, { max_size: 2, breaker_failures: 1 });
    const replies = await Promise.all(Array.from({ length: 30 }, (_, i) => pool.request('ECHO', `r${i}`)));
    expect(replies.map(text)).toEqual(Array.from({ length: 30 }, (_, i) => `r${i}`));
    expect(pool.stats().endpoints.map((e) => e.breaker)).toEqual(['open', 'closed']);
    expect(proxy.accepts).toBe(1);
  });

  test('the only endpoint down: a request fails with the connect error, not a hang', async () => {
    const url = `tcp://127.0.0.1:${await freePort()}`;
    const { pool } = await poolOf(url, undefined, { breaker_failures: 5 }, { clientOptions: { trust: 'any' } });
    expect((await rejection(pool.request('ECHO', 'x'))).code).toBe('CONNECT_FAILED');
    expect(pool.stats().endpoints[0]).toMatchObject({ breaker: 'closed', failures: 1, opening: 0 });
  });
});

describe('leases', () => {
  test('a leased connection takes no pooled request; a waiting request is sent once it is released', async () => {
    const { daemon: d } = await slowDaemon();
    const { pool, timers } = await poolOf(d.addresses[0]!, d.publicKey, { min_size: 1, max_size: 1 });
    const lease = await pool.acquire();
    let done = false;
    const waiting = pool.request('WHO', '', { timeoutMs: 1000 }).then((b) => ((done = true), text(b)));
    await sleep(30);
    expect(done).toBe(false);
    expect(pool.stats().waiting).toBe(1);
    lease.release();
    expect(await waiting).toBe(lease.client.sessionId);
    const again = await pool.acquire();
    const starved = rejection(pool.request('WHO', '', { timeoutMs: 1000 }));
    timers.advance(1000);
    expect((await starved).code).toBe('POOL_EXHAUSTED');
    again.release();
  });

  test('at max_size with every connection leased, acquire waits up to its timeout → POOL_EXHAUSTED', async () => {
    const d = await r.daemon();
    const { pool, timers } = await poolOf(d.addresses[0]!, d.publicKey, { max_size: 1 });
    const first = await pool.acquire();
    const late = rejection(pool.acquire({ timeoutMs: 500 }));
    timers.advance(499);
    await sleep(10);
    timers.advance(1);
    expect((await late).code).toBe('POOL_EXHAUSTED');
    const next = pool.acquire({ timeoutMs: 500 });
    first.release();
    const second = await next;
    expect(second.client).toBe(first.client);
    const ctl = new AbortController();
    const aborted = rejection(pool.acquire({ signal: ctl.signal }));
    ctl.abort();
    expect((await aborted).code).toBe('CANCELLED');
    expect(pool.stats()).toMatchObject({ waiting: 0, totals: expect.objectContaining({ open: 1, leased: 1 }) });
    second.release();
  });

  test('release twice is harmless; destroy closes; a lease released after close() closes its connection', async () => {
    const d = await r.daemon();
    const { pool } = await poolOf(d.addresses[0]!, d.publicKey, { max_size: 2 });
    const a = await pool.acquire();
    a.release();
    a.release();
    a.destroy();
    expect(pool.stats().totals).toMatchObject({ open: 1, idle: 1, leased: 0 });
    const b = await pool.acquire();
    b.destroy();
    b.release();
    await until(() => pool.stats().totals.open === 0 && d.stats().connections.current === 0);
    const c = await pool.acquire();
    const closing = pool.close({ timeoutMs: 5000 });
    expect(text(await c.client.request('ECHO', 'mine until released'))).toBe('mine until released');
    expect(pool.stats().totals.leased).toBe(1);
    c.release();
    await closing;
    await until(() => d.stats().connections.current === 0);
    expect(pool.stats()).toMatchObject({ state: 'closed', totals: expect.objectContaining({ open: 0, leased: 0 }) });
  });

  test('withLease releases on return, on a throw and on an abort', async () => {
    const d = await r.daemon();
    const { pool } = await poolOf(d.addresses[0]!, d.publicKey, { max_size: 1 });
    expect(await pool.withLease(async (client) => text(await client.request('ECHO', 'v')))).toBe('v');
    await expect(pool.withLease(() => {
      throw new Error('boom');
    })).rejects.toThrow('boom');
    expect(pool.stats().totals.leased).toBe(0);
    const ctl = new AbortController();
    const err = await rejection(pool.withLease((client) => {
      const pending = client.request('ECHO', 'x', { signal: ctl.signal });
      ctl.abort();
      return pending;
    }));
    expect(err.code).toBe('CANCELLED');
    expect(pool.stats().totals).toMatchObject({ leased: 0, open: 1, idle: 1 });
  });
});

describe('requests and closing', () => {
  test('the deadline covers the request: DEADLINE_EXCEEDED, and the handler is cancelled', async () => {
    const { daemon: d, signals } = await slowDaemon();
    const { pool, timers } = await poolOf(d.addresses[0]!, d.publicKey, { max_size: 1 });
    const late = rejection(pool.request('SLOW', '', { timeoutMs: 300 }));
    await until(() => signals.length === 1);
    timers.advance(300);
    expect((await late).code).toBe('DEADLINE_EXCEEDED');
    // The connection holds the same deadline (on its own clock) and sends Cancel.
    await until(() => signals[0]!.aborted, 2000, 'the Cancel');
    expect(pool.stats().totals.inFlight).toBe(0);
  });

  test('a request the server refused unprocessed (above GoAway last_id) is sent again, even when not idempotent', async () => {
    const server = await RawServer.listen();
    r.add(() => server.close());
    const first = server.nextConnection().then((s) => server.accept(s));
    const { pool } = await poolOf(server.url, server.publicKey, { min_size: 1, max_size: 1 });
    const s1 = await first;
    const kept = pool.request('A', 'one');
    const refused = pool.request('B', 'two');
    const seen = [(await s1.receiveUntil('Request')).found, (await s1.receiveUntil('Request')).found] as { id: number; command: string }[];
    expect(seen.map((m) => [m.id, m.command])).toEqual([[1, 'A'], [2, 'B']]);
    const second = server.nextConnection().then((s) => server.accept(s));
    s1.send([{ type: 'GoAway', lastId: 1, reason: 'test' }]);
    await sleep(20);
    s1.send([{ type: 'Response', id: 1, payload: new TextEncoder().encode('A done') }, { type: 'Disconnect' }]);
    expect(text(await kept)).toBe('A done');
    const s2 = await second;
    const again = (await s2.receiveUntil('Request')).found as { id: number; command: string; payload: Uint8Array };
    expect([again.id, again.command, text(again.payload)]).toEqual([1, 'B', 'two']);
    s2.send([{ type: 'Response', id: 1, payload: new TextEncoder().encode('B done') }]);
    expect(text(await refused)).toBe('B done');
    expect(pool.stats().counters.retries).toBe(0);
  });

  test('close() drains: in-flight requests finish, new and waiting calls fail CONNECTION_CLOSED, then everything closes', async () => {
    const { daemon: d, held, release } = await slowDaemon();
    const { pool } = await poolOf(d.addresses[0]!, d.publicKey, { max_size: 1 });
    const inFlight = pool.request('SLOW');
    await until(() => held.length === 1);
    // The only connection, leased: its pooled request finishes there; a new request has to wait.
    const lease = await pool.acquire();
    const waiting = rejection(pool.request('ECHO', 'w', { timeoutMs: 60_000 }));
    await sleep(10);
    expect(pool.stats().waiting).toBe(1);
    const closing = pool.close({ timeoutMs: 60_000 });
    expect((await waiting).code).toBe('CONNECTION_CLOSED');
    expect((await rejection(pool.request('ECHO', 'x'))).code).toBe('CONNECTION_CLOSED');
    expect((await rejection(pool.acquire())).code).toBe('CONNECTION_CLOSED');
    expect(pool.stats().state).toBe('closing');
    release();
    expect((await inFlight).length).toBe(64);
    expect(pool.stats().totals.open).toBe(1);
    lease.release();
    await closing;
    await until(() => d.stats().connections.current === 0);
  });

  test('close() deadline: what is still in flight fails CONNECTION_CLOSED and nothing stays open', async () => {
    const { daemon: d, held } = await slowDaemon();
    const { pool, timers } = await poolOf(d.addresses[0]!, d.publicKey, { max_size: 2 });
    const stuck = rejection(pool.request('SLOW'));
    const lease = await pool.acquire();
    await until(() => held.length === 1);
    const closing = pool.close({ timeoutMs: 1000 });
    timers.advance(1000);
    expect((await stuck).code).toBe('CONNECTION_CLOSED');
    await closing;
    expect(pool.stats().totals).toEqual({ open: 0, idle: 0, leased: 0, opening: 0, draining: 0, inFlight: 0 });
    expect((await rejection(lease.client.request('ECHO', 'x'))).code).toBe('CONNECTION_CLOSED');
    lease.release();
    await until(() => d.stats().connections.current === 0);
    expect(timers.size).toBe(0);
  });
});

describe('endpoints', () => {
  test('a name with several addresses: one endpoint per address; known_hosts keyed by the configured URL', async () => {
    const port = await freePort();
    const secret = keyPair().secretKey;
    const d = await r.daemon({ listen: [`tcp://127.0.0.1:${port}`, `tcp://[::1]:${port}`], staticSecret: secret });
    const url = `tcp://localhost:${port}`;
    const lookup = async () => [{ address: '127.0.0.1', family: 4 }, { address: '::1', family: 6 }];
    const { pool } = await poolOf(url, undefined, { min_size: 1, max_size: 2 }, { hooks: { lookup } });
    expect(pool.endpointUrls).toEqual([`tcp://127.0.0.1:${port}`, `tcp://[::1]:${port}`]);
    expect(pool.stats().endpoints.map((e) => [e.configuredUrl, e.open])).toEqual([[url, 1], [url, 1]]);
    // One first contact by name (closed again), then one connection per address.
    expect(d.stats().connections.total).toBe(3);
    const knownHosts = r.config().security!.known_hosts!;
    await until(() => existsSync(knownHosts) && readFileSync(knownHosts, 'utf8').includes(url));
    const lines = readFileSync(knownHosts, 'utf8').trim().split('\n');
    expect(lines).toEqual([`${url} ${d.publicKey}`]);
    // Known now: the next pool pins that key on every address, with no first contact.
    const { pool: second } = await poolOf(url, undefined, { min_size: 1, max_size: 2 }, { hooks: { lookup } });
    expect(second.stats().totals.open).toBe(2);
    expect(d.stats().connections.total).toBe(5);
  });

  test('a name with one address stays one endpoint, dialled by name', async () => {
    const d = await r.daemon();
    const port = new URL(d.addresses[0]!).port;
    const lookup = async () => [{ address: '127.0.0.1', family: 4 }];
    const { pool } = await poolOf(`tcp://localhost:${port}`, d.publicKey, {}, { hooks: { lookup } });
    expect(pool.endpointUrls).toEqual([`tcp://localhost:${port}`]);
    expect(text(await pool.request('ECHO', 'named'))).toBe('named');
  });

  test('bad endpoints and configuration are refused before any connection; calls before start()', async () => {
    const base = { logger: silentLogger(), config: r.config() };
    expect((await rejection(ConnectionPool.create({ ...base, endpoints: 'bogus://x' }))).code).toBe('CONFIG_INVALID');
    expect((await rejection(ConnectionPool.create({ ...base, endpoints: [] }))).code).toBe('CONFIG_INVALID');
    expect((await rejection(ConnectionPool.create({ ...base, endpoints: 'tcp://127.0.0.1:1', config: r.config({ pool: { min_size: 3, max_size: 2 } }) }))).code).toBe('CONFIG_INVALID');
    const unresolvable = await rejection(ConnectionPool.create({ ...base, endpoints: 'tcp://nowhere.invalid:9000', hooks: { lookup: () => Promise.reject(new Error('ENOTFOUND')) } }));
    expect(unresolvable.code).toBe('CONNECT_FAILED');
    const pool = new ConnectionPool({ ...base, endpoints: 'tcp://127.0.0.1:1' });
    expect((await rejection(pool.request('ECHO'))).code).toBe('INVALID_STATE');
    expect((await rejection(pool.acquire())).code).toBe('INVALID_STATE');
    await pool.close();
    expect((await rejection(pool.start())).code).toBe('INVALID_STATE');
  });
});
