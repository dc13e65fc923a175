/**
 * The daemon against peers that misbehave on purpose (behaviour.md §4 Codec, Handshake, Daemon;
 * protocol.md §1, §3, §5): bad frames before the handshake, slowloris, limits, request id rules, a
 * reader that never reads, a peer that vanishes mid-request.
 */
import { encodeFrame, VERSION_V1 } from '../../src/core/frame.js';
import type { Message } from '../../src/core/message.js';
import { decodeReject } from '../../src/protocol/handshake-messages.js';
import { Dispatcher } from '../../src/protocol/dispatcher.js';
import { V1ClientHandshake } from '../../src/protocol/v1.js';
import { utf8Encoder } from '../../src/utils/bytes.js';
import { RawSocket, rawClientHandshake } from '../helpers/raw-peer.js';
import { Resources, rejection, sleep, text, until } from '../helpers/service.js';

const r = new Resources();
afterEach(() => r.closeAll());

async function raw(url: string): Promise<RawSocket> {
  const s = await RawSocket.connect(url);
  r.add(() => s.destroy());
  return s;
}

/** The REJECT the daemon sent on `s` (its code name), checking that it then closed its side. */
async function rejectOf(s: RawSocket, ms = 2000): Promise<string> {
  const frame = await s.nextFrame(ms);
  if (frame === null) throw new Error('no REJECT arrived');
  expect(frame.version).toBe(2);
  const { error } = decodeReject(frame.payload);
  await s.ended;
  return error.code;
}

describe('before the handshake (protocol.md §3 REJECT)', () => {
  test('bad magic, unknown version and oversize frames get their REJECT, then the close', async () => {
    const daemon = await r.daemon();
    const url = daemon.addresses[0]!;
    const http = await raw(url);
    http.write(utf8Encoder.encode('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    expect(await rejectOf(http)).toBe('BAD_MAGIC');
    const v3 = await raw(url);
    v3.write(new Uint8Array([0x4e, 0x50, 0x52, 0x4f, 0x03, 0, 0, 0, 4]));
    expect(await rejectOf(v3)).toBe('VERSION_UNSUPPORTED');
    const big = await raw(url);
    big.write(new Uint8Array([0x4e, 0x50, 0x52, 0x4f, 0x02, 0, 0, 0x10, 0x01]));
    expect(await rejectOf(big)).toBe('FRAME_TOO_LARGE');
    await until(() => daemon.stats().handshakes.failed === 3);
    expect(daemon.stats().errors).toEqual(expect.objectContaining({ BAD_MAGIC: 1, VERSION_UNSUPPORTED: 1, FRAME_TOO_LARGE: 1 }));
  });

  test('silence, half a HELLO, or a stalled frame → HANDSHAKE_TIMEOUT / FRAME_TIMEOUT', async () => {
    const daemon = await r.daemon({ config: { server: { connection_timeout: 300, frame_timeout: 150 } } });
    const url = daemon.addresses[0]!;
    const silent = await raw(url);
    const t0 = Date.now();
    expect(await rejectOf(silent)).toBe('HANDSHAKE_TIMEOUT');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(280);
    const stalled = await raw(url);
    stalled.write(new Uint8Array([0x4e, 0x50, 0x52, 0x4f, 0x02, 0, 0, 0, 49, 0x01, 0, 0]));
    expect(await rejectOf(stalled)).toBe('FRAME_TIMEOUT');
    const slow = await r.daemon({ config: { server: { connection_timeout: 200 } } });
    const half = await raw(slow.addresses[0]!);
    half.write(new Uint8Array([0x4e, 0x50, 0x52, 0x4f, 0x02, 0, 0, 0, 49, 0x01, 1, 2, 3, 4, 5]));
    expect(await rejectOf(half)).toBe('HANDSHAKE_TIMEOUT');
  });

  test('a flipped bit in AUTH, or a HELLO of the wrong length → REJECT HANDSHAKE_FAILED', async () => {
    const daemon = await r.daemon();
    const url = daemon.addresses[0]!;
    const socket = await raw(url);
    const { auth } = await rawClientHandshake(socket, { holdAuth: true });
    const flipped = auth.slice();
    flipped[40]! ^= 0x04;
    socket.write(flipped);
    expect(await rejectOf(socket)).toBe('HANDSHAKE_FAILED');
    const short = await raw(url);
    short.write(new Uint8Array([0x4e, 0x50, 0x52, 0x4f, 0x02, 0, 0, 0, 20, 0x01, ...new Uint8Array(19)]));
    expect(await rejectOf(short)).toBe('HANDSHAKE_FAILED');
    const lowOrder = await raw(url);
    const hello = new Uint8Array(58);
    hello.set([0x4e, 0x50, 0x52, 0x4f, 0x02, 0, 0, 0, 49, 0x01]);
    new DataView(hello.buffer).setBigUint64(42, BigInt(Date.now()));
    new DataView(hello.buffer).setUint32(54, 65536);
    lowOrder.write(hello);
    expect(await rejectOf(lowOrder)).toBe('HANDSHAKE_FAILED');
    expect(daemon.stats().handshakes).toEqual({ ok: 0, failed: 3 });
  });

  test('a connection whose first version byte is 01 is closed, never sent a REJECT', async () => {
    const daemon = await r.daemon({ config: { server: { connection_timeout: 200 } } });
    const url = daemon.addresses[0]!;
    const oversize = await raw(url);
    oversize.write(new Uint8Array([0x4e, 0x50, 0x52, 0x4f, 0x01, 0, 0, 0x20, 0]));
    const v1 = await raw(url);
    v1.write(new V1ClientHandshake().start());
    const stalled = await raw(url);
    stalled.write(new Uint8Array([0x4e, 0x50, 0x52, 0x4f, 0x01, 0, 0]));
    for (const s of [oversize, v1, stalled]) {
      await s.ended;
      expect(s.bytesReceived).toBe(0);
    }
  });
});

describe('slowloris (behaviour.md §4 Daemon)', () => {
  test('trickling sockets are closed by absolute deadlines while a normal client keeps its latency', async () => {
    const daemon = await r.daemon({ config: { server: { connection_timeout: 300, frame_timeout: 400 } } });
    const url = daemon.addresses[0]!;
    const client = await r.client(daemon);
    const hello = new Uint8Array(58).fill(1);
    hello.set([0x4e, 0x50, 0x52, 0x4f, 0x02, 0, 0, 0, 49, 0x01]);
    const loris = await Promise.all(Array.from({ length: 40 }, () => raw(url)));
    const midFrame = await raw(url);
    const { session } = await rawClientHandshake(midFrame);
    const record = session.sealer.sealMessages([{ type: 'Echo', text: 'x'.repeat(100) }])[0]!;
    const t0 = Date.now();
    let sent = 0;
    const trickle = setInterval(() => {
      for (const s of loris) if (!s.endSeen) s.write(hello.subarray(sent, sent + 1));
      if (!midFrame.endSeen) midFrame.write(record.subarray(sent, sent + 1));
      sent++;
    }, 50);
    const latencies: number[] = [];
    try {
      while (Date.now() - t0 < 700) {
        latencies.push(await client.ping());
        await sleep(10);
      }
      await Promise.all(loris.map((s) => s.ended));
    } finally {
      clearInterval(trickle);
    }
    const closedBy = Date.now() - t0;
    expect(closedBy).toBeLessThan(1500);
    for (const s of loris) expect(decodeReject(s.frames[0]!.payload).error.code).toBe('HANDSHAKE_TIMEOUT');
    const last = await session.receiveUntil('Failure');
    expect(last.found).toEqual(expect.objectContaining({ type: 'Failure', id: 0, code: 'FRAME_TIMEOUT' }));
    latencies.sort((a, b) => a - b);
    expect(latencies[Math.floor(latencies.length * 0.99)]).toBeLessThan(250);
  });
});

describe('limits', () => {
  test('at server.max_connections → REJECT SERVER_BUSY right after accept; accepting resumes below', async () => {
    const daemon = await r.daemon({ config: { server: { max_connections: 2 } } });
    const a = await r.client(daemon);
    await r.client(daemon);
    const busy = await raw(daemon.addresses[0]!);
    expect(await rejectOf(busy)).toBe('SERVER_BUSY');
    const refused = await rejection(r.client(daemon, { config: { client: { auto_reconnect: false } } }));
    expect(refused.code).toBe('SERVER_BUSY');
    await a.close();
    await until(() => daemon.stats().connections.current === 1);
    const c = await r.client(daemon);
    expect(text(await c.request('ECHO', 'resumed'))).toBe('resumed');
    expect(daemon.stats().connections.refused).toBe(2);
  });

  test('200 handshakes at once on 200 connections → all succeed with distinct session ids', async () => {
    const daemon = await r.daemon();
    const ids = new Set<string>();
    daemon.on('connection', (e) => ids.add(e.sessionId));
    const clients = await Promise.all(Array.from({ length: 200 }, () => r.client(daemon)));
    const own = new Set(clients.map((c) => c.sessionId));
    expect(own.size).toBe(200);
    await until(() => ids.size === 200);
    expect(ids).toEqual(own);
    expect(daemon.stats().handshakes).toEqual({ ok: 200, failed: 0 });
    await Promise.all(clients.map((c) => c.close()));
  }, 30_000);

  test('request ids: 0 or not increasing → Failure{0, PROTOCOL_ERROR}, the connection stays open', async () => {
    const daemon = await r.daemon();
    const { session } = await rawClientHandshake(await raw(daemon.addresses[0]!));
    const req = (id: number): Message => ({ type: 'Request', id, command: 'ECHO', payload: new Uint8Array([id]) });
    session.send([req(0), req(5), req(3), req(5), req(6)]);
    const seen: Message[] = [];
    while (seen.length < 5) seen.push(...((await session.receive()) ?? []));
    const failures = seen.filter((m) => m.type === 'Failure');
    expect(failures).toHaveLength(3);
    for (const f of failures) expect(f).toEqual(expect.objectContaining({ id: 0, code: 'PROTOCOL_ERROR' }));
    expect(seen.filter((m) => m.type === 'Response').map((m) => (m as { id: number }).id)).toEqual([5, 6]);
    expect(daemon.stats().requests).toBe(2);
  });

  test('above server.max_streams → Failure{id, TOO_MANY_STREAMS}; a cancelled request frees its stream', async () => {
    const started: number[] = [];
    const dispatcher = new Dispatcher().register('HANG', (_p, ctx) => {
      started.push(ctx.requestId!);
      return new Promise(() => undefined);
    });
    const daemon = await r.daemon({ dispatcher, config: { server: { max_streams: 2 } } });
    const { session } = await rawClientHandshake(await raw(daemon.addresses[0]!));
    const hang = (id: number): Message => ({ type: 'Request', id, command: 'HANG', payload: new Uint8Array(0) });
    session.send([hang(1), hang(2), hang(3)]);
    expect((await session.receiveUntil('Failure')).found).toEqual(expect.objectContaining({ id: 3, code: 'TOO_MANY_STREAMS' }));
    session.send([{ type: 'Cancel', id: 1 }]);
    expect((await session.receiveUntil('Failure')).found).toEqual(expect.objectContaining({ id: 1, code: 'CANCELLED' }));
    session.send([hang(4)]);
    await until(() => started.includes(4));
    expect(started).toEqual([1, 2, 4]);
  });

  test('a client queues above the server max_streams: never more in flight than allowed', async () => {
    let running = 0;
    let peak = 0;
    const dispatcher = new Dispatcher().register('SLOW', async (p) => {
      peak = Math.max(peak, ++running);
      await sleep(20);
      running--;
      return p;
    });
    const daemon = await r.daemon({ dispatcher, config: { server: { max_streams: 2 } } });
    const client = await r.client(daemon);
    const replies = await Promise.all(Array.from({ length: 8 }, (_, i) => client.request('SLOW', `s${i}`)));
    expect(replies.map(text)).toEqual(Array.from({ length: 8 }, (_, i) => `s${i}`));
    expect(peak).toBe(2);
    expect(daemon.stats().errors['TOO_MANY_STREAMS']).toBeUndefined();
  });

  test('server.backpressure_limit: more inbound messages held than the limit pauses reading', async () => {
    const release: (() => void)[] = [];
    const dispatcher = new Dispatcher().register('HOLD', () => new Promise<string>((resolve) => release.push(() => resolve('done'))));
    const daemon = await r.daemon({ dispatcher, config: { server: { backpressure_limit: 2 } } });
    const { session } = await rawClientHandshake(await raw(daemon.addresses[0]!));
    for (let id = 1; id <= 6; id++) session.send([{ type: 'Request', id, command: 'HOLD', payload: new Uint8Array(0) }]);
    await until(() => release.length === 3);
    await sleep(100);
    expect(release.length).toBe(3);
    release.shift()!();
    await until(() => release.length === 3 && daemon.stats().requests === 4);
    while (release.length > 0 || daemon.stats().requests < 6) {
      release.shift()?.();
      await sleep(5);
    }
    const responses = await session.receiveUntil('Response');
    expect(responses.found).toEqual(expect.objectContaining({ type: 'Response', id: 1 }));
  });

  test('a reader that never reads never makes the daemon buffer more than the limits allow', async () => {
    const daemon = await r.daemon();
    const socket = await raw(daemon.addresses[0]!);
    const { session } = await rawClientHandshake(socket);
    socket.socket.pause();
    const payload = new Uint8Array(256 * 1024).fill(9);
    const count = 64;
    for (let id = 1; id <= count; id++) session.send([{ type: 'Request', id, command: 'ECHO', payload }]);
    let peak = 0;
    for (let i = 0; i < 20; i++) {
      await sleep(25);
      peak = Math.max(peak, daemon.stats().bytes.queued);
    }
    expect(daemon.stats().requests).toBeLessThan(count);
    expect(peak).toBeLessThan(1024 * 1024);
    socket.socket.resume();
    let answered = 0;
    while (answered < count) {
      const messages = await session.receive(5000);
      if (messages === null) throw new Error('the connection ended');
      answered += messages.filter((m) => m.type === 'Response').length;
    }
    expect(answered).toBe(count);
  }, 20_000);

  test('a peer that vanishes mid-request → the handler\'s signal aborts; sockets return to baseline', async () => {
    const aborted: unknown[] = [];
    const dispatcher = new Dispatcher().register('WAIT', (_p, ctx) => new Promise(() => {
      ctx.signal.addEventListener('abort', () => aborted.push(ctx.signal.reason));
    }));
    const daemon = await r.daemon({ dispatcher });
    const socket = await raw(daemon.addresses[0]!);
    const { session } = await rawClientHandshake(socket);
    session.send([{ type: 'Request', id: 1, command: 'WAIT', payload: new Uint8Array(0) }]);
    await until(() => daemon.stats().requests === 1);
    socket.destroy();
    await until(() => aborted.length === 1);
    expect(aborted[0]).toEqual(expect.objectContaining({ code: expect.stringMatching(/^(CONNECTION_CLOSED|TRUNCATED)$/) }));
    await until(() => daemon.stats().connections.current === 0);
  });
});

describe('v1 frames on a v2 daemon', () => {
  test('a v1 record frame after a v2 handshake → VERSION_UNSUPPORTED, reported in a last record', async () => {
    const daemon = await r.daemon();
    const { session } = await rawClientHandshake(await raw(daemon.addresses[0]!));
    session.socket.write(encodeFrame(VERSION_V1, new Uint8Array(8)));
    const last = await session.receiveUntil('Disconnect');
    expect(last.seen[0]).toEqual(expect.objectContaining({ type: 'Failure', id: 0, code: 'VERSION_UNSUPPORTED' }));
  });
});
