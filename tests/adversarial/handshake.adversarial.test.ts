/**
 * The v2 handshake under attack (protocol.md §3): every single-bit flip of HELLO, WELCOME and AUTH,
 * clock skew at the window's edges, low-order keys, wrong lengths, frames out of order, a pinned-key
 * mismatch, and 200 handshakes interleaved step by step.
 */
import { NproError, type ErrorCode } from '../../src/core/errors.js';
import { FrameDecoder, type DecodedFrame } from '../../src/core/frame-decoder.js';
import { encodeFrame, PRE_HANDSHAKE_MAX_PAYLOAD, VERSION_V1, VERSION_V2 } from '../../src/core/frame.js';
import { fromHex, toHex } from '../../src/utils/bytes.js';
import { x25519KeyPair } from '../../src/protocol/noise.js';
import { HANDSHAKE_KIND, decodeReject, encodeRejectFrame } from '../../src/protocol/handshake-messages.js';
import type { ClientHandshake, HandshakeResult, HandshakeStep, ServerHandshake, ServerHandshakeResult } from '../../src/protocol/handshake.js';
import { LOW_ORDER_POINTS, PROVIDERS, asFrame, freshPair, golden, goldenPair, pinTo } from '../helpers/handshake-fixtures.js';

const crypto = PROVIDERS[0]!;
const main = golden.v2_sessions[0]!;
const [HELLO, WELCOME, AUTH] = main.handshake.map((h) => fromHex(h.frame)) as [Uint8Array, Uint8Array, Uint8Array];
const kindsOf = (send: Uint8Array[]): number[] => send.map((f) => f[9]!);

/** The REJECT code carried by `frame`. */
function rejectCode(frame: Uint8Array): ErrorCode {
  expect(frame[9]).toBe(HANDSHAKE_KIND.REJECT);
  return decodeReject(frame.subarray(9)).error.code;
}

/**
 * Delivers `bytes` through a real frame decoder, as a driver would. A decoder error is answered like
 * the driver does (`server.reject(code)` on the server side); a frame left incomplete is what the
 * driver's frame_timeout ends (`FRAME_TIMEOUT`). Returns the error code the receiving side reports.
 */
function deliver(
  bytes: Uint8Array, lock: boolean, receive: (f: DecodedFrame) => HandshakeStep<unknown>, server?: ServerHandshake,
): { code: ErrorCode | null; step?: HandshakeStep<unknown> } {
  const decoder = new FrameDecoder();
  if (lock) decoder.lockVersion(VERSION_V2);
  decoder.push(bytes);
  let frame: DecodedFrame | null;
  try {
    frame = decoder.next();
  } catch (e) {
    if (!NproError.is(e)) throw e;
    if (server !== undefined) expect(rejectCode(server.reject(e.code as 'BAD_MAGIC', e.message)!)).toBe(e.code);
    return { code: e.code };
  }
  if (frame === null) {
    expect(decoder.inFrame).toBe(true);
    if (server !== undefined) expect(rejectCode(server.reject('FRAME_TIMEOUT', 'frame timeout')!)).toBe('FRAME_TIMEOUT');
    return { code: 'FRAME_TIMEOUT' };
  }
  const step = receive(frame);
  return { code: step.error?.code ?? null, step };
}

/** The error a header bit flip must produce: magic, version, or the new length's effect (protocol.md §1). */
function headerExpectation(original: Uint8Array, byte: number, bit: number): ErrorCode | null {
  if (byte < 4) return 'BAD_MAGIC';
  if (byte === 4) return 'VERSION_UNSUPPORTED';
  if (byte > 8) return null;
  const flipped = original.slice();
  flipped[byte]! ^= 1 << bit;
  const n = new DataView(flipped.buffer).getUint32(5);
  if (n > PRE_HANDSHAKE_MAX_PAYLOAD) return 'FRAME_TOO_LARGE';
  return n > original.length - 9 ? 'FRAME_TIMEOUT' : 'HANDSHAKE_FAILED';
}

function flipped(frame: Uint8Array, byte: number, bit: number): Uint8Array {
  const f = frame.slice();
  f[byte]! ^= 1 << bit;
  return f;
}

describe('every single-bit flip fails the handshake', () => {
  it(`HELLO: all ${HELLO.length * 8} flips`, () => {
    const serverNow = main.inputs.server_clock_ms;
    for (let byte = 0; byte < HELLO.length; byte++) {
      for (let bit = 0; bit < 8; bit++) {
        const { client, server } = goldenPair(main, crypto);
        client.start();
        const got = deliver(flipped(HELLO, byte, bit), false, (f) => server.receive(f), server);
        let expected = headerExpectation(HELLO, byte, bit) ?? 'HANDSHAKE_FAILED';
        if (byte >= 42 && byte < 50) {
          const t = new DataView(flipped(HELLO, byte, bit).buffer).getBigUint64(42);
          if (t < BigInt(serverNow - 30_000) || t > BigInt(serverNow + 30_000)) expected = 'STALE_TIMESTAMP';
        }
        let code = got.code;
        if (got.step !== undefined && got.step.error !== undefined) {
          // Every error the server finds in HELLO is answered with REJECT of that code.
          expect(got.step.send.map(rejectCode)).toEqual([got.step.error.code]);
        }
        if (code === null) {
          // The server accepted the altered HELLO (e or a field in clear): the transcripts differ,
          // so the client cannot decrypt WELCOME and sends no AUTH.
          const c = client.receive(asFrame(got.step!.send[0]!));
          expect(c.send).toEqual([]);
          expect(c.result).toBeUndefined();
          code = c.error?.code ?? null;
        }
        expect([byte, bit, code]).toEqual([byte, bit, expected]);
      }
    }
  });

  it(`WELCOME: all ${WELCOME.length * 8} flips`, () => {
    for (let byte = 0; byte < WELCOME.length; byte++) {
      for (let bit = 0; bit < 8; bit++) {
        const { client } = goldenPair(main, crypto);
        client.start();
        const got = deliver(flipped(WELCOME, byte, bit), true, (f) => client.receive(f));
        if (got.step !== undefined) {
          expect(kindsOf(got.step.send)).not.toContain(HANDSHAKE_KIND.AUTH);
          expect(got.step.result).toBeUndefined();
        }
        expect([byte, bit, got.code]).toEqual([byte, bit, headerExpectation(WELCOME, byte, bit) ?? 'HANDSHAKE_FAILED']);
      }
    }
  });

  it(`AUTH: all ${AUTH.length * 8} flips`, () => {
    for (let byte = 0; byte < AUTH.length; byte++) {
      for (let bit = 0; bit < 8; bit++) {
        const { client, server } = goldenPair(main, crypto);
        server.receive(asFrame(client.start()));
        const got = deliver(flipped(AUTH, byte, bit), true, (f) => server.receive(f), server);
        if (got.step !== undefined) {
          expect(got.step.result).toBeUndefined();
          expect(got.step.send.map(rejectCode)).toEqual(['HANDSHAKE_FAILED']);
        }
        expect([byte, bit, got.code]).toEqual([byte, bit, headerExpectation(AUTH, byte, bit) ?? 'HANDSHAKE_FAILED']);
      }
    }
  });
});

function run(client: ClientHandshake, server: ServerHandshake): { c: HandshakeStep<HandshakeResult>; s: HandshakeStep<ServerHandshakeResult>; s2?: HandshakeStep<ServerHandshakeResult> } {
  const s = server.receive(asFrame(client.start()));
  if (s.error !== undefined) return { c: { send: [] }, s }; // the server refused HELLO
  const c = client.receive(asFrame(s.send[0]!));
  return c.error !== undefined ? { c, s } : { c, s, s2: server.receive(asFrame(c.send[0]!)) };
}

describe('client_time window of ±30 s', () => {
  const serverNow = 1_700_000_000_000;
  it.each([[-31_000], [31_000], [-30_001], [30_001]])('skew %d ms → STALE_TIMESTAMP with REJECT', (skew) => {
    const { client, server } = freshPair({ crypto, clientNow: () => serverNow + skew, serverNow: () => serverNow });
    const { s } = run(client, server);
    expect(s.error?.code).toBe('STALE_TIMESTAMP');
    expect(s.send.map(rejectCode)).toEqual(['STALE_TIMESTAMP']);
    const low = serverNow - 30_000;
    expect(decodeReject(s.send[0]!.subarray(9)).reason).toBe(`client_time ${serverNow + skew} outside [${low}, ${serverNow + 30_000}] (Unix ms)`);
  });

  it.each([[-29_000], [29_000], [-30_000], [30_000], [0]])('skew %d ms → the handshake succeeds', (skew) => {
    const { client, server } = freshPair({ crypto, clientNow: () => serverNow + skew, serverNow: () => serverNow });
    const { c, s2 } = run(client, server);
    expect(c.error).toBeUndefined();
    expect(s2?.result?.sessionId).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe.each(LOW_ORDER_POINTS)('low-order key %s', (point) => {
  const low = fromHex(point);

  it('as the client ephemeral in HELLO → server HANDSHAKE_FAILED with REJECT', () => {
    const { client, server } = freshPair({ crypto });
    const hello = client.start().slice();
    hello.set(low, 10);
    const s = server.receive(asFrame(hello));
    expect(s.error?.code).toBe('HANDSHAKE_FAILED');
    expect(s.send.map(rejectCode)).toEqual(['HANDSHAKE_FAILED']);
  });

  it('as the server ephemeral in WELCOME → client HANDSHAKE_FAILED, no AUTH', () => {
    const { client, server } = freshPair({ crypto });
    const welcome = server.receive(asFrame(client.start())).send[0]!.slice();
    welcome.set(low, 10);
    const c = client.receive(asFrame(welcome));
    expect(c.error?.code).toBe('HANDSHAKE_FAILED');
    expect(c.send).toEqual([]);
  });

  it('as the server static key → client HANDSHAKE_FAILED, no AUTH', () => {
    const serverKey = { secretKey: crypto.x25519GenerateSecret(), publicKey: low };
    const { client, server } = freshPair({ crypto, serverKey, client: { checkServerKey: () => null } });
    const c = client.receive(asFrame(server.receive(asFrame(client.start())).send[0]!));
    expect(c.error?.code).toBe('HANDSHAKE_FAILED');
    expect(c.send).toEqual([]);
  });

  it('as the client static key → server HANDSHAKE_FAILED with REJECT', () => {
    const clientKey = { secretKey: crypto.x25519GenerateSecret(), publicKey: low };
    const { client, server } = freshPair({ crypto, clientKey });
    const { s2 } = run(client, server);
    expect(s2?.error?.code).toBe('HANDSHAKE_FAILED');
    expect(s2?.send.map(rejectCode)).toEqual(['HANDSHAKE_FAILED']);
    expect(s2?.result).toBeUndefined();
  });
});

describe('wrong lengths and frames out of order', () => {
  const resize = (frame: Uint8Array, delta: number): Uint8Array => {
    const p = frame.subarray(9);
    const q = new Uint8Array(p.length + delta);
    q.set(delta < 0 ? p.subarray(0, q.length) : p);
    return encodeFrame(VERSION_V2, q);
  };

  it.each([[-1], [1], [-48], [100]])('HELLO, WELCOME, AUTH with %d bytes → HANDSHAKE_FAILED', (delta) => {
    const a = goldenPair(main, crypto);
    a.client.start();
    const s = a.server.receive(asFrame(resize(HELLO, delta)));
    expect([s.error?.code, s.send.map(rejectCode)]).toEqual(['HANDSHAKE_FAILED', ['HANDSHAKE_FAILED']]);
    const b = goldenPair(main, crypto);
    b.client.start();
    const c = b.client.receive(asFrame(resize(WELCOME, delta)));
    expect([c.error?.code, c.send]).toEqual(['HANDSHAKE_FAILED', []]);
    const d = goldenPair(main, crypto);
    d.server.receive(asFrame(d.client.start()));
    const s2 = d.server.receive(asFrame(resize(AUTH, delta)));
    expect([s2.error?.code, s2.send.map(rejectCode)]).toEqual(['HANDSHAKE_FAILED', ['HANDSHAKE_FAILED']]);
  });

  it('an empty payload and a v1 frame are refused', () => {
    const { server } = goldenPair(main, crypto);
    expect(server.receive(asFrame(encodeFrame(VERSION_V2, new Uint8Array(0)))).error?.code).toBe('HANDSHAKE_FAILED');
    const other = goldenPair(main, crypto);
    const v1 = other.server.receive(asFrame(encodeFrame(VERSION_V1, HELLO.subarray(9))));
    expect([v1.error?.code, v1.send.map(rejectCode)]).toEqual(['VERSION_UNSUPPORTED', ['VERSION_UNSUPPORTED']]);
  });

  it('server: AUTH or WELCOME first, HELLO twice, anything after completion → HANDSHAKE_FAILED', () => {
    for (const first of [AUTH, WELCOME]) {
      const { server } = goldenPair(main, crypto);
      const s = server.receive(asFrame(first));
      expect([s.error?.code, s.send.map(rejectCode)]).toEqual(['HANDSHAKE_FAILED', ['HANDSHAKE_FAILED']]);
      expect(server.receive(asFrame(HELLO)).send).toEqual([]);
    }
    const twice = goldenPair(main, crypto);
    twice.server.receive(asFrame(HELLO));
    const again = twice.server.receive(asFrame(HELLO));
    expect([again.error?.code, again.send.map(rejectCode)]).toEqual(['HANDSHAKE_FAILED', ['HANDSHAKE_FAILED']]);
    const done = goldenPair(main, crypto);
    done.server.receive(asFrame(HELLO));
    expect(done.server.receive(asFrame(AUTH)).result).toBeDefined();
    const after = done.server.receive(asFrame(AUTH));
    expect([after.error?.code, after.send]).toEqual(['HANDSHAKE_FAILED', []]);
    expect(done.server.reject('HANDSHAKE_TIMEOUT', 'late')).toBeNull();
  });

  it('client: a frame before start, HELLO or AUTH instead of WELCOME, WELCOME twice → HANDSHAKE_FAILED', () => {
    const early = goldenPair(main, crypto);
    expect(early.client.receive(asFrame(WELCOME)).error?.code).toBe('HANDSHAKE_FAILED');
    for (const wrong of [HELLO, AUTH]) {
      const { client } = goldenPair(main, crypto);
      client.start();
      const c = client.receive(asFrame(wrong));
      expect([c.error?.code, c.send]).toEqual(['HANDSHAKE_FAILED', []]);
    }
    const twice = goldenPair(main, crypto);
    twice.client.start();
    expect(twice.client.receive(asFrame(WELCOME)).result).toBeDefined();
    expect(twice.client.receive(asFrame(WELCOME)).error?.code).toBe('HANDSHAKE_FAILED');
  });

  it('a REJECT from the client ends the server handshake without a reply', () => {
    const { server } = goldenPair(main, crypto);
    server.receive(asFrame(HELLO));
    const s = server.receive(asFrame(encodeRejectFrame('SERVER_KEY_MISMATCH', 'pinned key differs')));
    expect([s.error?.code, s.send]).toEqual(['SERVER_KEY_MISMATCH', []]);
  });
});

describe('server key trust', () => {
  it('a pinned-key mismatch fails before AUTH is produced', () => {
    const other = x25519KeyPair(crypto, crypto.x25519GenerateSecret());
    for (const sendReject of [false, true]) {
      // The client pins another server's key.
      const { client, server } = freshPair({ crypto, client: { sendReject, checkServerKey: pinTo(other.publicKey) } });
      const step = client.receive(asFrame(server.receive(asFrame(client.start())).send[0]!));
      expect(step.error?.code).toBe('SERVER_KEY_MISMATCH');
      expect(step.result).toBeUndefined();
      expect(kindsOf(step.send)).not.toContain(HANDSHAKE_KIND.AUTH);
      expect(step.send.map(rejectCode)).toEqual(sendReject ? ['SERVER_KEY_MISMATCH'] : []);
      expect(client.receive(asFrame(WELCOME)).send).toEqual([]);
    }
  });

  it('the callback sees the server static key; features are ANDed, unknown bits kept', () => {
    let seen: Uint8Array | null = null;
    const { client, server, serverKey } = freshPair({
      crypto, client: { features: 0x8000_0007, checkServerKey: (k) => ((seen = k), null) }, server: { features: 0x8000_0005 },
    });
    const { c, s2 } = run(client, server);
    expect(toHex(seen!)).toBe(toHex(serverKey.publicKey));
    expect(c.result?.features).toBe(0x8000_0005);
    expect(s2?.result?.features).toBe(0x8000_0005);
  });
});

/** 0…n−1 in an order fixed by `seed` (Fisher–Yates with a small LCG). */
function shuffled(n: number, seed: number): number[] {
  const out = Array.from({ length: n }, (_, i) => i);
  let x = seed;
  for (let i = n - 1; i > 0; i--) {
    x = (x * 1_103_515_245 + 12_345) % 2_147_483_648;
    const j = x % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

describe('interleaving and freshness', () => {
  it('200 handshakes advanced one step at a time, round-robin, all succeed with distinct sessions and ephemerals', () => {
    const serverKey = x25519KeyPair(crypto, crypto.x25519GenerateSecret());
    const pairs = Array.from({ length: 200 }, () => ({ ...freshPair({ crypto, serverKey }), inbox: [] as Uint8Array[], ids: [] as string[] }));
    const ephemerals = new Set<string>();
    const steps: ((p: (typeof pairs)[number]) => void)[] = [
      (p) => p.inbox.push(p.client.start()),
      (p) => p.inbox.push(...p.server.receive(asFrame(p.inbox.shift()!)).send),
      (p) => {
        const c = p.client.receive(asFrame(p.inbox.shift()!));
        p.inbox.push(...c.send);
        p.ids.push(c.result!.sessionId + toHex(c.result!.c2sKey));
      },
      (p) => {
        const s = p.server.receive(asFrame(p.inbox.shift()!));
        p.ids.push(s.result!.sessionId + toHex(s.result!.c2sKey));
      },
    ];
    for (let round = 0; round < steps.length; round++) {
      // Visit the pairs in a different order each round.
      const order = shuffled(pairs.length, round + 1);
      for (const i of order) {
        const p = pairs[i]!;
        steps[round]!(p);
        if (round < 2) ephemerals.add(toHex(p.inbox[0]!.subarray(10, 42)));
      }
    }
    const sessions = new Set(pairs.map((p) => p.ids[0]));
    for (const p of pairs) expect(p.ids[0]).toBe(p.ids[1]);
    expect(sessions.size).toBe(200);
    expect(ephemerals.size).toBe(400);
  });

  it('an injected ephemeral is used by one handshake only', () => {
    const a = goldenPair(main, crypto);
    const b = goldenPair(main, crypto);
    expect(toHex(a.client.start())).toBe(toHex(b.client.start()));
    expect(() => a.client.start()).toThrow(expect.objectContaining({ code: 'INVALID_STATE' }));
  });
});
