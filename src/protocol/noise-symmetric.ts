/**
 * The symmetric half of the Noise Protocol Framework, revision 34, as npro uses it
 * (`Noise_XX_25519_ChaChaPoly_SHA256`, protocol.md §3): `CipherState` (Noise §5.1) and
 * `SymmetricState` (Noise §5.2) over ChaChaPoly, SHA256 and HKDF built from HMAC-SHA256 (§4.3, §12).
 * The `HandshakeState` that drives them is in `noise.ts`.
 */
import { NproError } from '../core/errors.js';
import type { CryptoProvider } from '../utils/crypto/provider.js';
import { concatBytes, utf8Encoder } from '../utils/bytes.js';

/** The protocol name of protocol.md §3 (Noise §8); exactly HASHLEN bytes, so it is used unpadded. */
export const PROTOCOL_NAME = 'Noise_XX_25519_ChaChaPoly_SHA256';
/** DHLEN for Curve25519 (Noise §12.1). */
export const DHLEN = 32;
/** HASHLEN for SHA256 (Noise §12.5). */
export const HASHLEN = 32;
/** The AEAD tag length of ChaChaPoly (Noise §12.3). */
export const TAGLEN = 16;
/** The largest Noise message (Noise §3). */
export const MAX_MESSAGE_LENGTH = 65_535;
/**
 * The largest nonce a `CipherState` uses. Noise reserves 2^64−1 (§5.1); npro keeps `n` as a JS number
 * and stops below 2^53−1 instead, with `KEY_EXHAUSTED` (far beyond any handshake; npro records use their
 * own counters, protocol.md §4).
 */
export const MAX_NONCE = Number.MAX_SAFE_INTEGER - 1;

const EMPTY = new Uint8Array(0);
const ONE = Uint8Array.of(0x01);
const TWO_POW_32 = 0x1_0000_0000;

/** ChaChaPoly nonce (Noise §12.3): 4 zero bytes ‖ n as u64 little-endian. */
export function chachaPolyNonce(n: number): Uint8Array {
  const nonce = new Uint8Array(12);
  const low = n % TWO_POW_32;
  const high = Math.floor(n / TWO_POW_32);
  for (let i = 0; i < 4; i++) {
    nonce[4 + i] = low >>> (8 * i);
    nonce[8 + i] = high >>> (8 * i);
  }
  return nonce;
}

/** Noise §5.1: a key `k` (or none) and a nonce counter `n`. */
export class CipherState {
  readonly #crypto: CryptoProvider;
  #k: Uint8Array | null = null;
  #n = 0;

  constructor(crypto: CryptoProvider, key: Uint8Array | null = null) {
    this.#crypto = crypto;
    this.initializeKey(key);
  }

  /** `InitializeKey(key)`: sets `k = key` (or empty) and `n = 0`. */
  initializeKey(key: Uint8Array | null): void {
    if (key !== null && key.length !== 32) throw new NproError('INVALID_ARGUMENT', 'a ChaChaPoly key is 32 bytes');
    this.#k = key === null ? null : key.slice();
    this.#n = 0;
  }

  /** `HasKey()`. */
  hasKey(): boolean {
    return this.#k !== null;
  }

  /** The next nonce `n`. */
  get nonce(): number {
    return this.#n;
  }

  /** `SetNonce(nonce)`. */
  setNonce(n: number): void {
    if (!Number.isSafeInteger(n) || n < 0) throw new NproError('INVALID_ARGUMENT', 'a nonce is a non-negative safe integer');
    this.#n = n;
  }

  /** `EncryptWithAd(ad, plaintext)`: `ENCRYPT(k, n++, ad, plaintext)`, or the plaintext when there is no key. */
  encryptWithAd(ad: Uint8Array, plaintext: Uint8Array): Uint8Array {
    if (this.#k === null) return plaintext;
    this.#checkNonce();
    const out = this.#crypto.chacha20poly1305Seal(this.#k, chachaPolyNonce(this.#n), plaintext, ad);
    this.#n += 1;
    return out;
  }

  /**
   * `DecryptWithAd(ad, ciphertext)`: `DECRYPT(k, n++, ad, ciphertext)`, or the ciphertext when there is
   * no key. A ciphertext that does not authenticate throws `HANDSHAKE_FAILED` and leaves `k` and `n`
   * unchanged (Noise §5.1).
   */
  decryptWithAd(ad: Uint8Array, ciphertext: Uint8Array): Uint8Array {
    if (this.#k === null) return ciphertext;
    this.#checkNonce();
    const out = this.#crypto.chacha20poly1305Open(this.#k, chachaPolyNonce(this.#n), ciphertext, ad);
    if (out === null) throw new NproError('HANDSHAKE_FAILED', 'Noise message failed to authenticate');
    this.#n += 1;
    return out;
  }

  /** Overwrites the key with zeros and forgets it. */
  wipe(): void {
    this.#k?.fill(0);
    this.#k = null;
  }

  #checkNonce(): void {
    if (this.#n > MAX_NONCE) throw new NproError('KEY_EXHAUSTED', 'the CipherState nonce is exhausted');
  }
}

/** Noise §5.2: the chaining key `ck`, the handshake hash `h` and a `CipherState`. */
export class SymmetricState {
  readonly #crypto: CryptoProvider;
  readonly #cipher: CipherState;
  #ck: Uint8Array = new Uint8Array(HASHLEN);
  #h: Uint8Array = new Uint8Array(HASHLEN);

  constructor(crypto: CryptoProvider) {
    this.#crypto = crypto;
    this.#cipher = new CipherState(crypto);
  }

  /**
   * `InitializeSymmetric(protocol_name)`: `h` = the name padded with zeros to HASHLEN when it fits,
   * else HASH(name); `ck = h`; no key.
   */
  initializeSymmetric(protocolName: string): void {
    const name = utf8Encoder.encode(protocolName);
    let h: Uint8Array;
    if (name.length <= HASHLEN) {
      h = new Uint8Array(HASHLEN);
      h.set(name);
    } else {
      h = this.#crypto.sha256(name);
    }
    this.#h = h;
    this.#ck = h.slice();
    this.#cipher.initializeKey(null);
  }

  /** `MixKey(ikm)`: `ck, temp_k = HKDF(ck, ikm, 2)` (Noise §4.3, HMAC-SHA256); `InitializeKey(temp_k)`. */
  mixKey(inputKeyMaterial: Uint8Array): void {
    const [ck, tempK] = this.#hkdf2(inputKeyMaterial);
    this.#ck.fill(0);
    this.#ck = ck;
    this.#cipher.initializeKey(tempK);
    tempK.fill(0);
  }

  /** `MixHash(data)`: `h = HASH(h ‖ data)`. */
  mixHash(data: Uint8Array): void {
    this.#h = this.#crypto.sha256(concatBytes(this.#h, data));
  }

  /** `EncryptAndHash(plaintext)`: encrypt with `h` as associated data, then `MixHash(ciphertext)`. */
  encryptAndHash(plaintext: Uint8Array): Uint8Array {
    const ciphertext = this.#cipher.encryptWithAd(this.#h, plaintext);
    this.mixHash(ciphertext);
    return ciphertext;
  }

  /** `DecryptAndHash(ciphertext)`: decrypt with `h` as associated data, then `MixHash(ciphertext)`. */
  decryptAndHash(ciphertext: Uint8Array): Uint8Array {
    const plaintext = this.#cipher.decryptWithAd(this.#h, ciphertext);
    this.mixHash(ciphertext);
    return plaintext;
  }

  /** `HasKey()` of the inner `CipherState`. */
  hasKey(): boolean {
    return this.#cipher.hasKey();
  }

  /** `GetHandshakeHash()`: a copy of `h` (Noise §11.2 channel binding; npro's session id, protocol.md §3). */
  getHandshakeHash(): Uint8Array {
    return this.#h.slice();
  }

  /** The two keys of `Split()`: `temp_k1, temp_k2 = HKDF(ck, zerolen, 2)`. */
  splitKeys(): [Uint8Array, Uint8Array] {
    return this.#hkdf2(EMPTY);
  }

  /** `Split()`: two `CipherState`s, the first for initiator → responder, the second for the reverse. */
  split(): [CipherState, CipherState] {
    const [k1, k2] = this.splitKeys();
    return [new CipherState(this.#crypto, k1), new CipherState(this.#crypto, k2)];
  }

  /** Overwrites `ck` and the handshake key; `h` stays (it is public transcript data). */
  wipe(): void {
    this.#ck.fill(0);
    this.#cipher.wipe();
  }

  /**
   * `HKDF(ck, ikm, 2)` exactly as Noise §4.3 writes it: temp_key = HMAC-HASH(ck, ikm),
   * output1 = HMAC-HASH(temp_key, 0x01), output2 = HMAC-HASH(temp_key, output1 ‖ 0x02). (The same
   * bytes as RFC 5869 HKDF with salt `ck`, empty info, L = 64; three HMACs cost less than one
   * `hkdfSha256` call of the node provider.)
   */
  #hkdf2(inputKeyMaterial: Uint8Array): [Uint8Array, Uint8Array] {
    const tempKey = this.#crypto.hmacSha256(this.#ck, inputKeyMaterial);
    const output1 = this.#crypto.hmacSha256(tempKey, ONE);
    const input2 = new Uint8Array(HASHLEN + 1);
    input2.set(output1);
    input2[HASHLEN] = 0x02;
    const output2 = this.#crypto.hmacSha256(tempKey, input2);
    tempKey.fill(0);
    input2.fill(0);
    return [output1, output2];
  }
}
