/**
 * The crypto primitives of both providers side by side: X25519, public-key derivation,
 * (X)ChaCha20-Poly1305 seal + open, HChaCha20, SHA-256 and the HKDF of a handshake step.
 *
 * Run: `npm run bench -- crypto-primitives` (group `crypto-primitives` of `bench/run.ts`).
 */
import { nobleCrypto, nodeCrypto, type CryptoProvider } from '../src/utils/crypto/index.js';
import { measure, type BenchOptions, type BenchRow } from './lib.js';

const GROUP = 'crypto-primitives';
const providers: [string, CryptoProvider][] = [['node', nodeCrypto], ['noble', nobleCrypto]];

export async function run(opts: BenchOptions): Promise<BenchRow[]> {
  const m = { minMs: opts.quick ? 150 : 400, runs: opts.quick ? 3 : 5 };
  const rows: BenchRow[] = [];
  const add = (name: string, unit: string, fn: () => number | void, scale = 1, note?: string) => {
    const r = measure(fn, m);
    rows.push({ group: GROUP, name, value: r.median * scale, unit, spread: r.spread, note });
    opts.log(`${name}: ${Math.round(r.median * scale)} ${unit}`);
  };

  for (const [name, c] of providers) {
    const secret = c.x25519GenerateSecret();
    const peer = c.x25519PublicKey(c.x25519GenerateSecret());
    add(`${name} x25519 (same secret array)`, 'ops/s', () => void c.x25519(secret, peer));
    add(`${name} x25519 (new secret array each call)`, 'ops/s', () => void c.x25519(secret.slice(), peer));
    add(`${name} x25519PublicKey (new secret array)`, 'ops/s', () => void c.x25519PublicKey(c.x25519GenerateSecret()));
  }

  for (const size of [64, 1024, 65536, 1 << 20]) {
    for (const [name, c] of providers) {
      const key = nodeCrypto.randomBytes(32);
      const pt = nodeCrypto.randomBytes(size);
      const aad = nodeCrypto.randomBytes(16);
      const n24 = nodeCrypto.randomBytes(24);
      const n12 = nodeCrypto.randomBytes(12);
      const mb = size / 1e6;
      add(`${name} xchacha20poly1305 seal+open ${size} B`, 'MB/s', () => {
        c.xchacha20poly1305Open(key, n24, c.xchacha20poly1305Seal(key, n24, pt, aad), aad);
      }, mb);
      add(`${name} chacha20poly1305 seal+open ${size} B`, 'MB/s', () => {
        c.chacha20poly1305Open(key, n12, c.chacha20poly1305Seal(key, n12, pt, aad), aad);
      }, mb);
      add(`${name} sha256 ${size} B`, 'MB/s', () => void c.sha256(pt), mb);
    }
  }

  for (const [name, c] of providers) {
    const k = c.randomBytes(32);
    const n = c.randomBytes(16);
    add(`${name} hchacha20`, 'ops/s', () => void c.hchacha20(k, n));
    add(`${name} hkdfSha256 (96-byte output)`, 'ops/s', () => void c.hkdfSha256(k, n, new Uint8Array(0), 96));
  }
  return rows;
}
