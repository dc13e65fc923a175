/**
 * The v2 conversation as a daemon runs it (protocol.md §4, §5; behaviour.md §4 Daemon): handlers and
 * their context, failures, cancel, reply order, oversize replies, malformed entries, idle and
 * heartbeat timers, connection age and GoAway.
 */
import { NproError } from '../../src/core/errors.js';
import type { Message } from '../../src/core/message.js';
import { encodeMessage } from '../../src/core/message-codec.js';
import { Dispatcher, type HandlerContext } from '../../src/protocol/dispatcher.js';
import { RawSocket, rawClientHandshake } from '../helpers/raw-peer.js';
import { Resources, rejection, sleep, text, until } from '../helpers/service.js';

const r = new Resources();
afterEach(() => r.closeAll());

async function rawSession(url: string, options: Parameters<typeof rawClientHandshake>[1] = {}) {
  const socket = await RawSocket.connect(url);
  r.add(() => socket.destroy());
  return (await rawClientHandshake(socket, options)).session;
}

const req = (id: number, command: string, payload: Uint8Array = new Uint8Array(0)): Message => ({ type: 'Request', id, command, payload });

describe('handlers (behaviour.md §4 Daemon)', () => {
  test('throw, reject, never settle, unknown opcode: that request alone fails', async () => {
    const dispatcher = new Dispatcher()
      .register('THROW', () => {
        throw new Error('secret internal detail');
      })
      .register('REJECT', () => Promise.reject(new Error('nope')))
      .register('TYPED', () => {
        throw new NproError('CANCELLED', 'typed failure');
      })
      .register('HANG', () => new Promise(() => undefined));
    const daemon = await r.daemon({ dispatcher });
    const client = await r.client(daemon);
    const hang = rejection(client.request('HANG', '', { timeoutMs: 150 }));
    const thrown = await rejection(client.request('THROW'));
    expect(thrown.code).toBe('HANDLER_ERROR');
    expect(thrown.message).not.toContain('secret');
    expect((await rejection(client.request('REJECT'))).code).toBe('HANDLER_ERROR');
    expect(await rejection(client.request('TYPED'))).toEqual(expect.objectContaining({ code: 'CANCELLED', message: 'typed failure' }));
    expect((await rejection(client.request('MISSING'))).code).toBe('UNKNOWN_OPCODE');
    expect((await hang).code).toBe('DEADLINE_EXCEEDED');
    expect(text(await client.request('ECHO', 'still fine'))).toBe('still fine');
    expect(daemon.stats().errors).toEqual(expect.objectContaining({ HANDLER_ERROR: 2, UNKNOWN_OPCODE: 1 }));
  });

  test('the context names the peer, the session, the command and the request id', async () => {
    const seen: HandlerContext[] = [];
    const dispatcher = new Dispatcher().register('WHO', (_p, ctx) => {
      seen.push(ctx);
      ctx.log.info({ test: true }, 'handler log line');
      return ctx.peer.publicKeyText;
    });
    const daemon = await r.daemon({ dispatcher });
    const client = await r.client(daemon);
    expect(text(await client.request('WHO'))).toBe(client.publicKey);
    const ctx = seen[0]!;
    expect(ctx.sessionId).toBe(client.sessionId);
    expect(ctx.command).toBe('WHO');
    expect(ctx.requestId).toBe(1);
    expect(ctx.deadline).toBeUndefined();
    expect(ctx.peer.address).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(ctx.signal.aborted).toBe(false);
  });

  test('an AbortSignal → CANCELLED locally, Cancel on the wire, the handler\'s signal aborted', async () => {
    const reasons: unknown[] = [];
    const dispatcher = new Dispatcher().register('WAIT', (_p, ctx) => new Promise(() => {
      ctx.signal.addEventListener('abort', () => reasons.push(ctx.signal.reason));
    }));
    const daemon = await r.daemon({ dispatcher });
    const client = await r.client(daemon);
    const controller = new AbortController();
    const pending = rejection(client.request('WAIT', '', { signal: controller.signal }));
    await until(() => daemon.stats().requests === 1);
    controller.abort();
    expect((await pending).code).toBe('CANCELLED');
    await until(() => reasons.length === 1);
    expect(reasons[0]).toEqual(expect.objectContaining({ code: 'CANCELLED' }));
    await until(() => client.stats().lateReplies === 1);
  });
});

describe('replies (protocol.md §4, §5)', () => {
  test('replies to Ping/Echo/Custom leave in arrival order; Responses are not held back', async () => {
    const dispatcher = new Dispatcher().register('SLOW', async (p) => {
      await sleep(100);
      return p;
    });
    const daemon = await r.daemon({ dispatcher });
    const session = await rawSession(daemon.addresses[0]!);
    session.send([
      { type: 'Custom', command: 'SLOW', payload: new Uint8Array([1]) },
      { type: 'Echo', text: 'after slow' },
      { type: 'Unknown' },
      { type: 'Ping' },
      req(1, 'ECHO', new Uint8Array([2])),
    ]);
    const seen: Message[] = [];
    while (seen.length < 5) seen.push(...((await session.receive()) ?? []));
    expect(seen.map((m) => m.type)).toEqual(['Response', 'Custom', 'Echo', 'Failure', 'Pong']);
    expect(seen[3]).toEqual(expect.objectContaining({ id: 0, code: 'UNKNOWN_OPCODE' }));
  });

  test('a reply too large for the client\'s max_frame → Failure FRAME_TOO_LARGE, nothing oversize sent', async () => {
    const dispatcher = new Dispatcher().register('BIG', () => new Uint8Array(4096));
    const daemon = await r.daemon({ dispatcher });
    const session = await rawSession(daemon.addresses[0]!, { maxFrame: 1024 });
    session.send([req(1, 'BIG'), { type: 'Custom', command: 'BIG', payload: new Uint8Array(0) }]);
    const seen: Message[] = [];
    while (seen.length < 2) seen.push(...((await session.receive()) ?? []));
    expect(seen).toEqual([
      expect.objectContaining({ type: 'Failure', id: 1, code: 'FRAME_TOO_LARGE' }),
      expect.objectContaining({ type: 'Failure', id: 0, code: 'FRAME_TOO_LARGE' }),
    ]);
  });

  test('an undecodable entry → Failure{0, MESSAGE_MALFORMED}; its sibling entries are processed', async () => {
    const daemon = await r.daemon();
    const session = await rawSession(daemon.addresses[0]!);
    const bad = new Uint8Array([5, 0, 0, 0, 0xff, 0, 0, 0, 0, 0, 0, 0]);
    const good = encodeMessage({ type: 'Echo', text: 'sibling' });
    const body = new Uint8Array(8 + bad.length + good.length);
    const view = new DataView(body.buffer);
    view.setUint32(0, bad.length);
    body.set(bad, 4);
    view.setUint32(4 + bad.length, good.length);
    body.set(good, 8 + bad.length);
    session.socket.write(session.sealer.sealBody(body));
    const seen: Message[] = [];
    while (seen.length < 2) seen.push(...((await session.receive()) ?? []));
    expect(seen).toEqual([
      expect.objectContaining({ type: 'Failure', id: 0, code: 'MESSAGE_MALFORMED' }),
      { type: 'Echo', text: 'sibling' },
    ]);
  });

  test('pushes and answers to send() arrive through async iteration', async () => {
    const dispatcher = new Dispatcher().register('UPPER', (p) => text(p).toUpperCase());
    const daemon = await r.daemon({ dispatcher });
    const client = await r.client(daemon);
    const it = client[Symbol.asyncIterator]();
    client.send({ type: 'Echo', text: 'echo' });
    client.send({ type: 'Custom', command: 'UPPER', payload: new TextEncoder().encode('up') });
    client.send({ type: 'Ping' });
    client.send({ type: 'Custom', command: 'NOPE', payload: new Uint8Array(0) });
    const got = [];
    for (let i = 0; i < 4; i++) got.push((await it.next()).value as Message);
    expect(got[0]).toEqual({ type: 'Echo', text: 'echo' });
    expect(got[1]).toEqual(expect.objectContaining({ type: 'Custom', command: 'UPPER' }));
    expect(text((got[1] as { payload: Uint8Array }).payload)).toBe('UP');
    expect(got[2]).toEqual({ type: 'Pong' });
    expect(got[3]).toEqual(expect.objectContaining({ type: 'Failure', id: 0, code: 'UNKNOWN_OPCODE' }));
    expect(() => client.send({ type: 'Custom', command: 'X', payload: new Uint8Array(17_000_000) })).toThrow(
      expect.objectContaining({ code: 'FRAME_TOO_LARGE' }),
    );
  });
});

describe('timers and endings (protocol.md §5)', () => {
  test('server.idle_timeout: Disconnect after idle time; Pings do not count, running handlers do', async () => {
    const dispatcher = new Dispatcher().register('HOLD', async () => {
      await sleep(300);
      return 'held';
    });
    const daemon = await r.daemon({ dispatcher, config: { server: { idle_timeout: 200 } } });
    const pinging = await rawSession(daemon.addresses[0]!);
    const t0 = Date.now();
    const timer = setInterval(() => pinging.send([{ type: 'Ping' }]), 40);
    const ended = await pinging.receiveUntil('Disconnect', 2000);
    clearInterval(timer);
    expect(ended.found).toEqual({ type: 'Disconnect' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(180);
    const byRequest = await rawSession(daemon.addresses[0]!);
    const byCustom = await rawSession(daemon.addresses[0]!);
    const t1 = Date.now();
    byRequest.send([req(1, 'HOLD')]);
    byCustom.send([{ type: 'Custom', command: 'HOLD', payload: new Uint8Array(0) }]);
    const [heldRequest, heldCustom] = await Promise.all([byRequest.receiveUntil('Disconnect', 2000), byCustom.receiveUntil('Disconnect', 2000)]);
    expect(heldRequest.seen.map((m) => m.type)).toEqual(['Response', 'Disconnect']);
    expect(heldCustom.seen.map((m) => m.type)).toEqual(['Custom', 'Disconnect']);
    expect(Date.now() - t1).toBeGreaterThanOrEqual(480);
  });

  test('server heartbeats: Ping after heartbeat_interval, HEARTBEAT_TIMEOUT when nothing comes back', async () => {
    const daemon = await r.daemon({ config: { server: { heartbeat_interval: 100, heartbeat_timeout: 250 } } });
    const silent = await rawSession(daemon.addresses[0]!);
    const t0 = Date.now();
    const first = await silent.receive();
    expect(first).toEqual([{ type: 'Ping' }]);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(90);
    const last = await silent.receiveUntil('Disconnect', 2000);
    expect(last.seen).toEqual([expect.objectContaining({ type: 'Failure', id: 0, code: 'HEARTBEAT_TIMEOUT' }), { type: 'Disconnect' }]);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(330);
    const client = await r.client(daemon);
    await sleep(600);
    expect(client.connected).toBe(true);
    expect(text(await client.request('ECHO', 'alive'))).toBe('alive');
  });

  test('server.max_connection_age: GoAway then Disconnect; the client reconnects on its next request', async () => {
    const daemon = await r.daemon({ config: { server: { max_connection_age: 200 } } });
    const client = await r.client(daemon);
    const first = client.sessionId;
    const ends: (string | null)[] = [];
    client.on('disconnected', (e) => ends.push(e.code));
    await until(() => ends.length === 1);
    expect(ends).toEqual([null]);
    expect(text(await client.request('ECHO', 'again'))).toBe('again');
    expect(client.sessionId).not.toBe(first);
  });

  test('GoAway last_id: later requests are dropped unanswered; in-flight ones finish', async () => {
    const dispatcher = new Dispatcher().register('SLOW', async (p) => {
      await sleep(150);
      return p;
    });
    const daemon = await r.daemon({ dispatcher });
    const session = await rawSession(daemon.addresses[0]!);
    session.send([req(1, 'SLOW', new Uint8Array([1]))]);
    await until(() => daemon.stats().requests === 1);
    const stopped = daemon.shutdown({ timeoutMs: 2000 });
    const goAway = await session.receiveUntil('GoAway');
    expect(goAway.found).toEqual(expect.objectContaining({ type: 'GoAway', lastId: 1 }));
    session.send([req(2, 'ECHO', new Uint8Array([2]))]);
    const rest = await session.receiveUntil('Disconnect', 2000);
    expect(rest.seen.map((m) => m.type)).toEqual(['Response', 'Disconnect']);
    expect(rest.seen[0]).toEqual(expect.objectContaining({ id: 1 }));
    session.socket.socket.end();
    await stopped;
  });

  test('a FIN without Disconnect: the daemon still sends its Disconnect, then closes', async () => {
    const daemon = await r.daemon();
    const session = await rawSession(daemon.addresses[0]!);
    session.socket.socket.end();
    const last = await session.receive();
    expect(last).toEqual([{ type: 'Disconnect' }]);
    await session.socket.closed;
    await until(() => daemon.stats().connections.current === 0);
  });
});
