/**
 * Identities, trust and records over live connections (protocol.md §3, §4, §6, §8; behaviour.md §4
 * Handshake and Records): pinned and TOFU keys, authorized clients, clock skew, tampered records,
 * plaintext records, compression, payload limits and rekeying.
 */
import { readFileSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { Message } from '../../src/core/message.js';
import { Dispatcher } from '../../src/protocol/dispatcher.js';
import { FEATURES, encodeRejectFrame } from '../../src/protocol/handshake-messages.js';
import { initCompression } from '../../src/utils/compression/index.js';
import { encodePublicKey, generateKeyPair } from '../../src/utils/keys.js';
import { createLogger } from '../../src/utils/logger.js';
import { RawServer, RawSocket, rawClientHandshake } from '../helpers/raw-peer.js';
import { Resources, rejection, text, until } from '../helpers/service.js';

const r = new Resources();
afterEach(() => r.closeAll());

async function raw(url: string): Promise<RawSocket> {
  const s = await RawSocket.connect(url);
  r.add(() => s.destroy());
  return s;
}

async function rawServer(path?: string): Promise<RawServer> {
  const server = await RawServer.listen(path);
  r.add(() => server.close());
  return server;
}

const req = (id: number, command: string, payload: Uint8Array = new Uint8Array(0)): Message => ({ type: 'Request', id, command, payload });

describe('server trust (protocol.md §6)', () => {
  test('a pinned key that differs → SERVER_KEY_MISMATCH before any request leaves (no AUTH)', async () => {
    const daemon = await r.daemon();
    const other = encodePublicKey(generateKeyPair().publicKey);
    const err = await rejection(r.client(daemon, { serverPublicKey: other }));
    expect(err.code).toBe('SERVER_KEY_MISMATCH');
    await until(() => daemon.stats().handshakes.failed === 1);
    expect(daemon.stats().handshakes.ok).toBe(0);
    expect(daemon.stats().requests).toBe(0);
    const listed = await r.client(daemon, { serverPublicKey: [other, daemon.publicKey] });
    expect(listed.serverPublicKey).toBe(daemon.publicKey);
  });

  test('security.server_public_key pins the key from the configuration', async () => {
    const daemon = await r.daemon();
    const pinned = await r.client(daemon.addresses[0]!, { config: { security: { server_public_key: daemon.publicKey } } });
    expect(pinned.serverPublicKey).toBe(daemon.publicKey);
    const wrong = encodePublicKey(generateKeyPair().publicKey);
    const err = await rejection(r.client(daemon.addresses[0]!, { config: { security: { server_public_key: [wrong] } } }));
    expect(err.code).toBe('SERVER_KEY_MISMATCH');
  });

  test('TOFU: the key is stored once the first record decrypts; a different key later → SERVER_KEY_MISMATCH', async () => {
    const path = join(r.dir, 'tofu.sock');
    const endpoint = `unix://${path}`;
    const first = await r.daemon({ listen: [endpoint] });
    const knownHosts = join(r.dir, 'known_hosts');
    const client = await r.client(endpoint, {});
    expect(existsSync(knownHosts)).toBe(false);
    await client.request('ECHO', 'first record');
    await until(() => existsSync(knownHosts) && readFileSync(knownHosts, 'utf8').includes(first.publicKey));
    expect(readFileSync(knownHosts, 'utf8')).toContain(`${endpoint} ${first.publicKey}`);
    await client.close();
    await first.shutdown({ timeoutMs: 0 });
    const again = await r.client(endpoint, { config: { client: { auto_reconnect: false } } }).catch((e: unknown) => e);
    expect(again).toEqual(expect.objectContaining({ code: 'CONNECT_FAILED' }));
    const impostor = await r.daemon({ listen: [endpoint] });
    const err = await rejection(r.client(endpoint, {}));
    expect(err.code).toBe('SERVER_KEY_MISMATCH');
    expect(err.message).toContain(first.publicKey);
    expect(impostor.stats().handshakes.ok).toBe(0);
  });

  test('trust = "any" accepts any key and logs a warning; "pinned" without a key is refused', async () => {
    const daemon = await r.daemon();
    const out = new PassThrough();
    const lines: string[] = [];
    out.on('data', (chunk: Buffer) => lines.push(...chunk.toString().trim().split('\n')));
    const logger = createLogger({ app_name: 'npro', log_level: 'warn', log_to_console: true, log_to_file: false, log_file_path: undefined, json_format: true }, { destination: out });
    const client = await r.client(daemon, { trust: 'any', logger });
    expect(text(await client.request('ECHO', 'any'))).toBe('any');
    expect(lines.map((l) => JSON.parse(l) as { level: string; msg: string })).toEqual(
      expect.arrayContaining([expect.objectContaining({ level: 'warn', msg: expect.stringContaining('not checked') })]),
    );
    expect((await rejection(r.client(daemon.addresses[0]!, { config: { security: { trust: 'pinned' } } }))).code).toBe('CONFIG_INVALID');
  });
});

describe('client identity (protocol.md §6)', () => {
  test('unauthorized client key → CLIENT_NOT_AUTHORIZED in the first record; no handler runs', async () => {
    let ran = 0;
    const dispatcher = new Dispatcher().register('SIDE_EFFECT', () => {
      ran++;
      return 'done';
    });
    const allowed = generateKeyPair();
    const daemon = await r.daemon({ dispatcher, config: { security: { authorized_clients: [encodePublicKey(allowed.publicKey)] } } });
    const intruder = await r.client(daemon);
    const closed = new Promise<{ error: unknown }>((resolve) => intruder.once('closed', resolve));
    expect((await rejection(intruder.request('SIDE_EFFECT'))).code).toBe('CLIENT_NOT_AUTHORIZED');
    expect((await closed).error).toEqual(expect.objectContaining({ code: 'CLIENT_NOT_AUTHORIZED' }));
    const socket = await raw(daemon.addresses[0]!);
    const { session, auth } = await rawClientHandshake(socket, { holdAuth: true });
    const record = session.sealer.sealMessages([req(1, 'SIDE_EFFECT')])[0]!;
    const both = new Uint8Array(auth.length + record.length);
    both.set(auth);
    both.set(record, auth.length);
    socket.write(both);
    const refusal = await session.receive();
    expect(refusal).toEqual([expect.objectContaining({ type: 'Failure', id: 0, code: 'CLIENT_NOT_AUTHORIZED' }), { type: 'Disconnect' }]);
    await socket.ended;
    expect(ran).toBe(0);
    const friend = await r.client(daemon, { staticSecret: allowed.secretKey });
    expect(text(await friend.request('SIDE_EFFECT'))).toBe('done');
    expect(ran).toBe(1);
  });

  test('a client key file is used only when asked for, created 0600', async () => {
    const keyFile = join(r.dir, 'client.key');
    const daemon = await r.daemon();
    const seen: string[] = [];
    daemon.on('connection', (e) => seen.push(e.peerPublicKey));
    const a = await r.client(daemon, { keyFile });
    await a.request('ECHO', 'x');
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    const b = await r.client(daemon, { keyFile });
    expect(b.publicKey).toBe(a.publicKey);
    const c = await r.client(daemon, { config: { security: { key_file: keyFile } } });
    expect(c.publicKey).not.toBe(a.publicKey);
    const d = await r.client(daemon, { keyFile: true, config: { security: { key_file: keyFile } } });
    expect(d.publicKey).toBe(a.publicKey);
    await until(() => seen.length === 4);
    expect(seen[0]).toBe(a.publicKey);
  });
});

describe('clock skew (protocol.md §3)', () => {
  test('a client clock 31 s off → STALE_TIMESTAMP (no retry); 29 s off succeeds', async () => {
    const daemon = await r.daemon();
    for (const skew of [-31_000, 31_000]) {
      const t0 = Date.now();
      const err = await rejection(r.client(daemon, { hooks: { clock: () => Date.now() + skew } }));
      expect(err.code).toBe('STALE_TIMESTAMP');
      expect(Date.now() - t0).toBeLessThan(500);
    }
    for (const skew of [-29_000, 29_000]) {
      const client = await r.client(daemon, { hooks: { clock: () => Date.now() + skew } });
      expect(text(await client.request('ECHO', 'in time'))).toBe('in time');
    }
  });
});

describe('tampered records (protocol.md §4)', () => {
  test('flipped, replayed, reordered, dropped, reflected or moved records → RECORD_AUTH_FAILED; others keep working', async () => {
    let ran = 0;
    const dispatcher = new Dispatcher().register('COUNT', () => String(++ran));
    const daemon = await r.daemon({ dispatcher });
    const bystander = await r.client(daemon);
    const open = async () => {
      const socket = await raw(daemon.addresses[0]!);
      const { session } = await rawClientHandshake(socket);
      const [good] = session.send([req(1, 'COUNT')]);
      const reply = await socket.nextFrame();
      expect(session.opener.open(reply!.header, reply!.payload)[0]).toEqual({ message: expect.objectContaining({ type: 'Response', id: 1 }) });
      return { socket, session, good: good!, reply: new Uint8Array([...reply!.header, ...reply!.payload]) };
    };
    const other = await open();
    const attacks: Record<string, (c: Awaited<ReturnType<typeof open>>) => Uint8Array> = {
      flip: (c) => {
        const bad = c.session.sealer.sealMessages([req(2, 'COUNT')])[0]!;
        bad[bad.length - 20]! ^= 0x01;
        return bad;
      },
      replay: (c) => c.good.slice(),
      reorder: (c) => {
        c.session.sealer.sealMessages([req(2, 'COUNT')]);
        return c.session.sealer.sealMessages([req(3, 'COUNT')])[0]!;
      },
      reflect: (c) => c.reply,
      moved: () => other.session.sealer.sealMessages([req(2, 'COUNT')])[0]!,
    };
    for (const [name, attack] of Object.entries(attacks)) {
      const c = await open();
      c.socket.write(attack(c));
      await c.socket.ended;
      expect(c.socket.frames).toHaveLength(0);
      expect(text(await bystander.request('ECHO', name))).toBe(name);
    }
    expect(ran).toBe(6);
    expect(daemon.stats().errors['RECORD_AUTH_FAILED']).toBe(5);
  });

  test('client side: its first record failing → HANDSHAKE_FAILED; a later one → RECORD_AUTH_FAILED', async () => {
    const server = await rawServer();
    for (const which of ['first', 'later'] as const) {
      const accepted = server.nextConnection().then((s) => server.accept(s));
      const client = await r.client(server.url, { serverPublicKey: server.publicKey, config: { client: { auto_reconnect: false } } });
      const session = await accepted;
      if (which === 'later') {
        const ok = client.request('ECHO', 'ok');
        const { found } = await session.receiveUntil('Request');
        session.send([{ type: 'Response', id: (found as { id: number }).id, payload: new Uint8Array([1]) }]);
        await ok;
      }
      const pending = rejection(client.request('X'));
      await session.receiveUntil('Request');
      const frame = session.sealer.sealMessages([{ type: 'Pong' }])[0]!;
      frame[frame.length - 1]! ^= 0x80;
      session.socket.write(frame);
      expect((await pending).code).toBe(which === 'first' ? 'HANDSHAKE_FAILED' : 'RECORD_AUTH_FAILED');
      const after = await session.socket.nextFrame(300);
      expect(after).toBeNull();
    }
  });

  test('with plaintext records, a REJECT after AUTH → HANDSHAKE_FAILED at the client', async () => {
    const server = await rawServer(join(r.dir, 'reject.sock'));
    const accepted = server.nextConnection().then((s) => server.accept(s, { features: FEATURES.LZ4 | FEATURES.PLAINTEXT_RECORDS }));
    const client = await r.client(server.url, { serverPublicKey: server.publicKey, config: { client: { auto_reconnect: false } } });
    const session = await accepted;
    expect(client.encrypted).toBe(false);
    const pending = rejection(client.request('X'));
    await session.receiveUntil('Request');
    session.socket.write(encodeRejectFrame('CLIENT_NOT_AUTHORIZED', 'go away'));
    const err = await pending;
    expect(err.code).toBe('HANDSHAKE_FAILED');
    expect(err.message).toContain('go away');
  });
});

describe('transport.* settings', () => {
  test('encryption_enabled: auto → plaintext over unix://, encrypted over tcp://; true always encrypts; false is refused on tcp://', async () => {
    const path = join(r.dir, 'enc.sock');
    const daemon = await r.daemon({ listen: ['tcp://127.0.0.1:0', `unix://${path}`] });
    expect((await r.client(daemon)).encrypted).toBe(true);
    expect((await r.client(daemon, {}, `unix://${path}`)).encrypted).toBe(false);
    expect((await r.client(daemon, { config: { transport: { encryption_enabled: true } } }, `unix://${path}`)).encrypted).toBe(true);
    const socket = await raw(`unix://${path}`);
    const { session } = await rawClientHandshake(socket, { features: FEATURES.LZ4 | FEATURES.PLAINTEXT_RECORDS });
    expect(session.result.features & FEATURES.PLAINTEXT_RECORDS).toBe(FEATURES.PLAINTEXT_RECORDS);
    const onlyUnix = { server: { address: `unix://${path}x` }, client: { address: `unix://${path}` }, transport: { encryption_enabled: false } } as const;
    const plain = await r.client(daemon, { config: onlyUnix }, `unix://${path}`);
    expect(plain.encrypted).toBe(false);
    expect(text(await plain.request('ECHO', 'plain'))).toBe('plain');
    const refused = await rejection(r.client(daemon, { config: { ...onlyUnix, client: { address: daemon.addresses[0]! } } }, daemon.addresses[0]));
    expect(refused.code).toBe('CONFIG_INVALID');
    const strict = await r.daemon({ listen: [`unix://${path}.2`], config: { transport: { encryption_enabled: true } } });
    const socket2 = await raw(strict.addresses[0]!);
    const { session: s2 } = await rawClientHandshake(socket2, { features: FEATURES.LZ4 | FEATURES.PLAINTEXT_RECORDS });
    expect(s2.result.features & FEATURES.PLAINTEXT_RECORDS).toBe(0);
  });

  test('compression_enabled / algorithm / threshold / level decide the record flags and size', async () => {
    await initCompression();
    const payload = new TextEncoder().encode(Array.from({ length: 2000 }, (_, i) => `word${(i * 7919) % 613} `).join(''));
    const flagsOf = async (transport: Record<string, unknown>, size: number): Promise<{ flags: number; length: number }> => {
      const daemon = await r.daemon({ config: { transport } });
      const socket = await raw(daemon.addresses[0]!);
      const { session } = await rawClientHandshake(socket, { features: FEATURES.LZ4 | FEATURES.ZSTD });
      session.send([req(1, 'ECHO', payload.subarray(0, size))]);
      const frame = (await socket.nextFrame())!;
      const plaintext = session.opener.openRecord(frame.header, frame.payload);
      return { flags: plaintext[0]!, length: frame.payload.length };
    };
    expect((await flagsOf({}, 4000)).flags).toBe(0);
    expect((await flagsOf({ compression_enabled: true }, 4000)).flags).toBe(1);
    expect((await flagsOf({ compression_enabled: true, compression_threshold_bytes: 8000 }, 4000)).flags).toBe(0);
    const fast = await flagsOf({ compression_enabled: true, compression_algorithm: 'zstd', compression_level: 1 }, payload.length);
    const best = await flagsOf({ compression_enabled: true, compression_algorithm: 'zstd', compression_level: 19 }, payload.length);
    expect(fast.flags).toBe(2);
    expect(best.flags).toBe(2);
    expect(best.length).toBeLessThan(fast.length);
  });

  test('client compression: requests above the threshold travel compressed', async () => {
    const server = await rawServer();
    const accepted = server.nextConnection().then((s) => server.accept(s));
    const client = await r.client(server.url, { serverPublicKey: server.publicKey, config: { transport: { compression_enabled: true, compression_threshold_bytes: 64 } } });
    const session = await accepted;
    void client.request('BIG', new Uint8Array(4096).fill(65)).catch(() => undefined);
    const frame = (await session.socket.nextFrame())!;
    expect(session.opener.openRecord(frame.header, frame.payload)[0]).toBe(1);
    expect(frame.payload.length).toBeLessThan(1024);
  });

  test('max_payload_size is the advertised max_frame: larger requests fail locally, larger replies become FRAME_TOO_LARGE', async () => {
    const dispatcher = new Dispatcher().register('BIG', () => new Uint8Array(4096));
    const daemon = await r.daemon({ dispatcher, config: { transport: { max_payload_size: 2048, compression_threshold_bytes: 512 } } });
    const client = await r.client(daemon);
    const tooBig = await rejection(client.request('ECHO', new Uint8Array(4096)));
    expect(tooBig.code).toBe('FRAME_TOO_LARGE');
    expect(daemon.stats().requests).toBe(0);
    const small = await r.client(daemon, { config: { transport: { max_payload_size: 2048, compression_threshold_bytes: 512 } } });
    expect((await rejection(small.request('BIG'))).code).toBe('FRAME_TOO_LARGE');
    expect(text(await small.request('ECHO', 'fits'))).toBe('fits');
  });

  test('a send counter reaching 2^48 − 1 → KEY_EXHAUSTED in the last record, then the close', async () => {
    const near = { recordCounter: 2 ** 48 - 3 };
    const daemon = await r.daemon({ hooks: near });
    const client = await r.client(daemon, { hooks: near, config: { client: { auto_reconnect: false } } });
    const closed = new Promise<{ code: string | null }>((resolve) => daemon.once('connection-closed', resolve));
    expect(text(await client.request('ECHO', 'one'))).toBe('one');
    expect(text(await client.request('ECHO', 'two'))).toBe('two');
    const third = await rejection(client.request('ECHO', 'three'));
    expect(third.code).toBe('KEY_EXHAUSTED');
    expect((await closed).code).toBeNull();
    expect(daemon.stats().requests).toBe(2);
  });

  test('records rekey as protocol.md §4 says (interval lowered on both sides), over a live connection', async () => {
    const daemon = await r.daemon({ hooks: { rekeyInterval: 3 } });
    const client = await r.client(daemon, { hooks: { rekeyInterval: 3 } });
    for (let i = 0; i < 20; i++) expect(text(await client.request('ECHO', `r${i}`))).toBe(`r${i}`);
    const all = await Promise.all(Array.from({ length: 50 }, (_, i) => client.request('ECHO', `p${i}`)));
    expect(all.map(text)).toEqual(Array.from({ length: 50 }, (_, i) => `p${i}`));
  });
});
