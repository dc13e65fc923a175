/** The node:crypto provider's own contract, and the refusals both providers share. */
import { generateKeyPairSync } from 'node:crypto';
import { NproError } from '../../../src/core/errors.js';
import { defaultCrypto, getCrypto, nobleCrypto, nodeCrypto, type CryptoProvider } from '../../../src/utils/crypto/index.js';
import { fromHex, toHex } from '../../../src/utils/bytes.js';
import { PKCS8_X25519_PREFIX } from '../../../src/utils/crypto/node.js';

const providers: [string, CryptoProvider][] = [['node', nodeCrypto], ['noble', nobleCrypto]];

function errorOf(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

function flipBit(a: Uint8Array, bit: number): Uint8Array {
  const b = a.slice();
  b[bit >> 3]! ^= 1 << (bit & 7);
  return b;
}

describe('crypto/index', () => {
  it('defaultCrypto is the node provider; getCrypto names both and refuses others', () => {
    expect(defaultCrypto).toBe(nodeCrypto);
    expect(getCrypto('node')).toBe(nodeCrypto);
    expect(getCrypto('noble')).toBe(nobleCrypto);
    expect(nodeCrypto.name).toBe('node');
    expect(NproError.is(errorOf(() => getCrypto('openssl' as 'node')), 'INVALID_ARGUMENT')).toBe(true);
  });
});

describe.each(providers)('%s provider: refusals', (_name, c) => {
  it('an all-zero X25519 result is refused with HANDSHAKE_FAILED (zero, one and order-8 public keys)', () => {
    const secret = c.x25519GenerateSecret();
    for (const pub of [new Uint8Array(32), Uint8Array.of(1, ...new Uint8Array(31))]) {
      expect(NproError.is(errorOf(() => c.x25519(secret, pub)), 'HANDSHAKE_FAILED')).toBe(true);
    }
  });

  it('a peer public key that is not 32 bytes is refused', () => {
    const secret = c.x25519GenerateSecret();
    expect(NproError.is(errorOf(() => c.x25519(secret, new Uint8Array(31).fill(9))), 'HANDSHAKE_FAILED')).toBe(true);
  });

  describe.each([
    ['ChaCha20-Poly1305', 12, c.chacha20poly1305Seal, c.chacha20poly1305Open],
    ['XChaCha20-Poly1305', 24, c.xchacha20poly1305Seal, c.xchacha20poly1305Open],
  ] as const)('%s open', (_aead, nonceLength, seal, open) => {
    const key = c.randomBytes(32);
    const nonce = c.randomBytes(nonceLength);
    const aad = c.randomBytes(13);
    const pt = c.randomBytes(100);
    const sealed = seal(key, nonce, pt, aad);

    it('opens the untouched input', () => {
      expect(toHex(open(key, nonce, sealed, aad)!)).toBe(toHex(pt));
      expect(sealed.length).toBe(pt.length + 16);
    });

    it('returns null for a flipped bit in the ciphertext, the tag or the AAD', () => {
      for (const bit of [0, 7, 8 * 50 + 3, 8 * 99 + 7]) expect(open(key, nonce, flipBit(sealed, bit), aad)).toBeNull();
      for (const bit of [8 * 100, 8 * 100 + 64, 8 * 116 - 1]) expect(open(key, nonce, flipBit(sealed, bit), aad)).toBeNull();
      for (const bit of [0, 8 * 12 + 7]) expect(open(key, nonce, sealed, flipBit(aad, bit))).toBeNull();
      expect(open(key, nonce, sealed)).toBeNull();
    });

    it('returns null for the wrong key or nonce, a truncated input, a short input and garbage', () => {
      expect(open(flipBit(key, 5), nonce, sealed, aad)).toBeNull();
      expect(open(key, flipBit(nonce, nonceLength * 8 - 1), sealed, aad)).toBeNull();
      expect(open(key, nonce, sealed.subarray(0, sealed.length - 1), aad)).toBeNull();
      for (const n of [0, 1, 15]) expect(open(key, nonce, new Uint8Array(n), aad)).toBeNull();
      expect(open(key, nonce, c.randomBytes(16), aad)).toBeNull();
      expect(open(key, nonce, c.randomBytes(300), aad)).toBeNull();
    });

    it('a 16-byte input is an empty plaintext with its tag', () => {
      const empty = seal(key, nonce, new Uint8Array(0));
      expect(empty.length).toBe(16);
      expect(open(key, nonce, empty)!.length).toBe(0);
    });
  });
});

describe('node provider specifics', () => {
  const plain = (a: Uint8Array) => Object.getPrototypeOf(a) === Uint8Array.prototype;

  it('returns plain Uint8Arrays (never Buffers) that own their whole ArrayBuffer', () => {
    const k = nodeCrypto.randomBytes(32);
    const sealed = nodeCrypto.xchacha20poly1305Seal(k, nodeCrypto.randomBytes(24), Uint8Array.of(1, 2, 3));
    const outs = [
      k,
      sealed,
      nodeCrypto.chacha20poly1305Seal(k, new Uint8Array(12), Uint8Array.of(1, 2, 3)),
      nodeCrypto.chacha20poly1305Open(k, new Uint8Array(12), nodeCrypto.chacha20poly1305Seal(k, new Uint8Array(12), Uint8Array.of(1)))!,
      nodeCrypto.x25519PublicKey(k),
      nodeCrypto.x25519(k, nodeCrypto.x25519PublicKey(nodeCrypto.x25519GenerateSecret())),
      nodeCrypto.sha256(k),
      nodeCrypto.hmacSha256(k, k),
      nodeCrypto.hkdfSha256(k, k, k, 64),
    ];
    for (const o of outs) {
      expect(plain(o)).toBe(true);
      expect(o.byteLength).toBe(o.buffer.byteLength);
    }
  });

  it('reads inputs that are views at an offset into a larger buffer', () => {
    const backing = nodeCrypto.randomBytes(400);
    const secret = backing.subarray(3, 35);
    const peer = nobleCrypto.x25519PublicKey(backing.subarray(40, 72));
    const peerView = new Uint8Array(400);
    peerView.set(peer, 77);
    const key = backing.subarray(101, 133);
    const nonce = backing.subarray(140, 164);
    const pt = backing.subarray(170, 333);
    const aad = backing.subarray(333, 351);
    expect(toHex(nodeCrypto.x25519(secret, peerView.subarray(77, 109)))).toBe(toHex(nobleCrypto.x25519(secret.slice(), peer)));
    expect(toHex(nodeCrypto.x25519PublicKey(secret))).toBe(toHex(nobleCrypto.x25519PublicKey(secret.slice())));
    const sealed = nodeCrypto.xchacha20poly1305Seal(key, nonce, pt, aad);
    expect(toHex(sealed)).toBe(toHex(nobleCrypto.xchacha20poly1305Seal(key.slice(), nonce.slice(), pt.slice(), aad.slice())));
    const framed = new Uint8Array(sealed.length + 9);
    framed.set(sealed, 9);
    expect(toHex(nodeCrypto.xchacha20poly1305Open(key, nonce, framed.subarray(9), aad)!)).toBe(toHex(pt));
  });

  it('a secret changed in place after use is read again (no stale key)', () => {
    const secret = nodeCrypto.x25519GenerateSecret();
    const peer = nodeCrypto.x25519PublicKey(nodeCrypto.x25519GenerateSecret());
    const first = nodeCrypto.x25519(secret, peer);
    secret.set(nodeCrypto.randomBytes(32));
    const second = nodeCrypto.x25519(secret, peer);
    expect(toHex(second)).not.toBe(toHex(first));
    expect(toHex(second)).toBe(toHex(nobleCrypto.x25519(secret, peer)));
    expect(toHex(nodeCrypto.x25519PublicKey(secret))).toBe(toHex(nobleCrypto.x25519PublicKey(secret)));
  });

  it('refuses bad arguments with INVALID_ARGUMENT', () => {
    const k = new Uint8Array(32);
    const bad = [
      () => nodeCrypto.x25519(new Uint8Array(31), fromHex('09'.padEnd(64, '0'))),
      () => nodeCrypto.x25519PublicKey(new Uint8Array(33)),
      () => nodeCrypto.chacha20poly1305Seal(new Uint8Array(16), new Uint8Array(12), k),
      () => nodeCrypto.chacha20poly1305Seal(k, new Uint8Array(24), k),
      () => nodeCrypto.xchacha20poly1305Seal(k, new Uint8Array(12), k),
      () => nodeCrypto.hchacha20(k, new Uint8Array(12)),
      () => nodeCrypto.hkdfSha256(k, k, k, 255 * 32 + 1),
      () => nodeCrypto.hkdfSha256(k, k, k, -1),
    ];
    for (const fn of bad) expect(NproError.is(errorOf(fn), 'INVALID_ARGUMENT')).toBe(true);
    expect(nodeCrypto.chacha20poly1305Open(new Uint8Array(16), new Uint8Array(12), new Uint8Array(32))).toBeNull();
    expect(nodeCrypto.xchacha20poly1305Open(k, new Uint8Array(12), new Uint8Array(32))).toBeNull();
  });

  it('the PKCS #8 prefix of the fallback import is the one OpenSSL writes for X25519', () => {
    const der = generateKeyPairSync('x25519').privateKey.export({ format: 'der', type: 'pkcs8' });
    expect(der.length).toBe(PKCS8_X25519_PREFIX.length + 32);
    expect(toHex(der.subarray(0, PKCS8_X25519_PREFIX.length))).toBe(toHex(PKCS8_X25519_PREFIX));
  });

  it('HKDF with an empty salt equals HKDF with 32 zero bytes (RFC 5869 §2.2)', () => {
    const ikm = nodeCrypto.randomBytes(32);
    const info = Uint8Array.of(1, 2, 3);
    expect(toHex(nodeCrypto.hkdfSha256(ikm, new Uint8Array(0), info, 64))).toBe(toHex(nodeCrypto.hkdfSha256(ikm, new Uint8Array(32), info, 64)));
  });
});

describe('noble provider edge cases', () => {
  it('gives random bytes beyond the 65,536-byte WebCrypto limit', async () => {
    const { nobleCrypto } = await import('../../../src/utils/crypto/noble.js');
    const r = nobleCrypto.randomBytes(200_000);
    expect(r.length).toBe(200_000);
    // The last chunk is filled too (all zero would mean it was not).
    expect(r.subarray(196_608).some((b) => b !== 0)).toBe(true);
  });

  it('reports a wrong nonce size as INVALID_ARGUMENT', async () => {
    const { nobleCrypto } = await import('../../../src/utils/crypto/noble.js');
    expect(() => nobleCrypto.xchacha20poly1305Seal(new Uint8Array(32), new Uint8Array(12), new Uint8Array(1))).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
  });
});

describe('chacha20poly1305SealInto', () => {
  it('writes exactly what chacha20poly1305Seal returns, at the offset, on both providers', async () => {
    const { nobleCrypto } = await import('../../../src/utils/crypto/noble.js');
    const { nodeCrypto } = await import('../../../src/utils/crypto/node.js');
    for (const size of [0, 1, 63, 64, 1000, 70_000]) {
      const key = nodeCrypto.randomBytes(32);
      const nonce = nodeCrypto.randomBytes(12);
      const pt = nodeCrypto.randomBytes(size);
      const aad = nodeCrypto.randomBytes(9);
      const expected = nobleCrypto.chacha20poly1305Seal(key, nonce, pt, aad);
      for (const p of [nodeCrypto, nobleCrypto]) {
        const out = new Uint8Array(size + 16 + 20).fill(0xee);
        p.chacha20poly1305SealInto(key, nonce, pt, aad, out, 11);
        expect(Buffer.from(out.subarray(11, 11 + size + 16)).equals(Buffer.from(expected))).toBe(true);
        expect(out.subarray(0, 11).every((b) => b === 0xee)).toBe(true);
        expect(out.subarray(11 + size + 16).every((b) => b === 0xee)).toBe(true);
      }
    }
  });

  it('refuses an output too small, writing nothing', async () => {
    const { nobleCrypto } = await import('../../../src/utils/crypto/noble.js');
    const { nodeCrypto } = await import('../../../src/utils/crypto/node.js');
    for (const p of [nodeCrypto, nobleCrypto]) {
      const out = new Uint8Array(20);
      expect(() => p.chacha20poly1305SealInto(new Uint8Array(32), new Uint8Array(12), new Uint8Array(8), new Uint8Array(0), out, 0)).toThrow(
        expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
      );
      expect(out.every((b) => b === 0)).toBe(true);
    }
  });
});

describe('node provider: imported peer keys are kept', () => {
  it('gives noble\'s X25519 results for more peer keys than it keeps, met again in another order', () => {
    const secret = nodeCrypto.x25519GenerateSecret();
    const peers = Array.from({ length: 300 }, () => nodeCrypto.x25519PublicKey(nodeCrypto.x25519GenerateSecret()));
    const expected = peers.map((p) => toHex(nobleCrypto.x25519(secret, p)));
    expect(peers.map((p) => toHex(nodeCrypto.x25519(secret, p)))).toEqual(expected);
    const order = [...peers.keys()].reverse().concat([0, 1, 2, 150, 299]);
    expect(order.map((i) => toHex(nodeCrypto.x25519(secret, peers[i]!)))).toEqual(order.map((i) => expected[i]));
  });

  it('derives the same public key as noble for fresh secrets', () => {
    for (let i = 0; i < 50; i++) {
      const s = nodeCrypto.x25519GenerateSecret();
      expect(toHex(nodeCrypto.x25519PublicKey(s))).toBe(toHex(nobleCrypto.x25519PublicKey(s)));
    }
  });
});

describe('chacha20poly1305SealPieces', () => {
  it.each([['node', nodeCrypto], ['noble', nobleCrypto]] as const)('%s: the pieces and tag joined are one seal of the joined plaintext', (_name, p) => {
    for (let round = 0; round < 40; round++) {
      const key = nodeCrypto.randomBytes(32);
      const nonce = nodeCrypto.randomBytes(12);
      const aad = nodeCrypto.randomBytes(round % 3 === 0 ? 0 : 9);
      const pieces = Array.from({ length: 1 + (round % 5) }, (_, i) => nodeCrypto.randomBytes((round * 37 + i * 1009) % 3000));
      const out = p.chacha20poly1305SealPieces(key, nonce, pieces, aad);
      expect(out).toHaveLength(pieces.length + 1);
      expect(out.map((c) => c.length)).toEqual([...pieces.map((x) => x.length), 16]);
      const whole = new Uint8Array(pieces.reduce((n, x) => n + x.length, 0));
      pieces.reduce((o, x) => (whole.set(x, o), o + x.length), 0);
      const joined = new Uint8Array(whole.length + 16);
      out.reduce((o, x) => (joined.set(x, o), o + x.length), 0);
      expect(toHex(joined)).toBe(toHex(nobleCrypto.chacha20poly1305Seal(key, nonce, whole, aad)));
    }
  });

  it('refuses a key or nonce of the wrong size on both providers', () => {
    for (const p of [nodeCrypto, nobleCrypto]) {
      expect(() => p.chacha20poly1305SealPieces(new Uint8Array(31), new Uint8Array(12), [new Uint8Array(4)], new Uint8Array(0))).toThrow(NproError);
      expect(() => p.chacha20poly1305SealPieces(new Uint8Array(32), new Uint8Array(24), [new Uint8Array(4)], new Uint8Array(0))).toThrow(NproError);
    }
  });
});
