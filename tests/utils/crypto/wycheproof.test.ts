/**
 * Wycheproof subsets (tests/vectors/wycheproof-*.json) against both providers. Valid cases must match;
 * invalid ones must be refused. For X25519 npro refuses every all-zero shared secret (RFC 7748 §6.1),
 * including the cases Wycheproof calls "acceptable".
 */
import { NproError } from '../../../src/core/errors.js';
import { nobleCrypto, nodeCrypto, type CryptoProvider } from '../../../src/utils/crypto/index.js';
import { fromHex, isAllZero, toHex } from '../../../src/utils/bytes.js';
import { loadVector } from '../../helpers/load-vector.js';

type Result = 'valid' | 'acceptable' | 'invalid';
interface XdhTest { tcId: number; flags: string[]; public: string; private: string; shared: string; result: Result }
interface AeadTest { tcId: number; flags: string[]; key: string; iv: string; aad: string; msg: string; ct: string; tag: string; result: Result }

const x25519 = loadVector<{ tests: XdhTest[] }>('wycheproof-x25519.json').tests;
const chacha = loadVector<{ tests: AeadTest[] }>('wycheproof-chacha20-poly1305.json').tests;
const xchacha = loadVector<{ tests: AeadTest[] }>('wycheproof-xchacha20-poly1305.json').tests;

const providers: [string, CryptoProvider][] = [['node', nodeCrypto], ['noble', nobleCrypto]];

describe.each(providers)('%s provider: Wycheproof', (_name, c) => {
  it('the subsets hold the kinds of case they are meant to cover', () => {
    expect(x25519.filter((t) => t.flags.includes('ZeroSharedSecret')).length).toBeGreaterThanOrEqual(20);
    expect(x25519.filter((t) => t.result === 'valid').length).toBeGreaterThanOrEqual(5);
    for (const set of [chacha, xchacha]) {
      expect(set.filter((t) => t.flags.includes('ModifiedTag')).length).toBeGreaterThanOrEqual(15);
      expect(set.filter((t) => t.flags.includes('InvalidNonceSize')).length).toBeGreaterThanOrEqual(8);
      expect(set.filter((t) => t.result === 'valid').length).toBeGreaterThanOrEqual(15);
    }
  });

  it.each(x25519.map((t) => [t.tcId, t] as const))('x25519 tcId %i', (_id, t) => {
    const run = () => c.x25519(fromHex(t.private), fromHex(t.public));
    if (isAllZero(fromHex(t.shared))) {
      let err: unknown;
      try {
        run();
      } catch (e) {
        err = e;
      }
      expect(NproError.is(err, 'HANDSHAKE_FAILED')).toBe(true);
    } else {
      expect(t.result).not.toBe('invalid');
      expect(toHex(run())).toBe(t.shared);
    }
  });

  const aead = (
    label: string,
    tests: AeadTest[],
    nonceLength: number,
    seal: (k: Uint8Array, n: Uint8Array, p: Uint8Array, a: Uint8Array) => Uint8Array,
    open: (k: Uint8Array, n: Uint8Array, s: Uint8Array, a: Uint8Array) => Uint8Array | null,
  ) => {
    it.each(tests.map((t) => [t.tcId, t] as const))(`${label} tcId %i`, (_id, t) => {
      const key = fromHex(t.key);
      const nonce = fromHex(t.iv);
      const aad = fromHex(t.aad);
      const sealed = fromHex(t.ct + t.tag);
      if (t.result === 'valid') {
        expect(toHex(seal(key, nonce, fromHex(t.msg), aad))).toBe(t.ct + t.tag);
        expect(toHex(open(key, nonce, sealed, aad)!)).toBe(t.msg);
        return;
      }
      expect(open(key, nonce, sealed, aad)).toBeNull();
      if (nonce.length !== nonceLength) expect(() => seal(key, nonce, fromHex(t.msg), aad)).toThrow();
    });
  };
  aead('chacha20-poly1305', chacha, 12, c.chacha20poly1305Seal, c.chacha20poly1305Open);
  aead('xchacha20-poly1305', xchacha, 24, c.xchacha20poly1305Seal, c.xchacha20poly1305Open);
});
