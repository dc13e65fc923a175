/**
 * Cross-check of the two providers on random inputs (style habit 12): every primitive must give
 * byte-identical results, and what one provider seals the other must open.
 */
import fc from 'fast-check';
import { nobleCrypto as noble, nodeCrypto as node, type CryptoProvider } from '../../../src/utils/crypto/index.js';
import { toHex } from '../../../src/utils/bytes.js';

const RUNS = 2000;
const bytes = (max: number, min = 0) => fc.uint8Array({ minLength: min, maxLength: max });
const key32 = bytes(32, 32);

type Seal = (c: CryptoProvider) => CryptoProvider['chacha20poly1305Seal'];
type Open = (c: CryptoProvider) => CryptoProvider['chacha20poly1305Open'];
const aeads: [string, number, Seal, Open][] = [
  ['ChaCha20-Poly1305', 12, (c) => c.chacha20poly1305Seal, (c) => c.chacha20poly1305Open],
  ['XChaCha20-Poly1305', 24, (c) => c.xchacha20poly1305Seal, (c) => c.xchacha20poly1305Open],
];

describe('node and noble providers agree', () => {
  it('X25519 public keys and shared secrets (200 random key pairs; noble is slow)', () => {
    fc.assert(
      fc.property(key32, key32, (a, b) => {
        const pubB = noble.x25519PublicKey(b);
        expect(toHex(node.x25519PublicKey(b))).toBe(toHex(pubB));
        expect(toHex(node.x25519(a, pubB))).toBe(toHex(noble.x25519(a, pubB)));
      }),
      { numRuns: 200 },
    );
  });

  it('X25519 with node alone: DH is symmetric (2000 random key pairs)', () => {
    fc.assert(
      fc.property(key32, key32, (a, b) => {
        expect(toHex(node.x25519(a, node.x25519PublicKey(b)))).toBe(toHex(node.x25519(b, node.x25519PublicKey(a))));
      }),
      { numRuns: RUNS },
    );
  });

  describe.each(aeads)('%s', (_name, nonceLength, seal, open) => {
    it(`seal on one, open on the other (${RUNS} random sizes 0…2000, random AAD)`, () => {
      fc.assert(
        fc.property(key32, bytes(nonceLength, nonceLength), bytes(2000), bytes(64), fc.boolean(), (k, n, pt, aad, nodeSeals) => {
          const [a, b] = nodeSeals ? [node, noble] : [noble, node];
          const sealed = seal(a)(k, n, pt, aad);
          expect(toHex(sealed)).toBe(toHex(seal(b)(k, n, pt, aad)));
          expect(toHex(open(b)(k, n, sealed, aad)!)).toBe(toHex(pt));
        }),
        { numRuns: RUNS },
      );
    });

    it('large inputs: 64 KiB − 1, 64 KiB + 1, 1 MiB', () => {
      for (const size of [65535, 65537, 1 << 20]) {
        const k = node.randomBytes(32);
        const n = node.randomBytes(nonceLength);
        const pt = node.randomBytes(size);
        const aad = node.randomBytes(size % 97);
        const sealed = seal(node)(k, n, pt, aad);
        expect(toHex(seal(noble)(k, n, pt, aad))).toBe(toHex(sealed));
        expect(toHex(open(noble)(k, n, sealed, aad)!)).toBe(toHex(pt));
        expect(toHex(open(node)(k, n, seal(noble)(k, n, pt, aad), aad)!)).toBe(toHex(pt));
      }
    });
  });

  it(`HChaCha20 (${RUNS} random keys and nonces)`, () => {
    fc.assert(
      fc.property(key32, bytes(16, 16), (k, n) => {
        expect(toHex(node.hchacha20(k, n))).toBe(toHex(noble.hchacha20(k, n)));
      }),
      { numRuns: RUNS },
    );
  });

  it(`SHA-256 and HMAC-SHA256 (${RUNS} random sizes 0…2000, keys 0…200)`, () => {
    fc.assert(
      fc.property(bytes(2000), bytes(200), (data, key) => {
        expect(toHex(node.sha256(data))).toBe(toHex(noble.sha256(data)));
        expect(toHex(node.hmacSha256(key, data))).toBe(toHex(noble.hmacSha256(key, data)));
      }),
      { numRuns: RUNS },
    );
    const big = node.randomBytes(1 << 20);
    expect(toHex(node.sha256(big))).toBe(toHex(noble.sha256(big)));
  });

  it(`HKDF-SHA256 (${RUNS} random ikm, salt (empty included), info up to 2000 bytes, lengths 0…300)`, () => {
    fc.assert(
      fc.property(bytes(100), fc.oneof(fc.constant(new Uint8Array(0)), bytes(80)), bytes(2000), fc.integer({ min: 0, max: 300 }), (ikm, salt, info, len) => {
        expect(toHex(node.hkdfSha256(ikm, salt, info, len))).toBe(toHex(noble.hkdfSha256(ikm, salt, info, len)));
      }),
      { numRuns: RUNS },
    );
    const ikm = node.randomBytes(32);
    expect(toHex(node.hkdfSha256(ikm, new Uint8Array(0), new Uint8Array(0), 255 * 32))).toBe(
      toHex(noble.hkdfSha256(ikm, new Uint8Array(0), new Uint8Array(0), 255 * 32)),
    );
  });
});
