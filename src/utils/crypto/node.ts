/**
 * The fast crypto provider: `node:crypto` (OpenSSL) for X25519, ChaCha20-Poly1305, SHA-256, HMAC and
 * HKDF; HChaCha20 from noble (OpenSSL exposes no HChaCha20), so XChaCha20-Poly1305 is noble's
 * HChaCha20 subkey + OpenSSL's IETF ChaCha20-Poly1305 (draft-irtf-cfrg-xchacha §2.3).
 *
 * Byte-identical to `nobleCrypto`; both are checked against the same published vectors and
 * cross-checked on random inputs. Every output is a plain `Uint8Array` view (never a `Buffer`, whose
 * `slice()` shares memory) over an `ArrayBuffer` that holds nothing else.
 */
import {
  createCipheriv,
  createDecipheriv,
  hash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  hkdfSync,
  randomFillSync,
  type KeyObject,
} from 'node:crypto';
import { NproError } from '../../core/errors.js';
import { constantTimeEqual, isAllZero } from '../bytes.js';
import { nobleHChaCha20 } from './noble.js';
import { totalLength } from './pieces.js';
import { AEAD_KEY_LENGTH, AEAD_TAG_LENGTH, X25519_KEY_LENGTH, type CryptoProvider } from './provider.js';

const EMPTY = new Uint8Array(0);
const HASH_LENGTH = 32;
const ZERO_SALT = new Uint8Array(HASH_LENGTH);
/** `crypto.hkdfSync` refuses an `info` longer than this; longer ones use the HMAC form of RFC 5869 §2. */
const NODE_HKDF_MAX_INFO = 1024;
/** PKCS #8 prefix of an X25519 private key (RFC 8410 §7); the fallback import path only. */
export const PKCS8_X25519_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');

/** A `Uint8Array` view of a `Buffer` (same memory, no copy, `Uint8Array` methods). */
function view(b: Buffer): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

function b64url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
}

/**
 * Random bytes in their own `ArrayBuffer` (`crypto.randomBytes` slices small requests from a shared
 * pool, which would put one secret next to others).
 */
function randomBytes(length: number): Uint8Array {
  return randomFillSync(new Uint8Array(length));
}

// ---------------------------------------------------------------------------------------------
// X25519 (RFC 7748 §5, §6.1)
// ---------------------------------------------------------------------------------------------

/**
 * Private KeyObjects by secret array. A static key is used in every handshake, and importing it costs
 * about as much as the DH itself, so the KeyObject is kept while the array lives (it dies with the
 * array). The entry holds a copy of the bytes: if the caller changed (e.g. wiped) the array, the entry
 * is replaced on the next use. A KeyObject cannot be overwritten with zeros: it is freed by the GC
 * once its array is.
 */
const privateKeys = new WeakMap<Uint8Array, { bytes: Uint8Array; key: KeyObject }>();

/**
 * Imports a raw X25519 secret. The JWK form is about ten times faster than PKCS #8 DER on Node 20.
 * Node builds the key from `d` alone (`x` must be a string but is not used; the public key is derived
 * from `d`), so `x` is left empty; should a Node version insist on `x`, the DER path is used instead.
 * The secret passes through a base64url string, which (like any JS copy) is freed by the GC, not wiped.
 */
function importSecret(secret: Uint8Array): KeyObject {
  if (secret.length !== X25519_KEY_LENGTH) throw new NproError('INVALID_ARGUMENT', 'an X25519 secret key is 32 bytes');
  const cached = privateKeys.get(secret);
  if (cached !== undefined && constantTimeEqual(cached.bytes, secret)) return cached.key;
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: { kty: 'OKP', crv: 'X25519', d: b64url(secret), x: '' }, format: 'jwk' });
  } catch {
    const der = Buffer.concat([PKCS8_X25519_PREFIX, secret]);
    key = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
    der.fill(0);
  }
  privateKeys.set(secret, { bytes: secret.slice(), key });
  return key;
}

/** How many peer public KeyObjects `importPeerPublic` keeps. */
const PUBLIC_KEY_CACHE_SIZE = 128;
/**
 * Peer public KeyObjects by base64url key, least recently used first. A handshake uses each remote key
 * in two DHs (protocol.md §3: `ee` and `se` on the initiator, `ee` and `es` on the responder use `re`),
 * and a client and its server meet again and again with the same static keys; an import costs about a
 * sixth of the DH. Public keys only: nothing secret is kept or looked up.
 */
const publicKeys = new Map<string, KeyObject>();

function importPeerPublic(peerPublic: Uint8Array): KeyObject {
  if (peerPublic.length !== X25519_KEY_LENGTH) throw new NproError('HANDSHAKE_FAILED', 'the peer X25519 public key is not 32 bytes');
  const x = b64url(peerPublic);
  let key = publicKeys.get(x);
  if (key !== undefined) {
    publicKeys.delete(x);
  } else {
    key = createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x }, format: 'jwk' });
    if (publicKeys.size >= PUBLIC_KEY_CACHE_SIZE) publicKeys.delete(publicKeys.keys().next().value!);
  }
  publicKeys.set(x, key);
  return key;
}

function x25519PublicKey(secret: Uint8Array): Uint8Array {
  // The private JWK carries `x`, the public key OpenSSL derived at import (RFC 8037 §2), so one
  // scalar multiplication per key pair; its `d` is one more base64url copy of the secret, freed by the GC.
  const jwk = importSecret(secret).export({ format: 'jwk' });
  // Copied out of the pooled Buffer that base64url decoding returns.
  return new Uint8Array(Buffer.from(jwk.x ?? '', 'base64url'));
}

/**
 * X25519(secret, peerPublic). OpenSSL refuses a low-order peer key (all-zero result, RFC 7748 §6.1)
 * with an error; both that and an all-zero output are `HANDSHAKE_FAILED`.
 */
function x25519(secret: Uint8Array, peerPublic: Uint8Array): Uint8Array {
  const privateKey = importSecret(secret);
  let shared: Buffer;
  try {
    shared = diffieHellman({ privateKey, publicKey: importPeerPublic(peerPublic) });
  } catch (cause) {
    if (NproError.is(cause)) throw cause;
    throw new NproError('HANDSHAKE_FAILED', 'X25519 refused the peer key (low order or malformed)', { cause });
  }
  const out = view(shared);
  if (isAllZero(out)) throw new NproError('HANDSHAKE_FAILED', 'X25519 produced an all-zero shared secret (low-order peer key)');
  return out;
}

// ---------------------------------------------------------------------------------------------
// ChaCha20-Poly1305 (RFC 8439 §2.8) and XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha §2.3)
// ---------------------------------------------------------------------------------------------

function checkAeadArgs(key: Uint8Array, nonce: Uint8Array, nonceLength: number): void {
  if (key.length !== AEAD_KEY_LENGTH) throw new NproError('INVALID_ARGUMENT', 'an AEAD key is 32 bytes');
  if (nonce.length !== nonceLength) throw new NproError('INVALID_ARGUMENT', `this AEAD takes a ${nonceLength}-byte nonce`);
}

/**
 * Seals with a 12-byte nonce. The output (ciphertext ‖ tag) is allocated once, unpooled so that its
 * `ArrayBuffer` holds nothing else, and filled from `update()` and the tag.
 */
function ietfSeal(key: Uint8Array, nonce12: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
  const cipher = createCipheriv('chacha20-poly1305', key, nonce12, { authTagLength: AEAD_TAG_LENGTH });
  if (aad.length > 0) cipher.setAAD(aad, { plaintextLength: plaintext.length });
  const n = plaintext.length;
  const out = Buffer.allocUnsafeSlow(n + AEAD_TAG_LENGTH);
  if (n > 0) out.set(cipher.update(plaintext), 0);
  cipher.final();
  out.set(cipher.getAuthTag(), n);
  return view(out);
}

/** Seals straight into `out` at `offset` (no intermediate output buffer of our own). */
function ietfSealInto(key: Uint8Array, nonce12: Uint8Array, plaintext: Uint8Array, aad: Uint8Array, out: Uint8Array, offset: number): void {
  checkAeadArgs(key, nonce12, 12);
  const n = plaintext.length;
  if (offset < 0 || out.length - offset < n + AEAD_TAG_LENGTH) {
    throw new NproError('INVALID_ARGUMENT', `sealInto needs ${n + AEAD_TAG_LENGTH} bytes at offset ${offset}`);
  }
  const cipher = createCipheriv('chacha20-poly1305', key, nonce12, { authTagLength: AEAD_TAG_LENGTH });
  if (aad.length > 0) cipher.setAAD(aad, { plaintextLength: n });
  if (n > 0) out.set(cipher.update(plaintext), offset);
  cipher.final();
  out.set(cipher.getAuthTag(), offset + n);
}

/** Seals the concatenation of `pieces` with one cipher, one `update()` per piece: no piece is copied. */
function ietfSealPieces(key: Uint8Array, nonce12: Uint8Array, pieces: readonly Uint8Array[], aad: Uint8Array): Uint8Array[] {
  checkAeadArgs(key, nonce12, 12);
  const cipher = createCipheriv('chacha20-poly1305', key, nonce12, { authTagLength: AEAD_TAG_LENGTH });
  if (aad.length > 0) cipher.setAAD(aad, { plaintextLength: totalLength(pieces) });
  const out = new Array<Uint8Array>(pieces.length + 1);
  for (let i = 0; i < pieces.length; i++) {
    const p = pieces[i]!;
    out[i] = p.length > 0 ? view(cipher.update(p)) : EMPTY;
  }
  cipher.final();
  out[pieces.length] = view(cipher.getAuthTag());
  return out;
}

/** Opens with a 12-byte nonce; `null` when the input is shorter than a tag or the tag does not verify. */
function ietfOpen(key: Uint8Array, nonce12: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array | null {
  const n = sealed.length - AEAD_TAG_LENGTH;
  if (n < 0) return null;
  const decipher = createDecipheriv('chacha20-poly1305', key, nonce12, { authTagLength: AEAD_TAG_LENGTH });
  decipher.setAuthTag(sealed.subarray(n));
  if (aad.length > 0) decipher.setAAD(aad, { plaintextLength: n });
  const plaintext = n > 0 ? decipher.update(sealed.subarray(0, n)) : Buffer.allocUnsafeSlow(0);
  try {
    decipher.final();
  } catch {
    plaintext.fill(0);
    return null;
  }
  return view(plaintext);
}

/** The IETF nonce of XChaCha20-Poly1305: 4 zero bytes ‖ nonce[16..24] (draft-irtf-cfrg-xchacha §2.3). */
function xNonce(nonce24: Uint8Array): Uint8Array {
  const n = new Uint8Array(12);
  n.set(nonce24.subarray(16, 24), 4);
  return n;
}

function xSeal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
  checkAeadArgs(key, nonce, 24);
  const subkey = nobleHChaCha20(key, nonce.subarray(0, 16));
  try {
    return ietfSeal(subkey, xNonce(nonce), plaintext, aad);
  } finally {
    subkey.fill(0);
  }
}

function xOpen(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array | null {
  if (key.length !== AEAD_KEY_LENGTH || nonce.length !== 24 || sealed.length < AEAD_TAG_LENGTH) return null;
  const subkey = nobleHChaCha20(key, nonce.subarray(0, 16));
  try {
    return ietfOpen(subkey, xNonce(nonce), sealed, aad);
  } finally {
    subkey.fill(0);
  }
}

// ---------------------------------------------------------------------------------------------
// SHA-256, HMAC-SHA256, HKDF-SHA256 (RFC 5869)
// ---------------------------------------------------------------------------------------------

/** `crypto.hash`: one call and no Hash object, half the cost of `createHash` on short inputs. */
function sha256(data: Uint8Array): Uint8Array {
  return view(hash('sha256', data, 'buffer'));
}

function hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array {
  return view(createHmac('sha256', key).update(data).digest());
}

/**
 * HKDF-SHA256 (RFC 5869 §2.2–2.3). An empty salt is HashLen zero bytes (§2.2). `crypto.hkdfSync` is
 * used when it accepts the `info`; otherwise the same extract-then-expand is done with HMAC.
 */
function hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  if (!Number.isInteger(length) || length < 0 || length > 255 * HASH_LENGTH) {
    throw new NproError('INVALID_ARGUMENT', `HKDF-SHA256 output length must be 0…${255 * HASH_LENGTH}`);
  }
  const s = salt.length === 0 ? ZERO_SALT : salt;
  if (info.length <= NODE_HKDF_MAX_INFO) return new Uint8Array(hkdfSync('sha256', ikm, s, info, length));
  const prk = hmacSha256(s, ikm);
  const out = new Uint8Array(length);
  let t: Uint8Array = EMPTY;
  for (let i = 0, off = 0; off < length; i++) {
    t = view(createHmac('sha256', prk).update(t).update(info).update(Uint8Array.of(i + 1)).digest());
    out.set(t.subarray(0, Math.min(HASH_LENGTH, length - off)), off);
    off += HASH_LENGTH;
  }
  prk.fill(0);
  return out;
}

/** The `node:crypto` provider (the default on Node). */
export const nodeCrypto: CryptoProvider = {
  name: 'node',
  randomBytes,
  x25519GenerateSecret: () => randomBytes(X25519_KEY_LENGTH),
  x25519PublicKey,
  x25519,
  chacha20poly1305Seal: (key, nonce, pt, aad = EMPTY) => {
    checkAeadArgs(key, nonce, 12);
    return ietfSeal(key, nonce, pt, aad);
  },
  chacha20poly1305SealInto: ietfSealInto,
  chacha20poly1305SealPieces: ietfSealPieces,
  chacha20poly1305Open: (key, nonce, sealed, aad = EMPTY) => {
    if (key.length !== AEAD_KEY_LENGTH || nonce.length !== 12) return null;
    return ietfOpen(key, nonce, sealed, aad);
  },
  xchacha20poly1305Seal: (key, nonce, pt, aad = EMPTY) => xSeal(key, nonce, pt, aad),
  xchacha20poly1305Open: (key, nonce, sealed, aad = EMPTY) => xOpen(key, nonce, sealed, aad),
  hchacha20: nobleHChaCha20,
  sha256,
  hmacSha256,
  hkdfSha256,
};
