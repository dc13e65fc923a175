import { NproError } from '../../src/core/errors.js';
import { FrameDecoder } from '../../src/core/frame-decoder.js';
import { fromHex, toHex, utf8Encoder } from '../../src/utils/bytes.js';
import { x25519KeyPair } from '../../src/protocol/noise.js';
import {
  FEATURES, HANDSHAKE_KIND, PROLOGUE, decodeAuth, decodeHello, decodeReject, decodeWelcome, encodeAuth, encodeHello,
  encodeRejectFrame, encodeWelcome, truncateUtf8,
} from '../../src/protocol/handshake-messages.js';
import { ClientHandshake, ServerHandshake, type HandshakeResult } from '../../src/protocol/handshake.js';
import { PROVIDERS, asFrame, freshPair, golden, goldenPair } from '../helpers/handshake-fixtures.js';

describe.each(PROVIDERS.map((p) => [p.name, p] as const))('golden v2 sessions (%s provider)', (_name, crypto) => {
  it.each(golden.v2_sessions.map((s) => [s.name, s] as const))('%s: frames, keys, session id, identities', (_n, s) => {
    const [hello, welcome, auth] = s.handshake as [typeof s.handshake[0], typeof s.handshake[0], typeof s.handshake[0]];
    const { client, server } = goldenPair(s, crypto);

    const helloFrame = client.start();
    expect(toHex(helloFrame)).toBe(hello.frame);
    expect(toHex(helloFrame.subarray(10))).toBe(hello.noise_message);
    expect(toHex(helloFrame.subarray(42))).toBe(hello.payload);
    expect(helloFrame[9]).toBe(HANDSHAKE_KIND.HELLO);
    expect([helloFrame.length, helloFrame.length - 10, 16]).toEqual([58, 48, fromHex(hello.payload).length]);

    const s1 = server.receive(asFrame(helloFrame));
    expect(s1.error).toBeUndefined();
    expect(s1.send.map(toHex)).toEqual([welcome.frame]);
    expect(toHex(s1.send[0]!.subarray(10))).toBe(welcome.noise_message);
    expect([s1.send[0]!.length, s1.send[0]!.length - 10]).toEqual([126, 116]);

    const c1 = client.receive(asFrame(s1.send[0]!));
    expect(c1.error).toBeUndefined();
    expect(c1.send.map(toHex)).toEqual([auth.frame]);
    expect(toHex(c1.send[0]!.subarray(10))).toBe(auth.noise_message);
    expect([c1.send[0]!.length, c1.send[0]!.length - 10]).toEqual([78, 68]);

    const s2 = server.receive(asFrame(c1.send[0]!));
    expect(s2.error).toBeUndefined();
    expect(s2.send).toEqual([]);
    const cr = c1.result as HandshakeResult;
    const sr = s2.result!;
    for (const r of [cr, sr]) {
      expect(toHex(r.c2sKey)).toBe(s.keys.c2s[0]);
      expect(toHex(r.s2cKey)).toBe(s.keys.s2c[0]);
      expect(r.sessionId).toBe(s.keys.session_id);
      expect(toHex(r.handshakeHash)).toBe(s.keys.session_id);
      expect(r.features).toBe(s.keys.negotiated_features);
    }
    expect(toHex(cr.remoteStatic)).toBe(s.inputs.server_static_public);
    expect(toHex(sr.remoteStatic)).toBe(s.inputs.client_static_public);
    expect(cr).toMatchObject({ localMaxFrame: s.inputs.client_max_frame, peerMaxFrame: s.inputs.server_max_frame, maxStreams: s.inputs.server_max_streams, remoteTime: s.inputs.server_clock_ms });
    expect(sr).toMatchObject({ localMaxFrame: s.inputs.server_max_frame, peerMaxFrame: s.inputs.client_max_frame, maxStreams: s.inputs.server_max_streams, remoteTime: s.inputs.client_clock_ms });
    if (s.name === 'client-not-authorized') {
      expect(sr.refusal?.code).toBe('CLIENT_NOT_AUTHORIZED');
      expect(sr.refusal?.message.length).toBeGreaterThan(0);
    } else {
      expect(sr.refusal).toBeUndefined();
    }
  });

  it.each(golden.reject_frames.map((r) => [r.code, r] as const))('REJECT %s: a client waiting for WELCOME reports its code', (_c, r) => {
    const { client } = freshPair({ crypto });
    client.start();
    const step = client.receive(asFrame(fromHex(r.frame)));
    expect(step.send).toEqual([]);
    expect(step.result).toBeUndefined();
    expect(step.error?.code).toBe(r.code);
    expect(step.error?.number).toBe(r.number);
  });
});

describe('golden REJECT frames', () => {
  const crypto = PROVIDERS[0]!;
  const [stale, http] = golden.reject_frames as [typeof golden.reject_frames[0], typeof golden.reject_frames[0]];

  function server(clock: number): ServerHandshake {
    return new ServerHandshake({
      crypto, staticKey: x25519KeyPair(crypto, new Uint8Array(32).fill(0x33)), features: 1, maxFrame: 65_536, maxStreams: 100, now: () => clock,
    });
  }

  it('answers a 31-seconds-stale HELLO with exactly the golden REJECT STALE_TIMESTAMP', () => {
    expect(stale.code).toBe('STALE_TIMESTAMP');
    const decoder = new FrameDecoder();
    decoder.push(fromHex(stale.trigger));
    const step = server(stale.server_clock_ms).receive(decoder.next()!);
    expect(step.error?.code).toBe('STALE_TIMESTAMP');
    expect(step.send.map(toHex)).toEqual([stale.frame]);
    expect(decodeReject(step.send[0]!.subarray(9)).reason).toBe(stale.reason);
  });

  it('answers an HTTP request with exactly the golden REJECT BAD_MAGIC', () => {
    expect(http.code).toBe('BAD_MAGIC');
    const decoder = new FrameDecoder();
    decoder.push(fromHex(http.trigger));
    let caught: unknown;
    try {
      decoder.next();
    } catch (e) {
      caught = e;
    }
    expect(NproError.is(caught, 'BAD_MAGIC')).toBe(true);
    const s = server(http.server_clock_ms);
    expect(toHex(s.reject('BAD_MAGIC', 'bad magic')!)).toBe(http.frame);
    expect(toHex(encodeRejectFrame('BAD_MAGIC', 'bad magic'))).toBe(http.frame);
    expect(s.reject('BAD_MAGIC', 'again')).toBeNull();
  });
});

describe('handshake payloads and REJECT encoding', () => {
  it('encodes the payloads big-endian with their exact lengths', () => {
    const hello = { clientTime: 0x0102030405060708n, features: 0x80000001, maxFrame: 16_777_216 };
    expect(toHex(encodeHello(hello))).toBe('01020304050607088000000101000000');
    expect(decodeHello(encodeHello(hello))).toEqual(hello);
    const welcome = { serverTime: 2n ** 64n - 1n, features: 7, maxFrame: 1024, maxStreams: 1 };
    expect(toHex(encodeWelcome(welcome))).toBe('ffffffffffffffff000000070000040000000001');
    expect(decodeWelcome(encodeWelcome(welcome))).toEqual(welcome);
    expect(toHex(encodeAuth({ features: 5 }))).toBe('00000005');
    expect(decodeAuth(Uint8Array.of(0, 0, 0, 4))).toEqual({ features: FEATURES.PLAINTEXT_RECORDS });
    for (const [fn, len] of [[decodeHello, 16], [decodeWelcome, 20], [decodeAuth, 4]] as const) {
      for (const n of [0, len - 1, len + 1]) expect(() => fn(new Uint8Array(n))).toThrow(expect.objectContaining({ code: 'HANDSHAKE_FAILED' }));
    }
    expect(toHex(PROLOGUE)).toBe('4e50524f02');
    expect(FEATURES).toEqual({ LZ4: 1, ZSTD: 2, PLAINTEXT_RECORDS: 4 });
  });

  it('cuts a long reason to 256 bytes at a character boundary', () => {
    const reason = 'é'.repeat(200); // 400 bytes, 2 per character
    const frame = encodeRejectFrame('HANDSHAKE_FAILED', reason);
    expect(frame.length).toBe(9 + 3 + 256);
    const euro = 'a' + '€'.repeat(100); // 1 + 300 bytes: the cut must fall after 85 euros (256 bytes)
    const f2 = encodeRejectFrame('HANDSHAKE_FAILED', euro);
    expect(f2.length).toBe(9 + 3 + 256);
    expect(decodeReject(f2.subarray(9)).reason).toBe('a' + '€'.repeat(85));
    const cut = truncateUtf8(utf8Encoder.encode('ab€'), 3);
    expect(toHex(cut)).toBe('6162');
    expect(toHex(encodeRejectFrame('SERVER_BUSY', '').subarray(5))).toBe('000000037f0013');
  });

  it('decodes REJECT lossily, ignores reason bytes past 256, keeps unknown numbers', () => {
    const long = new Uint8Array(3 + 300).fill(0x41);
    long.set([0x7f, 0x00, 0x08], 0);
    const d = decodeReject(long);
    expect(d.number).toBe(8);
    expect(d.reason).toBe('A'.repeat(256));
    expect(d.error.code).toBe('STALE_TIMESTAMP');
    const lossy = decodeReject(Uint8Array.of(0x7f, 0x00, 0x01, 0xff, 0x41));
    expect(lossy.reason).toBe('\ufffdA');
    expect(lossy.error.code).toBe('BAD_MAGIC');
    for (const n of [0, 31, 101, 0xffff]) {
      const u = decodeReject(Uint8Array.of(0x7f, n >> 8, n & 0xff));
      expect(u.error.code).toBe('HANDSHAKE_FAILED');
      expect(u.error.number).toBe(n);
    }
    expect(decodeReject(Uint8Array.of(0x7f, 0)).error.code).toBe('HANDSHAKE_FAILED');
    expect(decodeReject(Uint8Array.of(0x02, 0, 1)).error.code).toBe('HANDSHAKE_FAILED');
  });
});

describe('handshake options', () => {
  const crypto = PROVIDERS[0]!;

  it('refuses invalid local parameters', () => {
    const staticKey = x25519KeyPair(crypto, crypto.x25519GenerateSecret());
    const base = { crypto, staticKey, features: 0, checkServerKey: () => null };
    for (const maxFrame of [1023, 16_777_217, 1.5]) {
      expect(() => new ClientHandshake({ ...base, maxFrame })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    }
    expect(() => new ClientHandshake({ ...base, maxFrame: 1024, features: 2 ** 32 })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => new ServerHandshake({ crypto, staticKey, features: 0, maxFrame: 1024, maxStreams: 0 })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    const c = new ClientHandshake({ ...base, maxFrame: 1024 });
    c.start();
    expect(() => c.start()).toThrow(expect.objectContaining({ code: 'INVALID_STATE' }));
  });

  it('uses the default provider and clock when none is given', () => {
    const serverKey = x25519KeyPair(crypto, crypto.x25519GenerateSecret());
    const client = new ClientHandshake({ staticKey: x25519KeyPair(crypto, crypto.x25519GenerateSecret()), features: 1, maxFrame: 4096, checkServerKey: () => null });
    const server = new ServerHandshake({ staticKey: serverKey, features: 1, maxFrame: 4096, maxStreams: 1 });
    const before = Date.now();
    const w = server.receive(asFrame(client.start()));
    const a = client.receive(asFrame(w.send[0]!));
    const done = server.receive(asFrame(a.send[0]!));
    expect(done.result?.sessionId).toBe(a.result?.sessionId);
    expect(Math.abs(done.result!.remoteTime - before)).toBeLessThan(5_000);
  });
});
