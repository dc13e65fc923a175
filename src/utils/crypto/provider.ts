/**
 * The narrow crypto interface every npro state machine uses (style habit 12).
 *
 * Two implementations: `nobleCrypto` (pure JS, portable, also for browsers) and `nodeCrypto`
 * (`node:crypto`, fast; the default on Node). Both give byte-identical results, which a test
 * cross-checks on thousands of random inputs.
 *
 * AEAD `open` returns `null` when the tag does not verify: the caller decides which error code that
 * is (`HANDSHAKE_FAILED` during a handshake, `RECORD_AUTH_FAILED` for a record).
 */
export interface CryptoProvider {
  readonly name: 'node' | 'noble';
  /** Cryptographically secure random bytes. */
  randomBytes(length: number): Uint8Array;
  /** A fresh X25519 secret key (32 random bytes; clamping happens at use, RFC 7748 §5). */
  x25519GenerateSecret(): Uint8Array;
  /** X25519(secret, 9): the public key of `secret`. */
  x25519PublicKey(secret: Uint8Array): Uint8Array;
  /**
   * X25519(secret, peerPublic) (RFC 7748 §5). An all-zero result (a low-order peer key) throws
   * `NproError('HANDSHAKE_FAILED')`.
   */
  x25519(secret: Uint8Array, peerPublic: Uint8Array): Uint8Array;
  /** IETF ChaCha20-Poly1305 (RFC 8439 §2.8), 12-byte nonce; returns ciphertext ‖ tag. */
  chacha20poly1305Seal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad?: Uint8Array): Uint8Array;
  chacha20poly1305Open(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad?: Uint8Array): Uint8Array | null;
  /**
   * The same as `chacha20poly1305Seal`, writing ciphertext ‖ tag into `out` at `offset` (which must
   * hold `plaintext.length + 16` bytes): the record layer seals straight into the frame it sends.
   */
  chacha20poly1305SealInto(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array, out: Uint8Array, offset: number): void;
  /**
   * The same as `chacha20poly1305Seal` over the concatenation of `pieces`, returned cut at the same places:
   * the ciphertext of each piece (same lengths, in order), then the 16-byte tag. The record layer seals a
   * large payload from the caller's buffer this way, without first copying it behind the record's other bytes.
   */
  chacha20poly1305SealPieces(key: Uint8Array, nonce: Uint8Array, pieces: readonly Uint8Array[], aad: Uint8Array): Uint8Array[];
  /** XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha §2), 24-byte nonce; returns ciphertext ‖ tag. */
  xchacha20poly1305Seal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad?: Uint8Array): Uint8Array;
  xchacha20poly1305Open(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad?: Uint8Array): Uint8Array | null;
  /** HChaCha20(key, 16-byte nonce) → 32-byte subkey (draft-irtf-cfrg-xchacha §2.2). */
  hchacha20(key: Uint8Array, nonce16: Uint8Array): Uint8Array;
  sha256(data: Uint8Array): Uint8Array;
  hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array;
  /** HKDF-SHA256 (RFC 5869); an empty salt means HashLen zero bytes. */
  hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array;
}

export const X25519_KEY_LENGTH = 32;
export const AEAD_KEY_LENGTH = 32;
export const AEAD_TAG_LENGTH = 16;
