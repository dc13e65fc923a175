/**
 * `npro daemon --workers 2` as real processes (behaviour.md §2, src/service/workers.ts): both
 * workers serve one address with one key, a worker killed with SIGKILL is started again while the
 * other keeps answering, SIGTERM on the primary ends every worker and exits 0, and a Unix socket
 * path is prepared once (stale file removed, mode 0600) and removed at the end.
 *
 * Which process served a connection is read from the daemon's own JSON log lines at debug level:
 * each worker logs `session open` with the session id and its pid, and the client knows its
 * session id. No test-only handler is needed.
 */
import { existsSync, linkSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '../../src/service/client.js';
import { createCertificate, createCertificateAuthority } from '../../src/utils/certs.js';
import { silentLogger } from '../../src/utils/logger.js';
import { alive, DaemonProcess, ensureBuilt, JSON_DEBUG_LOGS, until } from './workers-harness.js';

beforeAll(() => {
  expect(ensureBuilt()).toEqual([]);
}, 180_000);

let dir: string;
let daemons: DaemonProcess[] = [];
let clients: Client[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'npro-workers-'));
  daemons = [];
  clients = [];
});
afterEach(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  for (const d of daemons) {
    const workers = [...d.workerPids().values()];
    d.kill();
    // Workers exit by themselves when their primary's channel closes; any left is killed by pid.
    await d.exit;
    await until(() => workers.every((pid) => !alive(pid)), 'workers gone', 3000).catch(() => {
      for (const pid of workers.filter(alive)) process.kill(pid, 'SIGKILL');
    });
  }
  rmSync(dir, { recursive: true, force: true });
});

function start(args: string[], env: Record<string, string> = {}): DaemonProcess {
  const d = new DaemonProcess(args, dir, { ...JSON_DEBUG_LOGS, ...env });
  daemons.push(d);
  return d;
}

/** Opens `n` connections one after another and sends one request on each. */
async function connectMany(endpoint: string, n: number, tls?: { ca: string }): Promise<Client[]> {
  const opened: Client[] = [];
  for (let i = 0; i < n; i++) {
    const client = await Client.connect(endpoint, {
      trust: 'any',
      logger: silentLogger(),
      config: { client: { auto_reconnect: false } },
      ...(tls === undefined ? {} : { tls }),
    });
    clients.push(client);
    opened.push(client);
    expect(Buffer.from(await client.request('ECHO', `n${i}`)).toString()).toBe(`n${i}`);
  }
  return opened;
}

/** The pid that served each client's session, from the daemon's log. */
async function servedBy(d: DaemonProcess, list: Client[]): Promise<number[]> {
  return Promise.all(list.map((c) => d.waitFor(() => d.sessionPid(c.sessionId), `session ${c.sessionId.slice(0, 8)} in the log`)));
}

describe('npro daemon --workers 2', () => {
  test('both workers serve one TCP address with one key; a killed worker is restarted; SIGTERM → exit 0, no worker left', async () => {
    const d = start(['--workers', '2', '--listen', 'tcp://127.0.0.1:0']);
    const { publicKey, addresses } = await d.started();
    expect(addresses).toHaveLength(1);
    const [tcp] = addresses as [string];
    expect(tcp).toMatch(/^tcp:\/\/127\.0\.0\.1:[1-9]\d*$/);
    // Printed once, by the primary.
    expect(d.lines.filter((l) => l.startsWith('public key: '))).toHaveLength(1);
    expect(statSync(join(dir, '.npro', 'server.key')).mode & 0o777).toBe(0o600);
    expect(readdirSync(join(dir, '.npro'))).toEqual(['server.key']);
    const first = d.workerPids();
    expect([...first.keys()].sort()).toEqual([1, 2]);
    const pids = [...first.values()];
    expect(new Set(pids).size).toBe(2);
    expect(pids).not.toContain(d.pid);

    const batch = await connectMany(tcp, 8);
    expect(new Set(batch.map((c) => c.serverPublicKey))).toEqual(new Set([publicKey]));
    const served = await servedBy(d, batch);
    expect(new Set(served)).toEqual(new Set(pids));

    // SIGKILL worker 1: its sessions end, the other worker's go on, new connections are answered,
    // and worker 1 comes back with a new pid.
    const victim = first.get(1)!;
    const survivor = batch[served.indexOf(first.get(2)!)]!;
    process.kill(victim, 'SIGKILL');
    await until(() => !alive(victim), 'killed worker gone');
    expect(Buffer.from(await survivor.request('ECHO', 'still here')).toString()).toBe('still here');
    const during = await connectMany(tcp, 3);
    expect(new Set(during.map((c) => c.serverPublicKey))).toEqual(new Set([publicKey]));
    const restarted = await d.waitFor(() => {
      const pid = d.workerPids().get(1);
      return pid !== victim ? pid : undefined;
    }, 'worker 1 restarted');
    expect(d.logs().some((l) => l.level === 'warn' && l.workerPid === victim && /restarting in \d+ ms/.test(l.msg ?? ''))).toBe(true);
    const after = await connectMany(tcp, 6);
    expect(new Set(after.map((c) => c.serverPublicKey))).toEqual(new Set([publicKey]));
    expect(new Set(await servedBy(d, after))).toEqual(new Set([restarted, first.get(2)!]));

    await Promise.all(clients.map((c) => c.close()));
    process.kill(d.pid, 'SIGTERM');
    expect(await d.exit).toBe(0);
    for (const pid of [restarted, first.get(2)!]) expect(alive(pid)).toBe(false);
    expect(d.logs().some((l) => l.msg === 'every worker stopped')).toBe(true);
  }, 30_000);

  test('a Unix socket path: a stale file is replaced once, mode 0600, both workers serve, the file is removed at the end', async () => {
    const sock = join(dir, 'd.sock');
    // A stale socket file: bound, hard-linked aside, closed (which unlinks the original), moved back.
    const stale: Server = createServer();
    await new Promise<void>((resolve) => stale.listen(sock, resolve));
    linkSync(sock, `${sock}.old`);
    await new Promise((resolve) => stale.close(resolve));
    renameSync(`${sock}.old`, sock);
    expect(statSync(sock).isSocket()).toBe(true);

    const d = start(['--workers', '2', '--listen', `unix://${sock}`]);
    const { publicKey, addresses } = await d.started();
    expect(addresses).toEqual([`unix://${sock}`]);
    expect(statSync(sock).mode & 0o777).toBe(0o600);
    const batch = await connectMany(`unix://${sock}`, 6);
    expect(new Set(batch.map((c) => c.serverPublicKey))).toEqual(new Set([publicKey]));
    expect(new Set(await servedBy(d, batch))).toEqual(new Set(d.workerPids().values()));
    // Only the socket is left in the directory: no private binding directory of a worker.
    expect(readdirSync(dir).sort()).toEqual(['.npro', 'd.sock']);

    await Promise.all(clients.map((c) => c.close()));
    const workers = [...d.workerPids().values()];
    process.kill(d.pid, 'SIGTERM');
    expect(await d.exit).toBe(0);
    expect(existsSync(sock)).toBe(false);
    for (const pid of workers) expect(alive(pid)).toBe(false);
  }, 30_000);

  test('a primary killed with SIGKILL takes its workers with it; the next daemon replaces the socket it left', async () => {
    const sock = join(dir, 'k.sock');
    const first = start(['--workers', '2', '--listen', `unix://${sock}`]);
    await first.started();
    const workers = [...first.workerPids().values()];
    expect(workers).toHaveLength(2);
    process.kill(first.pid, 'SIGKILL');
    await first.exit;
    await until(() => workers.every((pid) => !alive(pid)), 'workers of the killed primary gone', 5000);
    expect(statSync(sock).isSocket()).toBe(true);

    const second = start(['--workers', '2', '--listen', `unix://${sock}`]);
    const { publicKey } = await second.started();
    const [client] = await connectMany(`unix://${sock}`, 1);
    expect(client!.serverPublicKey).toBe(publicKey);
  }, 30_000);

  test('TLS: both workers complete TLS handshakes on one port', async () => {
    const ca = await createCertificateAuthority({ commonName: 'npro workers test CA', days: 2 });
    const leaf = await createCertificate({ ca, hosts: ['127.0.0.1'], days: 2 });
    writeFileSync(join(dir, 'cert.pem'), leaf.cert);
    writeFileSync(join(dir, 'key.pem'), leaf.key, { mode: 0o600 });
    writeFileSync(join(dir, 'npro.toml'), `[tls]\ncert_file = "${join(dir, 'cert.pem')}"\nkey_file = "${join(dir, 'key.pem')}"\n`);
    const d = start(['--workers', '2', '--config', 'npro.toml', '--listen', 'tls://127.0.0.1:0']);
    const { addresses } = await d.started();
    const batch = await connectMany(addresses[0]!, 4, { ca: ca.cert });
    expect(new Set(await servedBy(d, batch))).toEqual(new Set(d.workerPids().values()));
  }, 30_000);

  test('start-up failures: a live Unix socket before forking, a port in use in the workers (exit 1, no worker left)', async () => {
    const sock = join(dir, 'live.sock');
    const live: Server = createServer((s) => s.destroy());
    await new Promise<void>((resolve) => live.listen(sock, resolve));
    try {
      const d = start(['--workers', '2', '--listen', `unix://${sock}`]);
      expect(await d.exit).toBe(1);
      expect(d.stderr).toMatch(/^error ADDRESS_IN_USE: .*a server is accepting connections on it/m);
      expect(d.workerPids().size).toBe(0);

      const busy: Server = createServer();
      await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
      try {
        const port = (busy.address() as { port: number }).port;
        const e = start(['--workers', '2', '--listen', `tcp://127.0.0.1:${port}`]);
        expect(await e.exit).toBe(1);
        expect(e.stderr).toMatch(/^error ADDRESS_IN_USE: tcp:\/\/127\.0\.0\.1:\d+ is already in use/m);
        expect(e.lines.some((l) => l.startsWith('public key: '))).toBe(false);
      } finally {
        await new Promise((resolve) => busy.close(resolve));
      }
    } finally {
      await new Promise((resolve) => live.close(resolve));
    }
  }, 30_000);

  test('--workers is checked: 0, words and counts over the limit are usage errors (exit 2)', async () => {
    for (const bad of ['0', 'two', '100000']) {
      const d = start(['--workers', bad]);
      expect(await d.exit).toBe(2);
      expect(d.stderr).toMatch(/^npro: daemon: --workers takes a positive integer/);
    }
  }, 30_000);
});
