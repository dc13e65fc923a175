import { NproError } from '../../src/core/errors.js';
import { concatBytes, fromHex, toHex, utf8Encoder } from '../../src/utils/bytes.js';
import {
  CipherState, HandshakeState, MAX_NONCE, PROTOCOL_NAME, SymmetricState, chachaPolyNonce, x25519KeyPair,
} from '../../src/protocol/noise.js';
import { LOW_ORDER_POINTS, PROVIDERS, loadVectors } from '../helpers/handshake-fixtures.js';

interface NoiseVector {
  protocol_name: string;
  init_prologue: string;
  resp_prologue: string;
  init_static: string;
  init_ephemeral: string;
  resp_static: string;
  resp_ephemeral: string;
  handshake_hash?: string;
  messages: { payload: string; ciphertext: string }[];
  source: string;
}

const { vectors } = loadVectors<{ vectors: NoiseVector[] }>('noise-xx-25519-chachapoly-sha256.json');

function expectCode(fn: () => unknown, code: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(NproError.is(caught)).toBe(true);
  expect((caught as NproError).code).toBe(code);
}

describe.each(PROVIDERS.map((p) => [p.name, p] as const))('Noise XX vectors (%s provider)', (_name, crypto) => {
  it('has both published vectors (cacophony and snow)', () => {
    expect(vectors.map((v) => v.source.split('@')[0])).toEqual(['haskell-cryptography/cacophony', 'mcginty/snow']);
  });

  it.each(vectors.map((v) => [v.source.split('@')[0]!, v] as const))('%s: handshake, handshake hash and transport byte for byte', (_src, v) => {
    expect(v.protocol_name).toBe(PROTOCOL_NAME);
    const initiator = new HandshakeState({
      crypto, initiator: true, prologue: fromHex(v.init_prologue),
      staticKey: x25519KeyPair(crypto, fromHex(v.init_static)), ephemeralSecret: fromHex(v.init_ephemeral),
    });
    const responder = new HandshakeState({
      crypto, initiator: false, prologue: fromHex(v.resp_prologue),
      staticKey: x25519KeyPair(crypto, fromHex(v.resp_static)), ephemeralSecret: fromHex(v.resp_ephemeral),
    });
    for (let i = 0; i < 3; i++) {
      const [writer, reader] = i % 2 === 0 ? [initiator, responder] : [responder, initiator];
      const m = v.messages[i]!;
      const ciphertext = writer.writeMessage(fromHex(m.payload));
      expect(toHex(ciphertext)).toBe(m.ciphertext);
      expect(toHex(reader.readMessage(ciphertext))).toBe(m.payload);
    }
    expect(initiator.isComplete && responder.isComplete).toBe(true);
    expect(toHex(initiator.getHandshakeHash())).toBe(toHex(responder.getHandshakeHash()));
    if (v.handshake_hash !== undefined) expect(toHex(initiator.getHandshakeHash())).toBe(v.handshake_hash);
    expect(toHex(initiator.remoteStatic!)).toBe(toHex(crypto.x25519PublicKey(fromHex(v.resp_static))));
    expect(toHex(responder.remoteStatic!)).toBe(toHex(crypto.x25519PublicKey(fromHex(v.init_static))));

    const [iSend, iRecv] = initiator.split();
    const [rRecv, rSend] = responder.split();
    const empty = new Uint8Array(0);
    for (let i = 3; i < v.messages.length; i++) {
      const m = v.messages[i]!;
      const [send, recv] = i % 2 === 0 ? [iSend, rRecv] : [rSend, iRecv];
      const ct = send.encryptWithAd(empty, fromHex(m.payload));
      expect(toHex(ct)).toBe(m.ciphertext);
      expect(toHex(recv.decryptWithAd(empty, ct))).toBe(m.payload);
    }
  });

  it('keeps k and n unchanged when decryptWithAd fails (Noise §5.1)', () => {
    const key = crypto.randomBytes(32);
    const tx = new CipherState(crypto, key);
    const rx = new CipherState(crypto, key);
    const ad = utf8Encoder.encode('ad');
    const c0 = tx.encryptWithAd(ad, utf8Encoder.encode('first'));
    const c1 = tx.encryptWithAd(ad, utf8Encoder.encode('second'));
    const forged = c0.slice();
    forged[0]! ^= 1;
    expectCode(() => rx.decryptWithAd(ad, forged), 'HANDSHAKE_FAILED');
    expectCode(() => rx.decryptWithAd(ad, c1), 'HANDSHAKE_FAILED');
    expectCode(() => rx.decryptWithAd(utf8Encoder.encode('other'), c0), 'HANDSHAKE_FAILED');
    expect(rx.nonce).toBe(0);
    expect(new TextDecoder().decode(rx.decryptWithAd(ad, c0))).toBe('first');
    expect(new TextDecoder().decode(rx.decryptWithAd(ad, c1))).toBe('second');
    expect(rx.nonce).toBe(2);
  });

  it('passes data through without a key and refuses an exhausted nonce', () => {
    const cs = new CipherState(crypto);
    const data = Uint8Array.of(1, 2, 3);
    expect(cs.hasKey()).toBe(false);
    expect(cs.encryptWithAd(new Uint8Array(0), data)).toEqual(data);
    expect(cs.decryptWithAd(new Uint8Array(0), data)).toEqual(data);
    cs.initializeKey(new Uint8Array(32));
    expect(cs.hasKey()).toBe(true);
    cs.setNonce(MAX_NONCE);
    expect(cs.encryptWithAd(new Uint8Array(0), data)).toHaveLength(19);
    expectCode(() => cs.encryptWithAd(new Uint8Array(0), data), 'KEY_EXHAUSTED');
  });

  it('matches Noise §4.3 HKDF built from HMAC-SHA256 in MixKey and Split', () => {
    const ss = new SymmetricState(crypto);
    ss.initializeSymmetric(PROTOCOL_NAME);
    const ikm = crypto.randomBytes(32);
    const hkdf2 = (ck: Uint8Array, input: Uint8Array): [Uint8Array, Uint8Array] => {
      const temp = crypto.hmacSha256(ck, input);
      const o1 = crypto.hmacSha256(temp, Uint8Array.of(1));
      return [o1, crypto.hmacSha256(temp, concatBytes(o1, Uint8Array.of(2)))];
    };
    const [ck1, k] = hkdf2(utf8Encoder.encode(PROTOCOL_NAME), ikm);
    ss.mixKey(ikm);
    const [k1, k2] = ss.splitKeys();
    const [e1, e2] = hkdf2(ck1, new Uint8Array(0));
    expect(toHex(k1)).toBe(toHex(e1));
    expect(toHex(k2)).toBe(toHex(e2));
    // The handshake key is k: EncryptAndHash seals under it with h as associated data, nonce 0.
    const h = ss.getHandshakeHash();
    const ct = ss.encryptAndHash(utf8Encoder.encode('x'));
    expect(toHex(ct)).toBe(toHex(crypto.chacha20poly1305Seal(k, chachaPolyNonce(0), utf8Encoder.encode('x'), h)));
    expect(toHex(ss.getHandshakeHash())).toBe(toHex(crypto.sha256(concatBytes(h, ct))));
  });
});

describe('Noise building blocks', () => {
  const crypto = PROVIDERS[0]!;

  it('encodes the ChaChaPoly nonce as 4 zero bytes ‖ u64 LE (Noise §12.3)', () => {
    expect(toHex(chachaPolyNonce(0))).toBe('000000000000000000000000');
    expect(toHex(chachaPolyNonce(1))).toBe('000000000100000000000000');
    expect(toHex(chachaPolyNonce(0x0102030405))).toBe('000000000504030201000000');
    expect(toHex(chachaPolyNonce(Number.MAX_SAFE_INTEGER))).toBe('00000000ffffffffffff1f00');
  });

  it('pads a short protocol name and hashes a long one (InitializeSymmetric)', () => {
    const short = new SymmetricState(crypto);
    short.initializeSymmetric('Noise_NN');
    expect(toHex(short.getHandshakeHash())).toBe(toHex(utf8Encoder.encode('Noise_NN')) + '00'.repeat(24));
    const exact = new SymmetricState(crypto);
    exact.initializeSymmetric(PROTOCOL_NAME);
    expect(toHex(exact.getHandshakeHash())).toBe(toHex(utf8Encoder.encode(PROTOCOL_NAME)));
    const long = 'Noise_XXpsk3_25519_ChaChaPoly_BLAKE2s';
    const hashed = new SymmetricState(crypto);
    hashed.initializeSymmetric(long);
    expect(toHex(hashed.getHandshakeHash())).toBe(toHex(crypto.sha256(utf8Encoder.encode(long))));
  });

  function pair(c = crypto): [HandshakeState, HandshakeState] {
    const prologue = utf8Encoder.encode('p');
    const mk = (initiator: boolean): HandshakeState =>
      new HandshakeState({ crypto: c, initiator, prologue, staticKey: x25519KeyPair(c, c.x25519GenerateSecret()) });
    return [mk(true), mk(false)];
  }

  it('refuses calls out of turn and Split() before the end', () => {
    const [i, r] = pair();
    expect(i.isMyTurn).toBe(true);
    expect(r.isMyTurn).toBe(false);
    expectCode(() => i.readMessage(new Uint8Array(32)), 'INVALID_STATE');
    expectCode(() => r.writeMessage(new Uint8Array(0)), 'INVALID_STATE');
    expectCode(() => i.splitKeys(), 'INVALID_STATE');
  });

  it('fails for good on a truncated or tampered message', () => {
    const [i, r] = pair();
    const m1 = i.writeMessage(new Uint8Array(0));
    expectCode(() => r.readMessage(m1.subarray(0, 31)), 'HANDSHAKE_FAILED');
    expectCode(() => r.readMessage(m1), 'HANDSHAKE_FAILED');

    const [i2, r2] = pair();
    r2.readMessage(i2.writeMessage(new Uint8Array(0)));
    const m2 = r2.writeMessage(utf8Encoder.encode('hi'));
    for (const cut of [m2.subarray(0, 32), m2.subarray(0, 79), m2.subarray(0, m2.length - 1)]) {
      const [i3, r3] = pair();
      r3.readMessage(i3.writeMessage(new Uint8Array(0)));
      expectCode(() => i3.readMessage(cut), 'HANDSHAKE_FAILED');
    }
    const forged = m2.slice();
    forged[40]! ^= 0x80;
    expectCode(() => i2.readMessage(forged), 'HANDSHAKE_FAILED');
    expectCode(() => i2.readMessage(m2), 'HANDSHAKE_FAILED');
    expect(i2.isComplete).toBe(false);
  });

  const lowOrderCases = PROVIDERS.flatMap((p) => LOW_ORDER_POINTS.map((point) => [p.name, point, p] as const));
  it.each(lowOrderCases)('%s provider: fails on the low-order ephemeral %s', (_name, point, c) => {
    const [i, r] = pair(c);
    const m1 = i.writeMessage(new Uint8Array(0));
    const bad = m1.slice();
    bad.set(fromHex(point), 0);
    r.readMessage(bad);
    expectCode(() => r.writeMessage(new Uint8Array(0)), 'HANDSHAKE_FAILED');
  });

  it('draws a fresh ephemeral per handshake and leaves an injected secret untouched', () => {
    const seen = new Set<string>();
    for (let n = 0; n < 20; n++) {
      const [i] = pair();
      seen.add(toHex(i.writeMessage(new Uint8Array(0)).subarray(0, 32)));
    }
    expect(seen.size).toBe(20);
    const injected = new Uint8Array(32).fill(0x22);
    const hs = new HandshakeState({
      crypto, initiator: true, prologue: new Uint8Array(0), staticKey: x25519KeyPair(crypto, new Uint8Array(32).fill(0x11)), ephemeralSecret: injected,
    });
    expect(toHex(hs.writeMessage(new Uint8Array(0)))).toBe(toHex(crypto.x25519PublicKey(injected)));
    expect(toHex(hs.localEphemeral!)).toBe(toHex(crypto.x25519PublicKey(injected)));
    expect(injected.every((b) => b === 0x22)).toBe(true);
  });
});
