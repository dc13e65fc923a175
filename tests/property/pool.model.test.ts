/**
 * Model-based test of the pool's bookkeeping (behaviour.md §4 Pool; fast-check `asyncModelRun`):
 * random sequences of acquire, release/destroy, request, reply, connect results, connection
 * failures, time passing and close, checked after every command against a reference model.
 *
 * The unit under test is the pool's accounting (slots, leases, breaker), not the network: connections
 * come from an injected factory whose connect attempts and replies the commands settle by hand, the
 * way `hooks.connect` allows. This is the only pool test that does so; every behaviour here is also
 * exercised against real loopback daemons in tests/service/pool*.test.ts and
 * tests/integration/pool.test.ts.
 *
 * Checked after every command:
 * - per endpoint, live connections + connect attempts under way ≤ `pool.max_size`, and `stats()`
 *   counts exactly those;
 * - the breaker state equals the model's (closed → open after `breaker_failures` consecutive
 *   failures → half-open after `breaker_reset` → one probe: success closes, failure re-opens), no
 *   connect starts while open, and exactly one (the probe) per half-open period;
 * - a leased connection is held by one lease only and gets no pooled request; `stats().leased`
 *   equals the leases held whose connection is alive;
 * - after `close()`, with every lease given back and every connect settled, nothing is left open and
 *   every call has settled.
 */
import fc from 'fast-check';
import { NproError } from '../../src/core/errors.js';
import type { BreakerState } from '../../src/service/breaker.js';
import type { ClientEvents } from '../../src/service/client.js';
import { ConnectionPool } from '../../src/service/pool.js';
import type { PoolConnection, PoolLease, PoolTarget } from '../../src/service/pool-options.js';
import { silentLogger } from '../../src/utils/logger.js';
import { ManualTimers } from '../../src/utils/timers.js';

const RESET_MS = 1000;
const URLS = ['tcp://10.1.0.1:9000', 'tcp://10.1.0.2:9000'];

/** A connection that does only what the commands tell it to. */
class FakeConn implements PoolConnection {
  connected = true;
  closed = false;
  leasedByTest = 0;
  readonly pending: { resolve: (b: Uint8Array) => void; reject: (e: NproError) => void }[] = [];
  readonly #listeners: { disconnected: ((e: ClientEvents['disconnected']) => void)[]; closed: ((e: ClientEvents['closed']) => void)[] } = { disconnected: [], closed: [] };

  constructor(
    readonly url: string,
    readonly world: World,
  ) {}

  on<K extends 'disconnected' | 'closed'>(event: K, listener: (arg: ClientEvents[K]) => void): this {
    (this.#listeners[event] as ((arg: ClientEvents[K]) => void)[]).push(listener);
    return this;
  }

  request(_command: string, _payload?: Uint8Array | string, options: { signal?: AbortSignal } = {}): Promise<Uint8Array> {
    if (this.leasedByTest > 0) this.world.violations.push(`pooled request on a leased connection of ${this.url}`);
    if (!this.connected) return Promise.reject(new NproError('CONNECTION_CLOSED', 'closed', { retryable: true }));
    return new Promise((resolve, reject) => {
      const entry = { resolve, reject };
      this.pending.push(entry);
      options.signal?.addEventListener('abort', () => {
        const i = this.pending.indexOf(entry);
        if (i >= 0) this.pending.splice(i, 1);
        reject(new NproError('CANCELLED', 'aborted'));
      });
    });
  }

  ping(): Promise<number> {
    return this.connected ? Promise.resolve(1) : Promise.reject(new NproError('CONNECTION_CLOSED', 'closed'));
  }

  close(): Promise<void> {
    this.#end(null);
    return Promise.resolve();
  }

  /** The connection breaks (a FIN without Disconnect). */
  kill(): void {
    this.#end(new NproError('TRUNCATED', 'the connection broke'));
  }

  reply(): void {
    for (const p of this.pending.splice(0)) p.resolve(new Uint8Array([1]));
  }

  #end(error: NproError | null): void {
    if (this.closed) return;
    this.closed = true;
    this.connected = false;
    for (const l of this.#listeners.disconnected) l({ code: error?.code ?? null, reason: 'end', error });
    for (const p of this.pending.splice(0)) p.reject(error ?? new NproError('CONNECTION_CLOSED', 'closed'));
    for (const l of this.#listeners.closed) l({ error });
  }
}

interface Attempt {
  url: string;
  resolve: (c: FakeConn) => void;
  reject: (e: NproError) => void;
}

/** The environment the pool runs in: its connections, its connect attempts, what went wrong. */
class World {
  readonly timers = new ManualTimers();
  readonly conns: FakeConn[] = [];
  readonly attempts: Attempt[] = [];
  attemptsMade = 0;
  readonly violations: string[] = [];
  readonly leases: { lease: PoolLease<FakeConn>; conn: FakeConn }[] = [];
  readonly calls: Promise<unknown>[] = [];
  pool!: ConnectionPool<FakeConn>;
  closing: Promise<void> | null = null;

  connect = (target: PoolTarget): Promise<FakeConn> =>
    new Promise((resolve, reject) => {
      this.attemptsMade++;
      this.attempts.push({ url: target.url, resolve, reject });
    });

  live(url: string): FakeConn[] {
    return this.conns.filter((c) => c.url === url && !c.closed);
  }
}

interface EndpointModel {
  state: BreakerState;
  failures: number;
  retryAt: number;
  /** The connect attempt that is this half-open period's probe. */
  probe: Attempt | null;
}

interface Model {
  now: number;
  maxSize: number;
  threshold: number;
  urls: string[];
  breakers: Map<string, EndpointModel>;
  closed: boolean;
}

const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function fail(m: Model, url: string): void {
  const b = m.breakers.get(url)!;
  if (b.state !== 'closed') return;
  b.failures++;
  if (b.failures >= m.threshold) open(m, b);
}

function open(m: Model, b: EndpointModel): void {
  b.state = 'open';
  b.retryAt = m.now + RESET_MS;
  b.probe = null;
}

/** Runs `act`, then checks every invariant, given which connect attempts were started meanwhile. */
async function step(m: Model, w: World, act: () => void | Promise<void>): Promise<void> {
  const before = w.attemptsMade;
  await act();
  await flush();
  await flush();
  const fresh = w.attempts.slice(w.attempts.length - (w.attemptsMade - before));
  for (const a of fresh) {
    const b = m.breakers.get(a.url)!;
    if (m.closed) w.violations.push(`connect to ${a.url} after close()`);
    else if (b.state === 'half-open' && b.probe === null) b.probe = a;
    else if (b.state !== 'closed') w.violations.push(`connect to ${a.url} while its breaker is ${b.state}${b.probe !== null ? ' (second probe)' : ''}`);
  }
  check(m, w);
}

function check(m: Model, w: World): void {
  expect(w.violations).toEqual([]);
  const stats = w.pool.stats();
  for (const s of stats.endpoints) {
    const live = w.live(s.url).length;
    const opening = w.attempts.filter((a) => a.url === s.url).length;
    expect(live + opening).toBeLessThanOrEqual(m.maxSize);
    expect({ url: s.url, open: s.open, opening: s.opening }).toEqual({ url: s.url, open: live, opening });
    const b = m.breakers.get(s.url)!;
    expect({ url: s.url, breaker: s.breaker }).toEqual({ url: s.url, breaker: b.state });
    if (b.state === 'half-open' && !m.closed) expect({ url: s.url, probe: b.probe !== null }).toEqual({ url: s.url, probe: true });
  }
  const held = new Set<FakeConn>();
  for (const { conn } of w.leases) {
    if (held.has(conn)) w.violations.push(`two leases on one connection of ${conn.url}`);
    held.add(conn);
  }
  expect(w.violations).toEqual([]);
  expect(stats.totals.leased).toBe(w.leases.filter((l) => !l.conn.closed).length);
}

type Cmd = fc.AsyncCommand<Model, World>;

const allowed = (codes: string[]) => (err: unknown) => {
  if (!NproError.is(err) || !codes.includes(err.code)) throw err;
};

class AcquireCmd implements Cmd {
  check = (): boolean => true;
  async run(m: Model, w: World): Promise<void> {
    await step(m, w, () => {
      const p = w.pool.acquire({ timeoutMs: 1500 }).then((lease) => {
        if (lease.client.leasedByTest > 0) w.violations.push('a connection leased twice');
        lease.client.leasedByTest++;
        w.leases.push({ lease, conn: lease.client });
      }, allowed(['POOL_EXHAUSTED', 'CIRCUIT_OPEN', 'CONNECT_FAILED', 'CONNECTION_CLOSED']));
      w.calls.push(p);
    });
  }
  toString = (): string => 'acquire';
}

class ReleaseCmd implements Cmd {
  constructor(readonly pick: number, readonly destroy: boolean) {}
  check = (): boolean => true;
  async run(m: Model, w: World): Promise<void> {
    if (w.leases.length === 0) return;
    const [held] = w.leases.splice(this.pick % w.leases.length, 1);
    await step(m, w, () => {
      held!.conn.leasedByTest--;
      if (this.destroy) held!.lease.destroy();
      else held!.lease.release();
      held!.lease.release();
    });
    // A destroyed lease closes its connection; one given back to a closed pool too, once the pooled
    // requests sent on it before the lease are done.
    if (this.destroy) expect(held!.conn.closed).toBe(true);
    else if (m.closed) expect(held!.conn.closed || held!.conn.pending.length > 0).toBe(true);
  }
  toString = (): string => `${this.destroy ? 'destroy' : 'release'}(${this.pick})`;
}

class RequestCmd implements Cmd {
  constructor(readonly idempotent: boolean) {}
  check = (): boolean => true;
  async run(m: Model, w: World): Promise<void> {
    await step(m, w, () => {
      const p = w.pool.request('X', 'y', { timeoutMs: 2500, idempotent: this.idempotent }).catch(
        allowed(['DEADLINE_EXCEEDED', 'POOL_EXHAUSTED', 'CIRCUIT_OPEN', 'CONNECT_FAILED', 'CONNECTION_CLOSED', 'TRUNCATED']),
      );
      w.calls.push(p);
    });
  }
  toString = (): string => `request(${this.idempotent ? 'idempotent' : 'once'})`;
}

class ReplyCmd implements Cmd {
  constructor(readonly pick: number) {}
  check = (): boolean => true;
  async run(m: Model, w: World): Promise<void> {
    const busy = w.conns.filter((c) => !c.closed && c.pending.length > 0);
    if (busy.length === 0) return;
    const conn = busy[this.pick % busy.length]!;
    await step(m, w, () => {
      conn.reply();
      const b = m.breakers.get(conn.url)!;
      if (!m.closed && b.state === 'closed') b.failures = 0;
    });
  }
  toString = (): string => `reply(${this.pick})`;
}

class ConnectResultCmd implements Cmd {
  constructor(readonly pick: number, readonly ok: boolean) {}
  check = (): boolean => true;
  async run(m: Model, w: World): Promise<void> {
    if (w.attempts.length === 0) return;
    const [attempt] = w.attempts.splice(this.pick % w.attempts.length, 1);
    const a = attempt!;
    const b = m.breakers.get(a.url)!;
    const probe = b.state === 'half-open' && b.probe === a;
    await step(m, w, () => {
      if (this.ok) {
        const conn = new FakeConn(a.url, w);
        w.conns.push(conn);
        a.resolve(conn);
      } else {
        a.reject(new NproError('CONNECT_FAILED', 'refused', { retryable: true }));
      }
      if (m.closed) return;
      if (probe) {
        if (this.ok) Object.assign(b, { state: 'closed', failures: 0, probe: null });
        else open(m, b);
      } else if (b.state === 'closed') {
        if (this.ok) b.failures = 0;
        else fail(m, a.url);
      }
    });
  }
  toString = (): string => `connect(${this.pick}, ${this.ok ? 'ok' : 'fail'})`;
}

class KillCmd implements Cmd {
  constructor(readonly pick: number) {}
  check = (): boolean => true;
  async run(m: Model, w: World): Promise<void> {
    const live = w.conns.filter((c) => !c.closed);
    if (live.length === 0) return;
    const conn = live[this.pick % live.length]!;
    await step(m, w, () => {
      conn.kill();
      if (!m.closed) fail(m, conn.url);
    });
  }
  toString = (): string => `kill(${this.pick})`;
}

class AdvanceCmd implements Cmd {
  constructor(readonly ms: number) {}
  check = (): boolean => true;
  async run(m: Model, w: World): Promise<void> {
    await step(m, w, () => {
      w.timers.advance(this.ms);
      m.now += this.ms;
      if (m.closed) return;
      for (const b of m.breakers.values()) if (b.state === 'open' && m.now >= b.retryAt) b.state = 'half-open';
    });
  }
  toString = (): string => `advance(${this.ms})`;
}

class CloseCmd implements Cmd {
  constructor(readonly timeoutMs: number) {}
  check = (m: Readonly<Model>): boolean => !m.closed;
  async run(m: Model, w: World): Promise<void> {
    await step(m, w, () => {
      m.closed = true;
      w.closing = w.pool.close({ timeoutMs: this.timeoutMs });
    });
  }
  toString = (): string => `close(${this.timeoutMs})`;
}

const commands = [
  fc.oneof(
    { weight: 4, arbitrary: fc.constant(new AcquireCmd()) },
    { weight: 3, arbitrary: fc.tuple(fc.nat(), fc.boolean()).map(([i, d]) => new ReleaseCmd(i, d)) },
    { weight: 4, arbitrary: fc.boolean().map((i) => new RequestCmd(i)) },
    { weight: 2, arbitrary: fc.nat().map((i) => new ReplyCmd(i)) },
    { weight: 6, arbitrary: fc.tuple(fc.nat(), fc.boolean()).map(([i, ok]) => new ConnectResultCmd(i, ok)) },
    { weight: 2, arbitrary: fc.nat().map((i) => new KillCmd(i)) },
    { weight: 3, arbitrary: fc.constantFrom(100, 600, 1000, 3000).map((ms) => new AdvanceCmd(ms)) },
    { weight: 1, arbitrary: fc.constantFrom(0, 2000).map((ms) => new CloseCmd(ms)) },
  ),
];

const arbSetup = fc.record({
  endpoints: fc.integer({ min: 1, max: 2 }),
  minSize: fc.integer({ min: 0, max: 1 }),
  maxSize: fc.integer({ min: 1, max: 3 }),
  threshold: fc.integer({ min: 1, max: 3 }),
});

test('pool bookkeeping matches the model under random commands (behaviour.md §4 Pool)', async () => {
  await fc.assert(
    fc.asyncProperty(arbSetup, fc.commands(commands, { maxCommands: 60, size: 'large' }), async (setup, cmds) => {
      const w = new World();
      const urls = URLS.slice(0, setup.endpoints);
      const model: Model = {
        now: 0, maxSize: setup.maxSize, threshold: setup.threshold, urls, closed: false,
        breakers: new Map(urls.map((u) => [u, { state: 'closed' as BreakerState, failures: 0, retryAt: 0, probe: null }])),
      };
      w.pool = new ConnectionPool<FakeConn>({
        endpoints: urls,
        logger: silentLogger(),
        healthCheckIntervalMs: 0,
        config: {
          pool: { min_size: setup.minSize, max_size: setup.maxSize, breaker_failures: setup.threshold, breaker_reset: RESET_MS, idle_timeout: 3000, max_lifetime: 10_000 },
          client: { reconnect_delay: 500 },
        },
        hooks: { timers: w.timers, connect: w.connect },
      });
      const started = w.pool.start();
      await step(model, w, () => undefined);
      await fc.asyncModelRun(() => ({ model, real: w }), cmds);
      // The end: close, give every lease back, settle every connect; nothing may remain.
      if (!model.closed) await new CloseCmd(0).run(model, w);
      for (const { lease, conn } of w.leases.splice(0)) {
        conn.leasedByTest--;
        lease.release();
      }
      for (const a of w.attempts.splice(0)) {
        const conn = new FakeConn(a.url, w);
        w.conns.push(conn);
        a.resolve(conn);
      }
      await flush();
      w.timers.advance(5000);
      await w.closing;
      await started.catch(() => undefined);
      await Promise.all(w.calls);
      expect(w.violations).toEqual([]);
      const stats = w.pool.stats();
      expect(stats.state).toBe('closed');
      expect(stats.totals).toEqual({ open: 0, idle: 0, leased: 0, opening: 0, draining: 0, inFlight: 0 });
      expect(w.conns.filter((c) => !c.closed)).toEqual([]);
      expect(w.timers.size).toBe(0);
    }),
    { numRuns: 150 },
  );
});
