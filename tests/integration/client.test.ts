/**
 * The client against a server driven by hand (behaviour.md §4 Client; protocol.md §5): connect
 * retries and backoff, deadlines and Cancel, late replies, truncation, reconnect with idempotent
 * retry, GoAway, what a client answers, heartbeats, and its timeouts.
 */
import net from 'node:net';
import type { Message } from '../../src/core/message.js';
import { encodeMessage } from '../../src/core/message-codec.js';
import { encodeRejectFrame } from '../../src/protocol/handshake-messages.js';
import { Client, backoffDelay } from '../../src/service/client.js';
import { silentLogger } from '../../src/utils/logger.js';
import { RawServer, type RawSession } from '../helpers/raw-peer.js';
import { Resources, rejection, sleep, text, until } from '../helpers/service.js';

const r = new Resources();
afterEach(() => r.closeAll());

async function rawServer(): Promise<RawServer> {
  const server = await RawServer.listen();
  r.add(() => server.close());
  return server;
}

/** A client of `server`, and the server side of its connection. */
async function pair(server: RawServer, config: Parameters<Resources['config']>[0] = {}, options: Partial<Parameters<typeof Client.connect>[1]> = {}) {
  const accepted = server.nextConnection().then((s) => server.accept(s));
  const client = await r.client(server.url, { serverPublicKey: server.publicKey, config, ...options });
  return { client, session: await accepted };
}

/** The next Request the raw server receives. */
async function nextRequest(session: RawSession): Promise<Message & { type: 'Request' }> {
  const { found } = await session.receiveUntil('Request');
  if (found === null) throw new Error('no request arrived');
  return found as Message & { type: 'Request' };
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('connecting (behaviour.md §4 Client)', () => {
  test('server down → CONNECT_FAILED after max_reconnect_attempts with backoff', async () => {
    const url = `tcp://127.0.0.1:${await freePort()}`;
    const t0 = Date.now();
    const err = await rejection(r.client(url, { trust: 'any', config: { client: { reconnect_delay: 50, max_reconnect_attempts: 3 } } }));
    const elapsed = Date.now() - t0;
    expect(err.code).toBe('CONNECT_FAILED');
    expect(err.details).toEqual(expect.objectContaining({ attempts: 4 }));
    // 50 + 80 + 128 ms, each ±20 %.
    expect(elapsed).toBeGreaterThanOrEqual(200);
    expect(elapsed).toBeLessThan(1000);
    const once = await rejection(r.client(url, { trust: 'any', config: { client: { auto_reconnect: false, reconnect_delay: 1000 } } }));
    expect(once.code).toBe('CONNECT_FAILED');
    expect(once.details?.['attempts']).toBeUndefined();
  });

  test('backoff: reconnect_delay × 1.6^(n−1), ±20 %, capped at 30 s', () => {
    expect(backoffDelay(1000, 1, () => 0.5)).toBe(1000);
    expect(backoffDelay(1000, 3, () => 0.5)).toBe(2560);
    expect(backoffDelay(1000, 3, () => 0)).toBe(2048);
    expect(backoffDelay(1000, 3, () => 1)).toBe(3072);
    expect(backoffDelay(1000, 20, () => 1)).toBe(30_000);
  });

  test('client.connection_timeout covers connect and handshake → HANDSHAKE_TIMEOUT', async () => {
    const server = await rawServer();
    const t0 = Date.now();
    const err = await rejection(r.client(server.url, { trust: 'any', config: { client: { connection_timeout: 200, auto_reconnect: false } } }));
    expect(err.code).toBe('HANDSHAKE_TIMEOUT');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(190);
  });

  test('client.address is the default endpoint', async () => {
    const daemon = await r.daemon();
    const client = await Client.connect(undefined, {
      logger: silentLogger(), serverPublicKey: daemon.publicKey, config: r.config({ client: { address: daemon.addresses[0]! } }),
    });
    r.add(() => client.close());
    expect(text(await client.request('ECHO', 'default'))).toBe('default');
  });
});

describe('deadlines and cancel', () => {
  test('a deadline → DEADLINE_EXCEEDED within ±20 ms, Cancel is sent, the late response is dropped', async () => {
    const server = await rawServer();
    const { client, session } = await pair(server);
    const t0 = performance.now();
    const late = rejection(client.request('SLOW', 'x', { timeoutMs: 100 }));
    const request = await nextRequest(session);
    const err = await late;
    const elapsed = performance.now() - t0;
    expect(err.code).toBe('DEADLINE_EXCEEDED');
    expect(Math.abs(elapsed - 100)).toBeLessThanOrEqual(20);
    const { found } = await session.receiveUntil('Cancel');
    expect(found).toEqual({ type: 'Cancel', id: request.id });
    session.send([{ type: 'Response', id: request.id, payload: new Uint8Array([1]) }]);
    await until(() => client.stats().lateReplies === 1);
    const next = client.request('ECHO', 'next');
    const second = await nextRequest(session);
    expect(second.id).toBe(request.id + 1);
    session.send([{ type: 'Response', id: second.id, payload: second.payload }]);
    expect(text(await next)).toBe('next');
  });

  test('client.response_timeout is the default deadline', async () => {
    const server = await rawServer();
    const { client, session } = await pair(server, { client: { response_timeout: 150 } });
    const t0 = Date.now();
    const pending = rejection(client.request('SLOW'));
    await nextRequest(session);
    expect((await pending).code).toBe('DEADLINE_EXCEEDED');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
  });
});

describe('connection loss (protocol.md §5 Ending)', () => {
  test('FIN without Disconnect → pending requests fail TRUNCATED; the client sends its Disconnect', async () => {
    const server = await rawServer();
    const { client, session } = await pair(server, { client: { auto_reconnect: false } });
    const closed = new Promise((resolve) => client.once('closed', resolve));
    const pending = rejection(client.request('X'));
    await nextRequest(session);
    session.socket.socket.end();
    expect((await pending).code).toBe('TRUNCATED');
    expect(await session.receive()).toEqual([{ type: 'Disconnect' }]);
    expect(await closed).toEqual({ error: expect.objectContaining({ code: 'TRUNCATED' }) });
    expect((await rejection(client.request('X'))).code).toBe('CONNECTION_CLOSED');
  });

  test('the server\'s Disconnect after Failure{0, code} fails pending requests with that code', async () => {
    const server = await rawServer();
    const { client, session } = await pair(server, { client: { auto_reconnect: false } });
    const pending = rejection(client.request('X'));
    await nextRequest(session);
    session.send([{ type: 'Failure', id: 0, code: 'PROTOCOL_ERROR', message: 'you did something' }, { type: 'Disconnect' }]);
    expect((await pending).code).toBe('PROTOCOL_ERROR');
  });

  test('a dropped connection fails non-idempotent requests at once and retries idempotent ones after reconnecting', async () => {
    const server = await rawServer();
    const { client, session } = await pair(server, { client: { reconnect_delay: 20 } });
    const events: string[] = [];
    client.on('reconnecting', () => events.push('reconnecting'));
    client.on('reconnected', () => events.push('reconnected'));
    const safe = client.request('READ', 'a', { idempotent: true });
    const unsafe = rejection(client.request('WRITE', 'b'));
    await nextRequest(session);
    await nextRequest(session);
    const second = server.nextConnection().then((s) => server.accept(s));
    session.socket.destroy();
    expect((await unsafe).code).toBe('TRUNCATED');
    const again = await second;
    const retried = await nextRequest(again);
    expect(retried).toEqual(expect.objectContaining({ id: 1, command: 'READ' }));
    again.send([{ type: 'Response', id: 1, payload: new TextEncoder().encode('read ok') }]);
    expect(text(await safe)).toBe('read ok');
    expect(events).toEqual(['reconnecting', 'reconnected']);
    expect(client.stats()).toEqual(expect.objectContaining({ retries: 1, reconnects: 1 }));
  });

  test('GoAway: requests above last_id fail retryable (idempotent ones go to a new connection), in-flight ones finish', async () => {
    const server = await rawServer();
    const { client, session } = await pair(server);
    const kept = client.request('A', '1');
    const dropped = rejection(client.request('B', '2'));
    const moved = client.request('C', '3', { idempotent: true });
    for (let i = 0; i < 3; i++) await nextRequest(session);
    const second = server.nextConnection().then((s) => server.accept(s));
    session.send([{ type: 'GoAway', lastId: 1, reason: 'test' }]);
    const err = await dropped;
    expect(err.code).toBe('CONNECTION_CLOSED');
    expect(err.retryable).toBe(true);
    const fresh = client.request('D', '4');
    const next = await second;
    const onNew = [await nextRequest(next), await nextRequest(next)];
    expect(onNew.map((m) => m.command).sort()).toEqual(['C', 'D']);
    for (const m of onNew) next.send([{ type: 'Response', id: m.id, payload: m.payload }]);
    session.send([{ type: 'Response', id: 1, payload: new TextEncoder().encode('kept') }, { type: 'Disconnect' }]);
    expect(text(await kept)).toBe('kept');
    expect(text(await moved)).toBe('3');
    expect(text(await fresh)).toBe('4');
  });

  test('when reconnecting fails for good, every request settles and the client closes', async () => {
    const server = await rawServer();
    const { client, session } = await pair(server);
    const closed = new Promise<{ error: unknown }>((resolve) => client.once('closed', resolve));
    const draining = rejection(client.request('A', '1', { idempotent: true }));
    await nextRequest(session);
    const second = server.nextConnection();
    session.send([{ type: 'GoAway', lastId: 1, reason: 'moving' }]);
    await until(() => !client.connected);
    const waiting = rejection(client.request('B', '2'));
    const socket = await second;
    await socket.nextFrame();
    socket.write(encodeRejectFrame('STALE_TIMESTAMP', 'your clock is off'));
    expect((await closed).error).toEqual(expect.objectContaining({ code: 'STALE_TIMESTAMP' }));
    expect((await waiting).code).toBe('STALE_TIMESTAMP');
    expect((await draining).code).toBe('CONNECTION_CLOSED');
  });

  test('close() sends Disconnect, fails what is pending with CONNECTION_CLOSED, emits closed', async () => {
    const server = await rawServer();
    const { client, session } = await pair(server);
    const closed = new Promise((resolve) => client.once('closed', resolve));
    const pending = rejection(client.request('X'));
    await nextRequest(session);
    await client.close();
    expect((await pending).code).toBe('CONNECTION_CLOSED');
    expect(await closed).toEqual({ error: null });
    expect((await session.receiveUntil('Disconnect')).found).toEqual({ type: 'Disconnect' });
  });
});

describe('what a client answers (protocol.md §5)', () => {
  test('Ping → Pong, Request → UNKNOWN_OPCODE, an undecodable entry → MESSAGE_MALFORMED; pushes are delivered', async () => {
    const server = await rawServer();
    const { client, session } = await pair(server);
    const it = client[Symbol.asyncIterator]();
    session.send([{ type: 'Ping' }, { type: 'Request', id: 7, command: 'X', payload: new Uint8Array(0) }, { type: 'Custom', command: 'NEWS', payload: new Uint8Array([1]) }]);
    const answers: Message[] = [];
    while (answers.length < 2) answers.push(...((await session.receive()) ?? []));
    expect(answers).toEqual([{ type: 'Pong' }, expect.objectContaining({ type: 'Failure', id: 7, code: 'UNKNOWN_OPCODE' })]);
    expect((await it.next()).value).toEqual(expect.objectContaining({ type: 'Custom', command: 'NEWS' }));
    const good = encodeMessage({ type: 'Echo', text: 'ok' });
    const body = new Uint8Array(4 + 1 + 4 + good.length);
    const view = new DataView(body.buffer);
    view.setUint32(0, 1);
    body[4] = 0xee;
    view.setUint32(5, good.length);
    body.set(good, 9);
    session.socket.write(session.sealer.sealBody(body));
    expect(await session.receive()).toEqual([expect.objectContaining({ type: 'Failure', id: 0, code: 'MESSAGE_MALFORMED' })]);
    expect((await it.next()).value).toEqual({ type: 'Echo', text: 'ok' });
  });
});

describe('client timers', () => {
  test('client.heartbeat_interval: a Ping after silence; no answer → HEARTBEAT_TIMEOUT', async () => {
    const server = await rawServer();
    const { client, session } = await pair(server, { client: { heartbeat_interval: 100, auto_reconnect: false } }, { heartbeatTimeoutMs: 200 });
    const pending = rejection(client.request('X', '', { timeoutMs: 5000 }));
    await nextRequest(session);
    const t0 = Date.now();
    expect((await session.receiveUntil('Ping')).found).toEqual({ type: 'Ping' });
    const last = await session.receiveUntil('Disconnect', 2000);
    expect(last.seen).toEqual([expect.objectContaining({ type: 'Failure', id: 0, code: 'HEARTBEAT_TIMEOUT' }), { type: 'Disconnect' }]);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(150);
    expect((await pending).code).toBe('HEARTBEAT_TIMEOUT');
  });

  test('client.operation_timeout: a write blocked that long fails with DEADLINE_EXCEEDED', async () => {
    const server = await rawServer();
    const { client, session } = await pair(server, { client: { operation_timeout: 200, auto_reconnect: false } });
    session.socket.socket.pause();
    const t0 = Date.now();
    const err = await rejection(client.request('BIG', new Uint8Array(15 * 1024 * 1024), { timeoutMs: 10_000 }));
    expect(err.code).toBe('DEADLINE_EXCEEDED');
    expect(err.message).toContain('operation_timeout');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(190);
    expect(Date.now() - t0).toBeLessThan(3000);
  });

  test('requests after the client closed, and bad arguments, fail at once', async () => {
    const server = await rawServer();
    const { client } = await pair(server);
    expect((await rejection(client.request(''))).code).toBe('INVALID_ARGUMENT');
    expect((await rejection(client.request('X', '', { timeoutMs: 0 }))).code).toBe('INVALID_ARGUMENT');
    const aborted = new AbortController();
    aborted.abort();
    expect((await rejection(client.request('X', '', { signal: aborted.signal }))).code).toBe('CANCELLED');
    expect(() => client.send({ type: 'Disconnect' })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    await client.close();
    expect((await rejection(client.request('X'))).code).toBe('CONNECTION_CLOSED');
    await sleep(1);
  });
});
