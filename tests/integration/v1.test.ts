/**
 * v1 sessions (protocol.md §7): served only when `security.protocol` allows it; the crate's
 * handshake and records, its routing, errors never reported (the connection is closed), and v1 over
 * TLS as plaintext v1 frames.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import tls from 'node:tls';
import type { Message } from '../../src/core/message.js';
import { Dispatcher } from '../../src/protocol/dispatcher.js';
import { V1ClientHandshake, encodeV1PlainFrame, openV1Record, sealV1Record } from '../../src/protocol/v1.js';
import { decodeMessage } from '../../src/core/message-codec.js';
import { defaultCrypto } from '../../src/utils/crypto/index.js';
import { createLogger } from '../../src/utils/logger.js';
import { RawSocket } from '../helpers/raw-peer.js';
import { tlsFixture } from '../helpers/certs.js';
import { Resources, rejection, text } from '../helpers/service.js';

const r = new Resources();
afterEach(() => r.closeAll());

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

/** A crate-style v1 client over a raw socket. */
async function v1Client(url: string, clock?: () => number) {
  const socket = await RawSocket.connect(url);
  r.add(() => socket.destroy());
  const hs = new V1ClientHandshake(clock === undefined ? {} : { now: clock });
  socket.write(hs.start());
  const frame = await socket.nextFrame();
  if (frame === null) return { socket, key: null };
  const step = hs.receive(frame);
  socket.write(step.send[0]!);
  return { socket, key: step.result!.key };
}

function send(socket: RawSocket, key: Uint8Array, m: Message): void {
  socket.write(sealV1Record(defaultCrypto, key, m));
}

async function receive(socket: RawSocket, key: Uint8Array, ms = 1000): Promise<Message | null> {
  const frame = await socket.nextFrame(ms);
  return frame === null ? null : openV1Record(defaultCrypto, key, frame.payload);
}

function dispatcher(): Dispatcher {
  return new Dispatcher()
    .register('UPPER', (p) => text(p).toUpperCase())
    .register('SLOW', async (p) => {
      await new Promise((resolve) => setTimeout(resolve, 50));
      return p;
    })
    .register('FAIL', () => {
      throw new Error('boom');
    });
}

describe('v1 (protocol.md §7)', () => {
  test('security.protocol = "v1+v2": a v1 client is served beside v2 clients; the log says v1 authenticates nobody', async () => {
    const out = new PassThrough();
    const lines: string[] = [];
    out.on('data', (chunk: Buffer) => lines.push(...chunk.toString().trim().split('\n')));
    const logger = createLogger({ app_name: 'npro', log_level: 'warn', log_to_console: true, log_to_file: false, log_file_path: undefined, json_format: true }, { destination: out });
    const daemon = await r.daemon({ dispatcher: dispatcher(), logger, config: { security: { protocol: 'v1+v2' } } });
    expect(lines.map((l) => JSON.parse(l) as { msg: string })).toEqual([expect.objectContaining({ level: 'warn', msg: expect.stringContaining('v1 authenticates nobody') })]);
    const protocols: string[] = [];
    daemon.on('connection', (e) => protocols.push(e.protocol));
    const { socket, key } = await v1Client(daemon.addresses[0]!);
    send(socket, key!, { type: 'Ping' });
    expect(await receive(socket, key!)).toEqual({ type: 'Pong' });
    send(socket, key!, { type: 'Custom', command: 'SLOW', payload: bytes('first') });
    send(socket, key!, { type: 'Echo', text: 'second' });
    send(socket, key!, { type: 'Custom', command: 'NOBODY', payload: bytes('x') });
    send(socket, key!, { type: 'Request', id: 1, command: 'ECHO', payload: bytes('v2 only') });
    send(socket, key!, { type: 'Custom', command: 'UPPER', payload: bytes('third') });
    send(socket, key!, { type: 'Custom', command: 'ECHO', payload: bytes('fourth') });
    const replies = [await receive(socket, key!), await receive(socket, key!), await receive(socket, key!), await receive(socket, key!)];
    expect(replies).toEqual([
      { type: 'Custom', command: 'SLOW', payload: bytes('first') },
      { type: 'Echo', text: 'second' },
      { type: 'Custom', command: 'UPPER', payload: bytes('THIRD') },
      { type: 'Custom', command: 'ECHO', payload: bytes('fourth') },
    ]);
    send(socket, key!, { type: 'Disconnect' });
    await socket.ended;
    const v2 = await r.client(daemon);
    expect(text(await v2.request('ECHO', 'v2'))).toBe('v2');
    expect(protocols).toEqual(['v1', 'v2']);
  });

  test('errors are never reported to a v1 peer: a failing handler or a bad record closes the connection', async () => {
    const daemon = await r.daemon({ dispatcher: dispatcher(), config: { security: { protocol: 'v1' } } });
    const a = await v1Client(daemon.addresses[0]!);
    send(a.socket, a.key!, { type: 'Custom', command: 'FAIL', payload: bytes('x') });
    await a.socket.ended;
    expect(a.socket.frames).toHaveLength(0);
    const b = await v1Client(daemon.addresses[0]!);
    const record = sealV1Record(defaultCrypto, b.key!, { type: 'Ping' });
    record[record.length - 1]! ^= 1;
    b.socket.write(record);
    await b.socket.ended;
    expect(b.socket.frames).toHaveLength(0);
    const stale = await v1Client(daemon.addresses[0]!, () => Date.now() - 31_000);
    expect(stale.key).toBeNull();
    expect(stale.socket.bytesReceived).toBe(0);
  });

  test('a daemon that does not serve v1 closes v1 connections; a v1-only daemon refuses v2 clients', async () => {
    const v2only = await r.daemon();
    const refused = await v1Client(v2only.addresses[0]!);
    expect(refused.key).toBeNull();
    expect(refused.socket.bytesReceived).toBe(0);
    const v1only = await r.daemon({ config: { security: { protocol: 'v1' } } });
    const err = await rejection(r.client(v1only, { config: { client: { auto_reconnect: false } } }));
    expect(err.code).toBe('VERSION_UNSUPPORTED');
    const v1client = await rejection(r.client(v1only, { config: { security: { protocol: 'v1' } } }));
    expect(v1client.code).toBe('CONFIG_INVALID');
    expect(v1client.message).toContain('security.protocol');
  });

  test('v1 over TLS: plaintext v1 frames, no v1 handshake', async () => {
    const fx = await tlsFixture();
    const cert = join(r.dir, 'cert.pem');
    const keyFile = join(r.dir, 'key.pem');
    writeFileSync(cert, fx.server.cert);
    writeFileSync(keyFile, fx.server.key);
    const daemon = await r.daemon({ listen: ['tls://127.0.0.1:0'], dispatcher: dispatcher(), config: { security: { protocol: 'v1+v2' }, tls: { cert_file: cert, key_file: keyFile } } });
    const port = Number(daemon.addresses[0]!.split(':').pop());
    const socket = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port, ca: fx.ca.cert, servername: 'localhost' }, () => resolve(s));
      s.once('error', reject);
    });
    r.add(() => socket.destroy());
    const raw = new RawSocket(socket);
    raw.write(encodeV1PlainFrame({ type: 'Custom', command: 'UPPER', payload: bytes('tls') }));
    const frame = await raw.nextFrame();
    expect(frame!.version).toBe(1);
    expect(decodeMessage(frame!.payload)).toEqual({ type: 'Custom', command: 'UPPER', payload: bytes('TLS') });
  });
});
