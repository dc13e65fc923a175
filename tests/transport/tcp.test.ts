import net from 'node:net';
import { connect, listen, type Connection } from '../../src/transport/index.js';
import { nextConnection, Peer, rejection, Resources, sleep, within } from '../compliance/harness.js';

let res: Resources;

beforeEach(() => {
  res = new Resources();
  res.start();
});

afterEach(async () => {
  expect(await res.cleanup()).toEqual({});
});

test('a bare host:port with a host name listens on TCP and reports the bound address', async () => {
  const l = res.listener(await listen('localhost:0'));
  expect(l.endpoint.transport).toBe('tcp');
  expect(l.url).toMatch(/^tcp:\/\/(127\.0\.0\.1|\[::1\]):[1-9][0-9]*$/);
  const port = (l.endpoint as { port: number }).port;
  const accepted = nextConnection(l);
  const client = new Peer(res.connection(await connect(`localhost:${port}`)));
  const server = new Peer(res.connection(await accepted));
  client.conn.write(Buffer.from('by name'));
  await server.waitFor(7);
  expect(server.text()).toBe('by name');
});

test('addresses are host:port, IPv6 in brackets, and match across the two ends', async () => {
  const l = res.listener(await listen('tcp://[::1]:0'));
  const accepted = nextConnection(l);
  const client = res.connection(await connect(l.url));
  const server = res.connection(await accepted);
  expect(client.remoteAddress).toBe(l.url.slice('tcp://'.length));
  expect(client.localAddress).toMatch(/^\[::1\]:\d+$/);
  expect(server.remoteAddress).toBe(client.localAddress);
  expect(server.localAddress).toBe(client.remoteAddress);
});

test('a reset after connect reaches the error handler as CONNECTION_CLOSED, then close(true)', async () => {
  const raw = net.createServer((socket) => {
    socket.on('error', () => {});
    socket.once('data', () => socket.resetAndDestroy());
  });
  await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
  try {
    const port = (raw.address() as net.AddressInfo).port;
    const client = new Peer(res.connection(await connect(`127.0.0.1:${port}`)));
    client.conn.write(Buffer.from('trigger'));
    expect(await within(client.closed, 5000, 'close')).toBe(true);
    expect(client.errors).toHaveLength(1);
    expect(client.errors[0]!.code).toBe('CONNECTION_CLOSED');
    expect(client.errors[0]!.details?.['systemCode']).toBe('ECONNRESET');
    expect(client.errors[0]!.cause).toMatchObject({ code: 'ECONNRESET' });
  } finally {
    await new Promise((resolve) => raw.close(resolve));
  }
});

test('paused listeners hold at most `backlog` connections and close the rest', async () => {
  const l = res.listener(await listen('tcp://127.0.0.1:0', { backlog: 2 }));
  const handedOut: Connection[] = [];
  l.onConnection((c) => handedOut.push(res.connection(c)));
  l.pause();
  const clients: Peer[] = [];
  for (let i = 0; i < 4; i++) {
    clients.push(new Peer(res.connection(await connect(l.url))));
    await sleep(20);
  }
  await Promise.all(clients.slice(2).map((c) => within(c.ended, 5000, 'end of a refused connection')));
  expect(clients.map((c) => c.endSeen)).toEqual([false, false, true, true]);
  l.resume();
  for (let i = 0; i < 100 && handedOut.length < 2; i++) await sleep(5);
  expect(handedOut).toHaveLength(2);
});

test('bad arguments are refused with clear codes', async () => {
  expect((await rejection(connect('tcp://127.0.0.1:0'))).code).toBe('CONFIG_INVALID');
  expect((await rejection(connect('nonsense'))).code).toBe('CONFIG_INVALID');
  expect((await rejection(listen('tcp://127.0.0.1'))).code).toBe('CONFIG_INVALID');
  expect((await rejection(connect('127.0.0.1:1', { timeoutMs: -5 }))).code).toBe('INVALID_ARGUMENT');
  expect((await rejection(listen('127.0.0.1:0', { backlog: 0 }))).code).toBe('CONFIG_INVALID');
});

test('binding an address that is not local is CONFIG_INVALID naming the endpoint', async () => {
  const err = await rejection(listen('tcp://192.0.2.1:0'));
  expect(err.code).toBe('CONFIG_INVALID');
  expect(err.message).toContain('tcp://192.0.2.1:0');
  expect(err.details?.['systemCode']).toBe('EADDRNOTAVAIL');
});

test.each(['ws://127.0.0.1:9000/npro', 'wss://localhost:9443'])('%s parses but is not available yet', async (url) => {
  for (const err of [await rejection(listen(url)), await rejection(connect(url))]) {
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.message).toContain('transport not available yet');
  }
});
