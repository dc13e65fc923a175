/**
 * `npro daemon`, `npro call` and `npro ping` in-process (behaviour.md §2): the daemon prints its
 * endpoints and public key, creates its key file 0600 on first start, stops on SIGINT/SIGTERM with
 * exit 0 (removing its Unix socket); `call` prints the response and reports failures as
 * `error CODE: message` (exit 1); bad usage and bad configuration exit 2.
 */
import { existsSync, readFileSync, statSync, chmodSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { main } from '../../src/service/cli/main.js';
import { Daemon } from '../../src/service/daemon.js';
import { readKeyFile, encodePublicKey, generateKeyPair } from '../../src/utils/keys.js';
import { defaultCrypto } from '../../src/utils/crypto/index.js';
import { silentLogger } from '../../src/utils/logger.js';
import { harness, waitForText, type Harness } from './cli-harness.js';

/** Client settings for fast failures: no reconnect attempts. */
const FAST_FAIL = { NETWORK_PROTOCOL_CLIENT_AUTO_RECONNECT: 'false' };

let h: Harness;
/** Daemons a test started: stopped after it even when it failed half-way. */
let running: Promise<number>[] = [];
beforeEach(() => {
  h = harness('npro-daemon-');
  running = [];
});
afterEach(async () => {
  if (running.length > 0) {
    h.signals.emit('SIGTERM');
    h.signals.emit('SIGTERM');
    await Promise.all(running);
  }
  h.cleanup();
});

interface RunningDaemon {
  tcp: string;
  publicKey: string;
  stdout: () => string;
  exit: Promise<number>;
}

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** `npro daemon` in-process with `args`; resolves once it printed its public key. */
async function startDaemon(args: string[], env: Record<string, string> = {}): Promise<RunningDaemon> {
  const io = { ...h.io(), env };
  const exit = main(['daemon', ...args], io);
  running.push(exit);
  const key = await Promise.race([waitForText(io.stdout, /public key: ([A-Za-z0-9_-]{43})\n/), exit.then((code) => {
    throw new Error(`daemon exited with ${code}: ${io.stderr.text}`);
  })]);
  const tcp = /npro daemon listening on (tcp:\/\/\S+)/.exec(io.stdout.text)?.[1] ?? '';
  return { tcp, publicKey: key[1]!, stdout: () => io.stdout.text, exit };
}

describe('npro daemon with call and ping', () => {
  test('prints endpoints and key, serves call/ping, stops on SIGTERM with exit 0 and removes its socket', async () => {
    const sock = join(h.dir, 'd.sock');
    const d = await startDaemon(['--listen', 'tcp://127.0.0.1:0', '--listen', `unix://${sock}`]);
    expect(d.tcp).toMatch(/^tcp:\/\/127\.0\.0\.1:[1-9][0-9]*$/);
    expect(d.stdout()).toContain(`npro daemon listening on unix://${sock}\n`);
    // The key is generated on first start at security.key_file under the working directory, mode 0600.
    const keyFile = join(h.dir, '.npro', 'server.key');
    expect(d.stdout()).toContain(`generated a new static key in ${keyFile} (mode 0600)`);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(encodePublicKey(defaultCrypto.x25519PublicKey(await readKeyFile(keyFile)))).toBe(d.publicKey);
    expect(existsSync(sock)).toBe(true);

    // Trust on first use: the first call records the key in .npro/known_hosts (written in the
    // background once the first record decrypts, hence the wait).
    expect(await h.run(['call', d.tcp, 'ECHO', 'hi'])).toEqual({ code: 0, stdout: 'hi\n', stderr: '' });
    const knownHosts = join(h.dir, '.npro', 'known_hosts');
    await waitFor(() => existsSync(knownHosts));
    expect(readFileSync(knownHosts, 'utf8')).toBe(`${d.tcp} ${d.publicKey}\n`);
    expect(await h.run(['call', '--server-key', d.publicKey, `unix://${sock}`, 'ECHO', 'over unix'])).toEqual({ code: 0, stdout: 'over unix\n', stderr: '' });
    expect(await h.run(['call', d.tcp, 'PING'])).toEqual({ code: 0, stdout: '', stderr: '' });
    expect((await h.run(['call', d.tcp, 'ECHO', 'hi', '--hex'])).stdout).toBe('6869\n');
    expect((await h.run(['call', d.tcp, 'ECHO', '00ff41', '--payload-hex'])).stdout).toBe('00ff41\n');
    const json = await h.run(['call', d.tcp, 'ECHO', 'hi', '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ bytes: 2, text: 'hi' });

    const unknown = await h.run(['call', d.tcp, 'NOPE']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^error UNKNOWN_OPCODE: /);

    const other = encodePublicKey(generateKeyPair().publicKey);
    const pinned = await h.run(['call', '-k', other, d.tcp, 'ECHO', 'hi']);
    expect(pinned.code).toBe(1);
    expect(pinned.stdout).toBe('');
    expect(pinned.stderr).toMatch(/^error SERVER_KEY_MISMATCH: /);

    const ping = await h.run(['ping', d.tcp, '--count', '3', '--interval', '0']);
    expect(ping.code).toBe(0);
    expect(ping.stdout.match(/^reply from .* seq=\d time=\d+\.\d{3} ms$/gm)).toHaveLength(3);
    expect(ping.stdout).toMatch(/3 sent, 3 received, rtt min\/avg\/max = [\d.]+\/[\d.]+\/[\d.]+ ms/);

    h.signals.emit('SIGTERM');
    expect(await d.exit).toBe(0);
    expect(existsSync(sock)).toBe(false);
    expect(h.signals.listenerCount('SIGTERM') + h.signals.listenerCount('SIGINT')).toBe(0);
    const after = await h.run(['call', d.tcp, 'ECHO', 'hi'], FAST_FAIL);
    expect(after.code).toBe(1);
    expect(after.stderr).toMatch(/^error CONNECT_FAILED: /);
  });

  test('a restarted daemon keeps its key; SIGINT also stops it; the config file is honoured', async () => {
    writeFileSync(join(h.dir, 'npro.toml'), '[server]\naddress = "127.0.0.1:0"\n[logging]\nlog_level = "warn"\n');
    const first = await startDaemon(['--config', 'npro.toml']);
    expect(first.tcp).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
    h.signals.emit('SIGINT');
    expect(await first.exit).toBe(0);
    const second = await startDaemon(['-c', 'npro.toml']);
    expect(second.publicKey).toBe(first.publicKey);
    expect(second.stdout()).not.toContain('generated a new static key');
    // log_level = "warn": the info lines of start and shutdown are not written.
    h.signals.emit('SIGTERM');
    expect(await second.exit).toBe(0);
    expect(second.stdout()).not.toMatch(/INFO/);
  });

  test('a second signal during the shutdown forces the close', async () => {
    const d = await startDaemon(['--listen', 'tcp://127.0.0.1:0']);
    h.signals.emit('SIGTERM');
    h.signals.emit('SIGTERM');
    expect(await d.exit).toBe(0);
    expect(d.stdout()).toMatch(/received again: closing every connection now/);
  });
});

describe('npro daemon failures', () => {
  test('an invalid configuration exits 2 listing every problem, before binding', async () => {
    writeFileSync(join(h.dir, 'bad.toml'), '[server]\nmax_connections = 0\nshutdown_timeout = "1ms"\n');
    const r = await h.run(['daemon', '--config', 'bad.toml'], { NETWORK_PROTOCOL_POOL_MAX_SIZE: 'lots' });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^error CONFIG_INVALID: .*\(3 problems\)/);
    for (const field of ['server.max_connections', 'server.shutdown_timeout', 'NETWORK_PROTOCOL_POOL_MAX_SIZE']) expect(r.stderr).toContain(field);
    expect(existsSync(join(h.dir, '.npro'))).toBe(false);
  });

  test('a key file open to group or others is refused (exit 2)', async () => {
    const path = join(h.dir, 'open.key');
    writeFileSync(path, Buffer.from(generateKeyPair().secretKey));
    chmodSync(path, 0o644);
    const r = await h.run(['daemon', '--listen', 'tcp://127.0.0.1:0'], { NETWORK_PROTOCOL_SECURITY_KEY_FILE: 'open.key' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error CONFIG_INVALID: key file .*open\.key has mode 0644/);
  });

  test('a port in use is a runtime error (exit 1)', async () => {
    const busy: Server = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = busy.address() as AddressInfo;
      const r = await h.run(['daemon', '--listen', `tcp://127.0.0.1:${port}`]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^error ADDRESS_IN_USE: /);
    } finally {
      await new Promise((resolve) => busy.close(resolve));
    }
  });

  test.each([
    [['daemon', '--listen', 'ftp://x:1'], /daemon: invalid endpoint "ftp:\/\/x:1": unknown scheme/],
    [['daemon', 'extra'], /daemon: unexpected argument "extra"/],
    [['call', 'tcp://127.0.0.1:9'], /call: missing argument \(URL COMMAND \[PAYLOAD\]\)/],
    [['call', 'tcp://127.0.0.1:0', 'ECHO'], /call: invalid endpoint/],
    [['call', 'tcp://127.0.0.1:9', 'ECHO', '-k', 'short'], /--server-key takes a public key/],
    [['call', 'tcp://127.0.0.1:9', 'ECHO', 'zz', '--payload-hex'], /PAYLOAD is an even number of hex digits/],
    [['call', 'tcp://127.0.0.1:9', 'ECHO', '--hex', '--json'], /--hex and --json do not go together/],
    [['call', 'tcp://127.0.0.1:9', 'ECHO', '--timeout', '-5'], /call: /],
    [['ping'], /ping: missing argument \(URL\)/],
    [['ping', 'tcp://127.0.0.1:9', '--count', '0'], /--count takes a positive integer/],
  ])('%j → usage error, exit 2', async (argv, message) => {
    const r = await h.run(argv);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });
});

describe('npro call against a library daemon', () => {
  test('--timeout gives DEADLINE_EXCEEDED; --key presents a key file the daemon authorises', async () => {
    const { Dispatcher } = await import('../../src/protocol/dispatcher.js');
    const clientKey = join(h.dir, 'client.key');
    expect((await h.run(['keygen', '--out', clientKey])).code).toBe(0);
    const clientPublic = encodePublicKey(defaultCrypto.x25519PublicKey(await readKeyFile(clientKey)));
    const dispatcher = new Dispatcher().register('STALL', (_p, ctx) => new Promise((_resolve, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason as Error))));
    const daemon = await Daemon.start({
      listen: ['tcp://127.0.0.1:0'],
      dispatcher,
      staticSecret: generateKeyPair().secretKey,
      logger: silentLogger(),
      config: { security: { authorized_clients: [clientPublic] } },
    });
    try {
      const url = daemon.addresses[0]!;
      const pin = ['--server-key', daemon.publicKey];
      const refused = await h.run(['call', url, 'ECHO', 'hi', ...pin], FAST_FAIL);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/^error CLIENT_NOT_AUTHORIZED: /);
      expect(await h.run(['call', url, 'ECHO', 'hi', ...pin, '--key', 'client.key'])).toEqual({ code: 0, stdout: 'hi\n', stderr: '' });
      const slow = await h.run(['call', url, 'STALL', ...pin, '--key', clientKey, '--timeout', '100']);
      expect(slow.code).toBe(1);
      expect(slow.stderr).toMatch(/^error DEADLINE_EXCEEDED: /);
    } finally {
      await daemon.shutdown({ timeoutMs: 0 });
    }
  });

  test('a server key that begins with "-" is taken as the value of -k / --server-key; "--" ends the options', async () => {
    let secret = generateKeyPair().secretKey;
    for (let i = 0; i < 5000 && !encodePublicKey(defaultCrypto.x25519PublicKey(secret)).startsWith('-'); i++) secret = generateKeyPair().secretKey;
    const daemon = await Daemon.start({ listen: ['tcp://127.0.0.1:0'], staticSecret: secret, logger: silentLogger() });
    try {
      const url = daemon.addresses[0]!;
      expect(daemon.publicKey.startsWith('-')).toBe(true);
      expect(await h.run(['call', url, 'ECHO', '-k', daemon.publicKey, '--', '-x'])).toEqual({ code: 0, stdout: '-x\n', stderr: '' });
      expect(await h.run(['call', '--server-key', daemon.publicKey, url, 'ECHO', 'y'])).toEqual({ code: 0, stdout: 'y\n', stderr: '' });
      expect((await h.run(['ping', url, '-n', '1', '-k', daemon.publicKey])).code).toBe(0);
    } finally {
      await daemon.shutdown({ timeoutMs: 0 });
    }
  });
});
