/**
 * Published RFC / draft vectors against both providers: RFC 7748 (X25519), RFC 8439
 * (ChaCha20-Poly1305), draft-irtf-cfrg-xchacha-03 (HChaCha20, XChaCha20-Poly1305), RFC 5869 (HKDF).
 */
import { nobleCrypto, nodeCrypto, type CryptoProvider } from '../../../src/utils/crypto/index.js';
import { fromHex, toHex } from '../../../src/utils/bytes.js';
import { loadVector } from '../../helpers/load-vector.js';

interface X25519Rfc {
  function_vectors: { scalar: string; u: string; output: string }[];
  iterated: { start: string; after_1: string; after_1000: string };
  diffie_hellman: Record<'alice_private' | 'alice_public' | 'bob_private' | 'bob_public' | 'shared', string>;
}
interface AeadVector { section: string; key: string; nonce: string; aad: string; plaintext: string; ciphertext: string; tag: string }
interface XChaCha { hchacha20: { key: string; nonce: string; subkey: string }; aead: AeadVector }
interface HkdfVector { case: string; ikm: string; salt: string; info: string; L: number; prk: string; okm: string }

const x25519Rfc = loadVector<X25519Rfc>('rfc7748-x25519.json');
const chachaRfc = loadVector<{ vectors: AeadVector[] }>('rfc8439-chacha20-poly1305.json');
const xchacha = loadVector<XChaCha>('xchacha-draft-03.json');
const hkdfRfc = loadVector<{ vectors: HkdfVector[] }>('rfc5869-hkdf-sha256.json');

const providers: [string, CryptoProvider][] = [['node', nodeCrypto], ['noble', nobleCrypto]];

describe.each(providers)('%s provider: published vectors', (_name, c) => {
  it('RFC 7748 §5.2 X25519 function vectors', () => {
    for (const v of x25519Rfc.function_vectors) {
      expect(toHex(c.x25519(fromHex(v.scalar), fromHex(v.u)))).toBe(v.output);
    }
  });

  it('RFC 7748 §5.2 iterated X25519: after 1 and after 1,000 iterations', () => {
    let k = fromHex(x25519Rfc.iterated.start);
    let u = fromHex(x25519Rfc.iterated.start);
    for (let i = 1; i <= 1000; i++) {
      const r = c.x25519(k, u);
      u = k;
      k = r;
      if (i === 1) expect(toHex(k)).toBe(x25519Rfc.iterated.after_1);
    }
    expect(toHex(k)).toBe(x25519Rfc.iterated.after_1000);
  });

  it('RFC 7748 §6.1 Diffie-Hellman: public keys and the shared secret both ways', () => {
    const v = x25519Rfc.diffie_hellman;
    const a = fromHex(v.alice_private);
    const b = fromHex(v.bob_private);
    expect(toHex(c.x25519PublicKey(a))).toBe(v.alice_public);
    expect(toHex(c.x25519PublicKey(b))).toBe(v.bob_public);
    expect(toHex(c.x25519(a, fromHex(v.bob_public)))).toBe(v.shared);
    expect(toHex(c.x25519(b, fromHex(v.alice_public)))).toBe(v.shared);
  });

  it.each(chachaRfc.vectors.map((v) => [v.section, v] as const))('RFC 8439 §%s ChaCha20-Poly1305 seal and open', (_s, v) => {
    const key = fromHex(v.key);
    const nonce = fromHex(v.nonce);
    const aad = fromHex(v.aad);
    const sealed = c.chacha20poly1305Seal(key, nonce, fromHex(v.plaintext), aad);
    expect(toHex(sealed)).toBe(v.ciphertext + v.tag);
    expect(toHex(c.chacha20poly1305Open(key, nonce, fromHex(v.ciphertext + v.tag), aad)!)).toBe(v.plaintext);
  });

  it('draft-irtf-cfrg-xchacha-03 §2.2.1 HChaCha20', () => {
    const v = xchacha.hchacha20;
    expect(toHex(c.hchacha20(fromHex(v.key), fromHex(v.nonce)))).toBe(v.subkey);
  });

  it('draft-irtf-cfrg-xchacha-03 §A.3.1 XChaCha20-Poly1305 seal and open', () => {
    const v = xchacha.aead;
    const key = fromHex(v.key);
    const nonce = fromHex(v.nonce);
    const aad = fromHex(v.aad);
    expect(toHex(c.xchacha20poly1305Seal(key, nonce, fromHex(v.plaintext), aad))).toBe(v.ciphertext + v.tag);
    expect(toHex(c.xchacha20poly1305Open(key, nonce, fromHex(v.ciphertext + v.tag), aad)!)).toBe(v.plaintext);
  });

  it.each(hkdfRfc.vectors.map((v) => [v.case, v] as const))('RFC 5869 %s HKDF-SHA256 (PRK by HMAC, OKM by HKDF)', (_s, v) => {
    const salt = fromHex(v.salt);
    // An empty salt is HashLen zero bytes (RFC 5869 §2.2).
    const prk = c.hmacSha256(salt.length === 0 ? new Uint8Array(32) : salt, fromHex(v.ikm));
    expect(toHex(prk)).toBe(v.prk);
    expect(toHex(c.hkdfSha256(fromHex(v.ikm), salt, fromHex(v.info), v.L))).toBe(v.okm);
  });
});
