/**
 * `ConnectionPool` over real loopback daemons and real timers (behaviour.md §4 Pool): never more than
 * `max_size` connections under load, no lease leaks, least-loaded choice, GoAway, `min_size` with
 * short idle and lifetime values, the breaker with exactly one probe per `breaker_reset`, and one of
 * two daemons killed under load without losing an idempotent request.
 */
import { NproError } from '../../src/core/errors.js';
import { Dispatcher } from '../../src/protocol/dispatcher.js';
import type { Daemon } from '../../src/service/daemon.js';
import { ConnectionPool } from '../../src/service/pool.js';
import type { PoolOptions } from '../../src/service/pool-options.js';
import type { Client } from '../../src/service/client.js';
import type { NetworkConfigInput } from '../../src/utils/config/index.js';
import { silentLogger } from '../../src/utils/logger.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { Resources, keyPair, rejection, sleep, text, until, within } from '../helpers/service.js';

const r = new Resources();
afterEach(() => r.closeAll());

type PoolTable = NonNullable<NetworkConfigInput['pool']>;

async function poolOf(endpoints: string[], key: string, pool: PoolTable, extra: Partial<PoolOptions<Client>> = {}): Promise<ConnectionPool> {
  const p = await ConnectionPool.create({
    endpoints,
    logger: silentLogger(),
    ...extra,
    config: r.config({ ...(extra.config as NetworkConfigInput | undefined), pool }),
    clientOptions: { serverPublicKey: key },
  });
  r.add(() => p.close({ timeoutMs: 0 }));
  return p;
}

/** A daemon named `name`: `WHO` → name and session id, `SLOW` → held until let go, `DELAY` → after a few ms. */
async function namedDaemon(name: string, options: { secret?: Uint8Array; config?: NetworkConfigInput } = {}) {
  const held: (() => void)[] = [];
  const sessions: string[] = [];
  let connections = 0;
  const dispatcher = new Dispatcher()
    .register('WHO', (_p, ctx) => `${name} ${ctx.sessionId}`)
    .register('SLOW', (_p, ctx) => new Promise<string>((resolve) => {
      sessions.push(ctx.sessionId);
      held.push(() => resolve(name));
    }))
    .register('DELAY', async (p) => {
      await sleep(2 + (p[0] ?? 0) % 8);
      return p;
    });
  const daemon: Daemon = await r.daemon({ dispatcher, staticSecret: options.secret ?? keyPair().secretKey, config: options.config ?? {} });
  daemon.on('connection', () => connections++);
  return { daemon, held, sessions, connections: () => connections, release: () => held.splice(0).forEach((f) => f()) };
}

test('never more than max_size connections per endpoint under 200 concurrent requests', async () => {
  const a = await namedDaemon('a');
  const b = await namedDaemon('b', { secret: keyPair().secretKey });
  // Both daemons share the pool's pinned keys: one list with both.
  const pool = await ConnectionPool.create({
    endpoints: [a.daemon.addresses[0]!, b.daemon.addresses[0]!],
    logger: silentLogger(),
    config: r.config({ pool: { max_size: 3 } }),
    clientOptions: { serverPublicKey: [a.daemon.publicKey, b.daemon.publicKey] },
  });
  r.add(() => pool.close({ timeoutMs: 0 }));
  let most = 0;
  const sampler = setInterval(() => {
    for (const e of pool.stats().endpoints) most = Math.max(most, e.open + e.opening);
    most = Math.max(most, a.daemon.stats().connections.current, b.daemon.stats().connections.current);
  }, 1);
  try {
    for (let round = 0; round < 3; round++) {
      const payloads = Array.from({ length: 200 }, (_, i) => new Uint8Array([i, round]));
      const replies = await within(Promise.all(payloads.map((p) => pool.request('DELAY', p))), 10_000, 'the requests');
      expect(replies).toEqual(payloads);
    }
  } finally {
    clearInterval(sampler);
  }
  expect(most).toBeLessThanOrEqual(3);
  expect(a.connections()).toBeLessThanOrEqual(3);
  expect(b.connections()).toBeLessThanOrEqual(3);
  // The load made the pool grow past one connection per endpoint.
  expect(a.connections() + b.connections()).toBeGreaterThan(2);
  expect(pool.stats().totals).toMatchObject({ inFlight: 0, leased: 0 });
});

test('no lease leaks: 100 concurrent withLease calls, a third of them throwing', async () => {
  const a = await namedDaemon('a');
  const pool = await poolOf([a.daemon.addresses[0]!], a.daemon.publicKey, { max_size: 4 });
  const outcomes = await within(
    Promise.allSettled(
      Array.from({ length: 100 }, (_, i) =>
        pool.withLease(async (client) => {
          const reply = text(await client.request('DELAY', new Uint8Array([i])));
          if (i % 3 === 0) throw new Error(`task ${i} failed`);
          return reply;
        }, { timeoutMs: 10_000 }),
      ),
    ),
    15_000,
    'the leases',
  );
  expect(outcomes.filter((o) => o.status === 'rejected')).toHaveLength(34);
  expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(66);
  expect(pool.stats().totals).toMatchObject({ leased: 0, inFlight: 0 });
  expect(pool.stats().totals.open).toBe(pool.stats().totals.idle);
  expect(a.connections()).toBeLessThanOrEqual(4);
  await pool.close();
  await until(() => a.daemon.stats().connections.current === 0);
});

test('least-loaded: requests go to the connection with the fewest in flight; a new one opens when all are busy', async () => {
  const a = await namedDaemon('a');
  const pool = await poolOf([a.daemon.addresses[0]!], a.daemon.publicKey, { min_size: 1, max_size: 3 });
  const first = pool.request('SLOW');
  await until(() => a.sessions.length === 1);
  // The only connection is busy: this one goes there too, and a second connection opens.
  const second = pool.request('SLOW');
  await until(() => a.sessions.length === 2 && pool.stats().totals.open === 2 && pool.stats().totals.opening === 0);
  expect(a.sessions[1]).toBe(a.sessions[0]);
  const idle = text(await pool.request('WHO')).split(' ')[1];
  expect(idle).not.toBe(a.sessions[0]);
  // Ten more at once: each goes to the least-loaded of the two (2 + 4 and 0 + 6 in flight: 6 and 6),
  // and since every connection is busy, a third one opens.
  const more = Array.from({ length: 10 }, () => pool.request('SLOW'));
  await until(() => a.sessions.length === 12);
  const perSession = new Map<string, number>();
  for (const s of a.sessions) perSession.set(s, (perSession.get(s) ?? 0) + 1);
  expect([...perSession.values()]).toEqual([6, 6]);
  await until(() => pool.stats().totals.open === 3 && pool.stats().totals.opening === 0, 2000, 'the third connection');
  expect(pool.stats().totals.inFlight).toBe(12);
  a.release();
  await Promise.all([first, second, ...more]);
});

test('GoAway drains that connection and moves new requests to another', async () => {
  const a = await namedDaemon('a');
  const b = await namedDaemon('b');
  const pool = await ConnectionPool.create({
    endpoints: [a.daemon.addresses[0]!, b.daemon.addresses[0]!],
    logger: silentLogger(),
    config: r.config({ pool: { min_size: 1, max_size: 1 } }),
    clientOptions: { serverPublicKey: [a.daemon.publicKey, b.daemon.publicKey] },
  });
  r.add(() => pool.close({ timeoutMs: 0 }));
  const slow = [pool.request('SLOW'), pool.request('SLOW')];
  await until(() => a.held.length === 1 && b.held.length === 1, 2000, 'one SLOW on each daemon');
  const stopping = a.daemon.shutdown({ timeoutMs: 10_000 });
  await sleep(30);
  const who = await Promise.all(Array.from({ length: 20 }, () => pool.request('WHO', '', { timeoutMs: 5000 })));
  expect(new Set(who.map((w) => text(w).split(' ')[0]))).toEqual(new Set(['b']));
  a.release();
  b.release();
  expect((await Promise.all(slow)).map(text).sort()).toEqual(['a', 'b']);
  await stopping;
  expect(pool.stats().endpoints[0]!.open).toBe(0);
});

test('max_connection_age GoAways are followed by new connections; no request is lost', async () => {
  const a = await namedDaemon('a', { config: { server: { max_connection_age: 250, shutdown_timeout: 1000 } } });
  const pool = await poolOf([a.daemon.addresses[0]!], a.daemon.publicKey, { max_size: 2 });
  const t0 = Date.now();
  let sent = 0;
  const workers = Array.from({ length: 4 }, async () => {
    while (Date.now() - t0 < 900) {
      sent++;
      expect((await pool.request('DELAY', new Uint8Array([sent % 8]), { idempotent: true })).length).toBe(1);
    }
  });
  await within(Promise.all(workers), 5000, 'the workers');
  expect(sent).toBeGreaterThan(20);
  expect(a.connections()).toBeGreaterThanOrEqual(3);
  expect(pool.stats().counters.connects).toBe(a.connections());
});

test('min_size, idle_timeout and max_lifetime with short real values', async () => {
  const a = await namedDaemon('a');
  const pool = await poolOf([a.daemon.addresses[0]!], a.daemon.publicKey, { min_size: 1, max_size: 3, idle_timeout: 150, max_lifetime: 700 }, { healthCheckIntervalMs: 0 });
  const leases = await Promise.all([pool.acquire(), pool.acquire(), pool.acquire()]);
  expect(pool.stats().totals.open).toBe(3);
  for (const l of leases) l.release();
  await until(() => pool.stats().totals.open === 1, 2000, 'the idle timeout');
  expect(pool.stats().counters.idleClosed).toBe(2);
  await until(() => pool.stats().counters.lifetimeRetired >= 1 && pool.stats().totals.open === 1 && pool.stats().totals.opening === 0, 3000, 'a replacement');
  await until(() => a.connections() >= 4 && a.daemon.stats().connections.current === 1, 2000, 'the daemon to see the replacement');
  expect(text(await pool.request('WHO')).startsWith('a ')).toBe(true);
});

test('breaker: open after breaker_failures, CIRCUIT_OPEN at once, exactly one probe per breaker_reset', async () => {
  const a = await namedDaemon('a');
  const proxy = await TcpProxy.start(a.daemon.addresses[0]!, 'refuse');
  r.add(() => proxy.close());
  const pool = await poolOf([proxy.url], a.daemon.publicKey, { max_size: 2, breaker_failures: 2, breaker_reset: 300 });
  for (let i = 0; i < 2; i++) expect((await rejection(pool.request('WHO'))).code).not.toBe('CIRCUIT_OPEN');
  const openedAt = Date.now();
  expect(proxy.accepts).toBe(2);
  for (let i = 0; i < 20; i++) expect((await rejection(pool.request('WHO'))).code).toBe('CIRCUIT_OPEN');
  expect(proxy.accepts).toBe(2);
  await until(() => proxy.accepts === 3, 2000, 'the probe');
  expect(Date.now() - openedAt).toBeGreaterThanOrEqual(280);
  await until(() => pool.stats().endpoints[0]!.breaker === 'open');
  await sleep(150);
  expect(proxy.accepts).toBe(3);
  proxy.mode = 'forward';
  await until(() => pool.stats().endpoints[0]!.breaker === 'closed', 2000, 'the second probe');
  expect(proxy.accepts).toBe(4);
  expect(text(await pool.request('WHO')).startsWith('a ')).toBe(true);
  expect(proxy.accepts).toBe(4);
});

test.each(['shutdown with timeoutMs 0', 'sockets destroyed'])('one of two daemons killed under load (%s): no idempotent request lost, the others fail with a code', async (how) => {
  const a = await namedDaemon('a');
  const b = await namedDaemon('b');
  // The second daemon sits behind a proxy: closing the proxy destroys every socket at once (no Disconnect).
  const proxy = await TcpProxy.start(b.daemon.addresses[0]!);
  r.add(() => proxy.close());
  const pool = await ConnectionPool.create({
    endpoints: [a.daemon.addresses[0]!, proxy.url],
    logger: silentLogger(),
    config: r.config({ pool: { max_size: 4, breaker_reset: 1000 }, client: { connection_timeout: 1000 } }),
    clientOptions: { serverPublicKey: [a.daemon.publicKey, b.daemon.publicKey] },
  });
  r.add(() => pool.close({ timeoutMs: 0 }));
  const total = 2000;
  const counts = { ok: 0, idempotentFailed: 0, otherFailed: 0, otherCodes: new Set<string>() };
  let next = 0;
  let done = 0;
  let killed: Promise<void> | null = null;
  const worker = async (): Promise<void> => {
    while (next < total) {
      const i = next++;
      const idempotent = i % 2 === 0;
      try {
        const reply = await pool.request('DELAY', new Uint8Array([i & 0xff, i >> 8]), { idempotent, timeoutMs: 10_000 });
        expect(reply).toEqual(new Uint8Array([i & 0xff, i >> 8]));
        counts.ok++;
      } catch (err) {
        if (!NproError.is(err)) throw err;
        if (idempotent) counts.idempotentFailed++;
        else {
          counts.otherFailed++;
          counts.otherCodes.add(err.code);
        }
      }
      done++;
      if (done === 500) killed = how === 'sockets destroyed' ? proxy.close() : b.daemon.shutdown({ timeoutMs: 0 });
    }
  };
  await within(Promise.all(Array.from({ length: 64 }, worker)), 20_000, 'the load');
  await killed;
  expect(counts.idempotentFailed).toBe(0);
  expect(counts.ok + counts.otherFailed).toBe(total);
  expect(done).toBe(total);
  for (const code of counts.otherCodes) expect(['CONNECTION_CLOSED', 'TRUNCATED', 'DEADLINE_EXCEEDED', 'CONNECT_FAILED']).toContain(code);
  // Requests were in flight on the daemon that went away: the idempotent ones among them were sent again.
  expect(pool.stats().counters.retries).toBeGreaterThan(0);
  expect(pool.stats().endpoints[1]!.open).toBe(0);
  expect(pool.stats().totals.inFlight).toBe(0);
  await pool.close();
  expect(pool.stats().totals).toEqual({ open: 0, idle: 0, leased: 0, opening: 0, draining: 0, inFlight: 0 });
});
