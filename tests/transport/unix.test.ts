import net from 'node:net';
import { existsSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, listen } from '../../src/transport/index.js';
import { nextConnection, Peer, rejection, Resources, sleep } from '../compliance/harness.js';

let dir: string;
let res: Resources;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'npro-unix-'));
  res = new Resources();
  res.start();
});

afterEach(async () => {
  expect(await res.cleanup()).toEqual({});
  rmSync(dir, { recursive: true, force: true });
});

const mode = (path: string): number => lstatSync(path).mode & 0o777;

/**
 * Proves a listener works: a client's bytes reach one of the connections it hands out (a probe of
 * a second `listen()` may have been handed out first, as an empty connection).
 */
async function roundTrip(url: string, listener: Awaited<ReturnType<typeof listen>>): Promise<void> {
  const served: Peer[] = [];
  listener.onConnection((c) => served.push(new Peer(res.connection(c))));
  const client = new Peer(res.connection(await connect(url)));
  client.conn.write(Buffer.from('ping'));
  for (let i = 0; i < 200 && !served.some((p) => p.text() === 'ping'); i++) await sleep(5);
  expect(served.map((p) => p.text())).toContain('ping');
}

/** A socket file nobody listens on, as a killed daemon leaves behind. */
async function staleSocket(path: string): Promise<void> {
  const server = net.createServer();
  const live = join(dir, 'live.sock');
  await new Promise<void>((resolve) => server.listen(live, resolve));
  linkSync(live, path);
  await new Promise((resolve) => server.close(resolve));
}

test('the socket file is 0600 from the start, with nothing else left in the directory', async () => {
  const path = join(dir, 'd.sock');
  const l = res.listener(await listen(`unix://${path}`));
  expect(lstatSync(path).isSocket()).toBe(true);
  expect(mode(path)).toBe(0o600);
  expect(readdirSync(dir)).toEqual(['d.sock']);
  await roundTrip(l.url, l);
});

test('unixMode sets another mode', async () => {
  const path = join(dir, 'g.sock');
  res.listener(await listen(`unix://${path}`, { unixMode: 0o660 }));
  expect(mode(path)).toBe(0o660);
});

test('a path too long for a private directory beside it is bound directly, still 0600', async () => {
  const path = join(dir, 'p'.repeat(100 - dir.length - 1));
  expect(Buffer.byteLength(path)).toBe(100);
  const l = res.listener(await listen(`unix://${path}`));
  expect(mode(path)).toBe(0o600);
  await roundTrip(l.url, l);
  await l.close();
  expect(existsSync(path)).toBe(false);
});

test('close() removes the socket file', async () => {
  const path = join(dir, 'c.sock');
  const l = await listen(`unix://${path}`);
  expect(existsSync(path)).toBe(true);
  await l.close();
  expect(existsSync(path)).toBe(false);
  const err = await rejection(connect(l.url));
  expect([err.code, err.retryable, err.details?.['systemCode']]).toEqual(['CONNECT_FAILED', true, 'ENOENT']);
});

test('close() leaves a file that replaced ours alone', async () => {
  const path = join(dir, 'r.sock');
  const l = await listen(`unix://${path}`);
  unlinkSync(path);
  writeFileSync(path, 'someone else');
  await l.close();
  expect(readFileSync(path, 'utf8')).toBe('someone else');
});

test('a stale socket file is replaced after its probe is refused', async () => {
  const path = join(dir, 's.sock');
  await staleSocket(path);
  const before = lstatSync(path).ino;
  const l = res.listener(await listen(`unix://${path}`));
  expect(lstatSync(path).ino).not.toBe(before);
  await roundTrip(l.url, l);
});

test('a live daemon keeps its socket: ADDRESS_IN_USE, and it still serves', async () => {
  const path = join(dir, 'live2.sock');
  const l = res.listener(await listen(`unix://${path}`));
  const ino = lstatSync(path).ino;
  const err = await rejection(listen(`unix://${path}`));
  expect(err.code).toBe('ADDRESS_IN_USE');
  expect(lstatSync(path).ino).toBe(ino);
  await roundTrip(l.url, l);
});

test('a regular file or a directory at the path is ADDRESS_IN_USE and never deleted', async () => {
  const file = join(dir, 'file.sock');
  writeFileSync(file, 'precious');
  expect((await rejection(listen(`unix://${file}`))).code).toBe('ADDRESS_IN_USE');
  expect(readFileSync(file, 'utf8')).toBe('precious');
  const sub = join(dir, 'sub.sock');
  mkdirSync(sub);
  expect((await rejection(listen(`unix://${sub}`))).code).toBe('ADDRESS_IN_USE');
  expect(lstatSync(sub).isDirectory()).toBe(true);
});

test('paths over 107 bytes are refused and nothing is created under a truncated name', async () => {
  const path = join(dir, 'x'.repeat(108 - dir.length - 1));
  expect(Buffer.byteLength(path)).toBe(108);
  for (const err of [await rejection(listen(`unix://${path}`)), await rejection(connect(`unix://${path}`))]) {
    expect(err.code).toBe('CONFIG_INVALID');
  }
  expect(readdirSync(dir)).toEqual([]);
});

test('a missing parent directory is CONFIG_INVALID naming the endpoint', async () => {
  const url = `unix://${join(dir, 'missing', 'd.sock')}`;
  const err = await rejection(listen(url));
  expect(err.code).toBe('CONFIG_INVALID');
  expect(err.message).toContain(url);
});

test('an abstract name creates no file and reports @name addresses', async () => {
  const name = `npro-test-${process.pid}-abstract`;
  const l = res.listener(await listen(`unix://@${name}`));
  expect(l.url).toBe(`unix://@${name}`);
  const accepted = nextConnection(l);
  const client = res.connection(await connect(l.url));
  const server = res.connection(await accepted);
  expect([client.remoteAddress, server.localAddress]).toEqual([`@${name}`, `@${name}`]);
  expect(client.protected && server.protected).toBe(true);
});
