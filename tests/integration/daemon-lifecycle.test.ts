/**
 * Daemon start-up and shutdown over real sockets (behaviour.md §1, §4 Daemon and Config): checks
 * before binding, addresses in use, stale Unix sockets, key files, events, statistics, logging, and a
 * graceful shutdown with requests in flight.
 */
import { chmodSync, existsSync, linkSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { Dispatcher } from '../../src/protocol/dispatcher.js';
import { Daemon } from '../../src/service/daemon.js';
import { silentLogger } from '../../src/utils/logger.js';
import { systemTimers, type TimerHandle, type Timers } from '../../src/utils/timers.js';
import { Resources, rejection, sleep, text, until } from '../helpers/service.js';

const r = new Resources();
afterEach(() => r.closeAll());

/** System timers that count the ones alive (set and neither fired nor cancelled). */
class CountingTimers implements Timers {
  readonly live = new Set<number>();
  #next = 0;

  now(): number {
    return systemTimers.now();
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = ++this.#next;
    this.live.add(id);
    const handle = systemTimers.setTimeout(() => {
      this.live.delete(id);
      fn();
    }, ms);
    return {
      cancel: () => {
        this.live.delete(id);
        handle.cancel();
      },
    };
  }
}

const sockets = (): number => process.getActiveResourcesInfo().filter((k) => /TCP|Pipe|TLS/i.test(k)).length;

describe('start-up checks (behaviour.md §4 Config)', () => {
  test('an invalid configuration fails before anything binds, naming every field', async () => {
    const path = join(r.dir, 'never.sock');
    const err = await rejection(
      Daemon.start({
        listen: [`unix://${path}`],
        logger: silentLogger(),
        config: r.config({ server: { max_connections: 0, heartbeat_interval: 5 }, transport: { compression_level: 99 } }),
      }),
    );
    expect(err.code).toBe('CONFIG_INVALID');
    const fields = (err.details!['problems'] as { field: string }[]).map((p) => p.field);
    expect(fields).toEqual(expect.arrayContaining(['server.max_connections', 'server.heartbeat_interval', 'transport.compression_level']));
    expect(existsSync(path)).toBe(false);
    expect(existsSync(join(r.dir, 'server.key'))).toBe(false);
  });

  test('bad endpoints and plaintext records on tcp:// are refused before binding', async () => {
    const path = join(r.dir, 'first.sock');
    const bad = await rejection(r.daemon({ listen: [`unix://${path}`, 'tcp://127.0.0.1:notaport'] }));
    expect(bad.code).toBe('CONFIG_INVALID');
    expect(bad.message).toContain('listen');
    expect(existsSync(path)).toBe(false);
    const plaintext = await rejection(r.daemon({ config: { transport: { encryption_enabled: false } } }));
    expect(plaintext.code).toBe('CONFIG_INVALID');
    expect(plaintext.message).toContain('transport.encryption_enabled');
    const tls = await rejection(r.daemon({ listen: ['tls://127.0.0.1:0'] }));
    expect(tls.code).toBe('CONFIG_INVALID');
    expect(tls.message).toContain('tls.cert_file');
  });

  test('a Unix socket path over 107 bytes is refused, not truncated', async () => {
    const long = `/tmp/${'x'.repeat(110)}.sock`;
    const err = await rejection(r.daemon({ listen: [`unix://${long}`] }));
    expect(err.code).toBe('CONFIG_INVALID');
    expect(existsSync(long.slice(0, 107))).toBe(false);
  });

  test('server.address is the default endpoint', async () => {
    const daemon = await r.daemon({ listen: undefined, config: { server: { address: '127.0.0.1:0' } } });
    expect(daemon.addresses).toHaveLength(1);
    expect(daemon.addresses[0]).toMatch(/^tcp:\/\/127\.0\.0\.1:[1-9]\d*$/);
    const client = await r.client(daemon);
    expect(text(await client.request('ECHO', 'default address'))).toBe('default address');
  });
});

describe('addresses in use (behaviour.md §4 Daemon)', () => {
  test('a taken TCP port → ADDRESS_IN_USE, and listeners bound before it are released', async () => {
    const first = await r.daemon();
    const path = join(r.dir, 'released.sock');
    const err = await rejection(r.daemon({ listen: [`unix://${path}`, first.addresses[0]!] }));
    expect(err.code).toBe('ADDRESS_IN_USE');
    expect(existsSync(path)).toBe(false);
  });

  test('a live daemon on a Unix path → ADDRESS_IN_USE; its socket is 0600 and removed at shutdown', async () => {
    const path = join(r.dir, 'live.sock');
    const daemon = await r.daemon({ listen: [`unix://${path}`] });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const err = await rejection(r.daemon({ listen: [`unix://${path}`] }));
    expect(err.code).toBe('ADDRESS_IN_USE');
    const client = await r.client(daemon);
    expect(text(await client.request('ECHO', 'still served'))).toBe('still served');
    await daemon.shutdown({ timeoutMs: 1000 });
    expect(existsSync(path)).toBe(false);
  });

  test('a stale Unix socket file is replaced once a connect probe fails', async () => {
    const live = join(r.dir, 'live.sock');
    const stale = join(r.dir, 'stale.sock');
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(live, resolve));
    linkSync(live, stale);
    await new Promise<void>((resolve) => server.close(() => resolve()));
    expect(statSync(stale).isSocket()).toBe(true);
    const daemon = await r.daemon({ listen: [`unix://${stale}`] });
    const client = await r.client(daemon);
    expect(text(await client.request('ECHO', 'replaced'))).toBe('replaced');
  });
});

describe('keys (protocol.md §6)', () => {
  test('security.key_file is created with mode 0600 and reused; an open one is refused', async () => {
    const keyFile = join(r.dir, 'daemon.key');
    const start = () => Daemon.start({ listen: ['tcp://127.0.0.1:0'], logger: silentLogger(), config: r.config({ security: { key_file: keyFile } }) });
    const a = await start();
    const key = a.publicKey;
    await a.shutdown({ timeoutMs: 0 });
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    const b = await start();
    expect(b.publicKey).toBe(key);
    await b.shutdown({ timeoutMs: 0 });
    chmodSync(keyFile, 0o644);
    expect((await rejection(start())).code).toBe('KEY_FILE_INSECURE');
    writeFileSync(join(r.dir, 'bad.key'), 'not a key', { mode: 0o600 });
    const bad = await rejection(Daemon.start({ logger: silentLogger(), config: r.config({ security: { key_file: join(r.dir, 'bad.key') } }) }));
    expect(bad.code).toBe('CONFIG_INVALID');
  });
});

describe('events, statistics and logging', () => {
  test('connection events carry the session id and the client key; stats count them', async () => {
    const daemon = await r.daemon();
    const opened: { sessionId: string; peerPublicKey: string; protocol: string }[] = [];
    const closed: { sessionId: string; code: string | null }[] = [];
    daemon.on('connection', (e) => opened.push(e));
    daemon.on('connection-closed', (e) => closed.push(e));
    const client = await r.client(daemon);
    await client.request('ECHO', 'x');
    expect(opened).toEqual([expect.objectContaining({ sessionId: client.sessionId, peerPublicKey: client.publicKey, protocol: 'v2' })]);
    await client.close();
    await until(() => closed.length === 1);
    expect(closed[0]).toEqual(expect.objectContaining({ sessionId: client.sessionId, code: null }));
    const stats = daemon.stats();
    expect(stats.connections).toEqual({ current: 0, total: 1, refused: 0 });
    expect(stats.handshakes).toEqual({ ok: 1, failed: 0 });
    expect(stats.requests).toBe(1);
    expect(stats.bytes.in).toBeGreaterThan(0);
    expect(stats.bytes.out).toBeGreaterThan(0);
    expect(stats.latency.count).toBe(1);
  });

  test('[logging] is applied when no logger is given: JSON lines in the log file', async () => {
    const logFile = join(r.dir, 'daemon.log');
    const daemon = await r.daemon({
      logger: undefined,
      config: { logging: { log_to_console: false, log_to_file: true, log_file_path: logFile, json_format: true, app_name: 'npro-it', log_level: 'debug' } },
    });
    const client = await r.client(daemon);
    await client.request('ECHO', 'x');
    await client.close();
    await daemon.shutdown({ timeoutMs: 0 });
    const lines = readFileSync(logFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.length).toBeGreaterThan(2);
    expect(lines.every((l) => l['app'] === 'npro-it')).toBe(true);
    expect(lines.some((l) => l['component'] === 'daemon' && l['msg'] === 'listening')).toBe(true);
    expect(lines.some((l) => l['level'] === 'debug' && l['msg'] === 'session open')).toBe(true);
  });
});

describe('baseline (behaviour.md §4: timers and sockets return to their baseline)', () => {
  test('after requests, deadlines, cancels, heartbeats and pings, every timer and socket is released', async () => {
    const baseline = sockets();
    const timers = new CountingTimers();
    const dispatcher = new Dispatcher().register('SLOW', async (p) => {
      await sleep(30);
      return p;
    });
    const config = { server: { heartbeat_interval: 100, heartbeat_timeout: 200, idle_timeout: 5000 }, client: { heartbeat_interval: 100 } };
    const daemon = await r.daemon({ dispatcher, config, hooks: { timers } });
    const clients = await Promise.all([1, 2, 3].map(() => r.client(daemon, { config, hooks: { timers } })));
    for (const client of clients) {
      await Promise.all(Array.from({ length: 20 }, (_, i) => client.request(i % 2 === 0 ? 'ECHO' : 'SLOW', `x${i}`)));
      expect((await rejection(client.request('SLOW', 'late', { timeoutMs: 10 }))).code).toBe('DEADLINE_EXCEEDED');
      const controller = new AbortController();
      const aborted = rejection(client.request('SLOW', 'aborted', { signal: controller.signal }));
      controller.abort();
      expect((await aborted).code).toBe('CANCELLED');
      await client.ping();
    }
    await sleep(250);
    expect(timers.live.size).toBeGreaterThan(0);
    await Promise.all(clients.map((c) => c.close()));
    await daemon.shutdown({ timeoutMs: 500 });
    await until(() => timers.live.size === 0, 2000, 'every timer released');
    await until(() => sockets() <= baseline, 2000, 'every socket closed');
  });
});

describe('shutdown (behaviour.md §4 Daemon)', () => {
  test('in-flight requests finish, GoAway stops new ones, the daemon closes', async () => {
    const dispatcher = new Dispatcher().register('SLOW', async (p) => {
      await sleep(150);
      return p;
    });
    const daemon = await r.daemon({ dispatcher });
    const client = await r.client(daemon, { config: { client: { auto_reconnect: false } } });
    const inFlight = [1, 2, 3].map((i) => client.request('SLOW', `r${i}`));
    await until(() => daemon.stats().requests === 3);
    const stopped = daemon.shutdown({ timeoutMs: 2000 });
    await sleep(20);
    const late = await rejection(client.request('ECHO', 'after GoAway'));
    expect(late.code).toBe('CONNECTION_CLOSED');
    expect(late.retryable).toBe(true);
    expect((await Promise.all(inFlight)).map(text)).toEqual(['r1', 'r2', 'r3']);
    await stopped;
    expect(daemon.sessionCount).toBe(0);
    expect((await rejection(r.client(daemon, { config: { client: { auto_reconnect: false } } }))).code).toBe('CONNECT_FAILED');
  });

  test('at the deadline, handlers are aborted and their requests fail DEADLINE_EXCEEDED', async () => {
    const reasons: unknown[] = [];
    const dispatcher = new Dispatcher().register('HANG', (_p, ctx) => new Promise(() => {
      ctx.signal.addEventListener('abort', () => reasons.push(ctx.signal.reason));
    }));
    const daemon = await r.daemon({ dispatcher });
    const client = await r.client(daemon);
    const hanging = rejection(client.request('HANG', 'x'));
    await until(() => daemon.stats().requests === 1);
    const t0 = Date.now();
    await daemon.shutdown({ timeoutMs: 200 });
    const elapsed = Date.now() - t0;
    expect(elapsed).toBeGreaterThanOrEqual(180);
    expect(elapsed).toBeLessThan(1500);
    expect((await hanging).code).toBe('DEADLINE_EXCEEDED');
    expect(reasons).toEqual([expect.objectContaining({ code: 'DEADLINE_EXCEEDED' })]);
  });

  test('a second shutdown() with an earlier deadline brings the forced end forward', async () => {
    const dispatcher = new Dispatcher().register('HANG', () => new Promise(() => undefined));
    const daemon = await r.daemon({ dispatcher });
    const client = await r.client(daemon);
    const hanging = rejection(client.request('HANG', 'x'));
    await until(() => daemon.stats().requests === 1);
    const t0 = Date.now();
    const first = daemon.shutdown({ timeoutMs: 10_000 });
    await sleep(50);
    await daemon.shutdown({ timeoutMs: 0 });
    await first;
    expect(Date.now() - t0).toBeLessThan(1500);
    expect((await hanging).code).toBe('DEADLINE_EXCEEDED');
  });

  test('server.shutdown_timeout is the default drain deadline', async () => {
    const dispatcher = new Dispatcher().register('HANG', () => new Promise(() => undefined));
    const daemon = await r.daemon({ dispatcher, config: { server: { shutdown_timeout: 1000 } } });
    const client = await r.client(daemon);
    const hanging = rejection(client.request('HANG', 'x'));
    await until(() => daemon.stats().requests === 1);
    const t0 = Date.now();
    await daemon.shutdown();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(950);
    expect((await hanging).code).toBe('DEADLINE_EXCEEDED');
  });
});
