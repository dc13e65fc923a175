/** The portable crypto provider: the audited noble packages only. */
import { x25519 as nobleX25519 } from '@noble/curves/ed25519.js';
import { chacha20poly1305, xchacha20poly1305, hchacha } from '@noble/ciphers/chacha.js';
import { sealPiecesJoined } from './pieces.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { hmac } from '@noble/hashes/hmac.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { NproError } from '../../core/errors.js';
import type { CryptoProvider } from './provider.js';
import { isAllZero } from '../bytes.js';

const EMPTY = new Uint8Array(0);
/** "expand 32-byte k" as four little-endian u32 words (RFC 8439 §2.3). */
const SIGMA = new Uint32Array([0x61707865, 0x3320646e, 0x79622d32, 0x6b206574]);

function u32le(bytes: Uint8Array): Uint32Array {
  const out = new Uint32Array(bytes.length >>> 2);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < out.length; i++) out[i] = view.getUint32(i * 4, true);
  return out;
}

/** HChaCha20 with noble's core (draft-irtf-cfrg-xchacha §2.2); shared by both providers. */
export function nobleHChaCha20(key: Uint8Array, nonce16: Uint8Array): Uint8Array {
  if (key.length !== 32 || nonce16.length !== 16) throw new NproError('INVALID_ARGUMENT', 'hchacha20 needs a 32-byte key and a 16-byte nonce');
  const out32 = new Uint32Array(8);
  hchacha(SIGMA, u32le(key), u32le(nonce16), out32);
  const out = new Uint8Array(32);
  const view = new DataView(out.buffer);
  for (let i = 0; i < 8; i++) view.setUint32(i * 4, out32[i]!, true);
  return out;
}

function x25519(secret: Uint8Array, peerPublic: Uint8Array): Uint8Array {
  let shared: Uint8Array;
  try {
    shared = nobleX25519.getSharedSecret(secret, peerPublic);
  } catch (cause) {
    throw new NproError('HANDSHAKE_FAILED', 'X25519 refused the peer key (low order or malformed)', { cause });
  }
  if (isAllZero(shared)) throw new NproError('HANDSHAKE_FAILED', 'X25519 produced an all-zero shared secret (low-order peer key)');
  return shared;
}

function open(
  make: (k: Uint8Array, n: Uint8Array, aad?: Uint8Array) => { decrypt(d: Uint8Array): Uint8Array },
  key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array,
): Uint8Array | null {
  if (sealed.length < 16) return null;
  try {
    return make(key, nonce, aad).decrypt(sealed);
  } catch {
    return null;
  }
}

/** Random bytes of any length (WebCrypto's getRandomValues gives at most 65,536 bytes per call). */
function randomBytesAnyLength(n: number): Uint8Array {
  if (n <= 65_536) return randomBytes(n);
  const out = new Uint8Array(n);
  for (let o = 0; o < n; o += 65_536) out.set(randomBytes(Math.min(65_536, n - o)), o);
  return out;
}

/** Runs a noble call, turning its argument errors (wrong key or nonce size) into `INVALID_ARGUMENT`. */
function checked<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (cause) {
    throw new NproError('INVALID_ARGUMENT', `${what}: ${(cause as Error).message}`, { cause });
  }
}

export const nobleCrypto: CryptoProvider = {
  name: 'noble',
  randomBytes: randomBytesAnyLength,
  x25519GenerateSecret: () => randomBytes(32),
  x25519PublicKey: (secret) => nobleX25519.getPublicKey(secret),
  x25519,
  chacha20poly1305Seal: (key, nonce, pt, aad = EMPTY) => checked('chacha20poly1305', () => chacha20poly1305(key, nonce, aad).encrypt(pt)),
  chacha20poly1305SealInto: (key, nonce, pt, aad, out, offset) =>
    checked('chacha20poly1305', () => {
      if (offset < 0 || out.length - offset < pt.length + 16) throw new RangeError(`needs ${pt.length + 16} bytes at offset ${offset}`);
      chacha20poly1305(key, nonce, aad).encrypt(pt, out.subarray(offset, offset + pt.length + 16));
    }),
  chacha20poly1305SealPieces: (key, nonce, pieces, aad) =>
    sealPiecesJoined((pt) => checked('chacha20poly1305', () => chacha20poly1305(key, nonce, aad).encrypt(pt)), pieces),
  chacha20poly1305Open: (key, nonce, sealed, aad = EMPTY) => open(chacha20poly1305, key, nonce, sealed, aad),
  xchacha20poly1305Seal: (key, nonce, pt, aad = EMPTY) => checked('xchacha20poly1305', () => xchacha20poly1305(key, nonce, aad).encrypt(pt)),
  xchacha20poly1305Open: (key, nonce, sealed, aad = EMPTY) => open(xchacha20poly1305, key, nonce, sealed, aad),
  hchacha20: nobleHChaCha20,
  sha256: (data) => sha256(data),
  hmacSha256: (key, data) => hmac(sha256, key, data),
  hkdfSha256: (ikm, salt, info, length) => hkdf(sha256, ikm, salt.length === 0 ? new Uint8Array(32) : salt, info, length),
};
