/**
 * The key and nonce schedule of one direction of v2 records (protocol.md §4).
 *
 * - `key`: the Split() key of the direction (protocol.md §3), replaced at each rekey by
 *   HKDF-SHA256(ikm = key, salt = empty, info = `npro rekey`, L = 32).
 * - `nonce` (24 bytes): 16 zero bytes ‖ record counter u64 little-endian. Because the first 16 bytes
 *   never change, the HChaCha20 subkey is computed once per key and each record is sealed with IETF
 *   ChaCha20-Poly1305 under the nonce `00 00 00 00 ‖ counter LE`: the bytes on the wire are exactly
 *   those of XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha §2.3), at one HChaCha20 per key instead of
 *   one per record.
 * - Counters run 0 … 2^48 − 1, never reset, never reused. When the counter reaches a non-zero
 *   multiple of `rekeyInterval`, the key is replaced before the record with that counter is used.
 */
import { NproError } from '../core/errors.js';
import type { CryptoProvider } from '../utils/crypto/provider.js';
import { AEAD_KEY_LENGTH, AEAD_TAG_LENGTH } from '../utils/crypto/provider.js';
import { utf8Encoder } from '../utils/bytes.js';
import { defaultCrypto } from '../utils/crypto/index.js';

/** The protocol constant `rekey_interval` (protocol.md §4). */
export const REKEY_INTERVAL = 2 ** 20;
/** The highest record counter of a direction (protocol.md §4); the record with it is the sender's last. */
export const MAX_RECORD_COUNTER = 2 ** 48 - 1;
/** The AEAD tag that follows the ciphertext of an encrypted record. */
export const RECORD_TAG_LENGTH = AEAD_TAG_LENGTH;
/** The HKDF info of a rekey: the 10 ASCII bytes `npro rekey`. */
export const REKEY_INFO = utf8Encoder.encode('npro rekey');

const EMPTY_SALT = new Uint8Array(0);
const NONCE_PREFIX = new Uint8Array(16);
const TWO_POW_32 = 0x1_0000_0000;

/** The key after `key`: HKDF-SHA256(ikm = key, salt = empty, info = `npro rekey`, L = 32) (protocol.md §4). */
export function rekeyKey(crypto: CryptoProvider, key: Uint8Array): Uint8Array {
  return crypto.hkdfSha256(key, EMPTY_SALT, REKEY_INFO, AEAD_KEY_LENGTH);
}

/** The 24-byte XChaCha20-Poly1305 nonce of a record: 16 zero bytes ‖ counter u64 LE (protocol.md §4). */
export function recordNonce(counter: number): Uint8Array {
  const nonce = new Uint8Array(24);
  writeCounterLE(nonce, 16, counter);
  return nonce;
}

/** Writes `counter` (an integer below 2^53) as u64 little-endian at `offset`. */
function writeCounterLE(out: Uint8Array, offset: number, counter: number): void {
  const lo = counter % TWO_POW_32;
  const hi = Math.floor(counter / TWO_POW_32);
  out[offset] = lo & 0xff;
  out[offset + 1] = (lo >>> 8) & 0xff;
  out[offset + 2] = (lo >>> 16) & 0xff;
  out[offset + 3] = lo >>> 24;
  out[offset + 4] = hi & 0xff;
  out[offset + 5] = (hi >>> 8) & 0xff;
  out[offset + 6] = (hi >>> 16) & 0xff;
  out[offset + 7] = hi >>> 24;
}

export interface RecordCipherOptions {
  /** Default: `defaultCrypto`. */
  crypto?: CryptoProvider;
  /** The key in force for the record with counter `counter` (the Split() key when `counter` is 0). */
  key: Uint8Array;
  /** The counter of the next record (default 0). Lets tests start near the limit of 2^48 − 1. */
  counter?: number;
  /** Records per key (default `REKEY_INTERVAL`; tests lower it on both sides together). */
  rekeyInterval?: number;
}

/**
 * One direction's key, subkey and counter. `seal` and `open` use the record at `counter`; `advance`
 * moves to the next one (rekeying when the next counter is a non-zero multiple of the interval).
 * An open that fails does not advance: the caller decides when a record counts as received.
 */
export class RecordCipher {
  readonly #crypto: CryptoProvider;
  readonly #interval: number;
  #key: Uint8Array;
  #subkey: Uint8Array;
  #counter: number;
  #keyIndex: number;
  readonly #nonce = new Uint8Array(12);

  constructor(opts: RecordCipherOptions) {
    const counter = opts.counter ?? 0;
    const interval = opts.rekeyInterval ?? REKEY_INTERVAL;
    if (opts.key.length !== AEAD_KEY_LENGTH) {
      throw new NproError('INVALID_ARGUMENT', `a record key is ${AEAD_KEY_LENGTH} bytes, got ${opts.key.length}`);
    }
    if (!Number.isSafeInteger(counter) || counter < 0 || counter > MAX_RECORD_COUNTER + 1) {
      throw new NproError('INVALID_ARGUMENT', `a record counter is an integer in 0 … 2^48, got ${counter}`);
    }
    if (!Number.isSafeInteger(interval) || interval < 1) {
      throw new NproError('INVALID_ARGUMENT', `rekey_interval is a positive integer, got ${interval}`);
    }
    this.#crypto = opts.crypto ?? defaultCrypto;
    this.#interval = interval;
    this.#key = opts.key.slice();
    this.#subkey = this.#crypto.hchacha20(this.#key, NONCE_PREFIX);
    this.#counter = counter;
    this.#keyIndex = Math.floor(counter / interval);
    this.#writeNonce();
  }

  /** The counter of the next record. */
  get counter(): number {
    return this.#counter;
  }

  /** How many rekeys produced the current key (⌊counter / rekey_interval⌋ for a cipher started at 0). */
  get keyIndex(): number {
    return this.#keyIndex;
  }

  /** A copy of the key in force for the next record (for tests and vectors; never log it). */
  get key(): Uint8Array {
    return this.#key.slice();
  }

  /** The 24-byte nonce of the next record (for tests and vectors). */
  get nonce(): Uint8Array {
    return recordNonce(this.#counter);
  }

  /** Counters left, the next one included: 0 once the record with counter 2^48 − 1 was used. */
  get remaining(): number {
    return MAX_RECORD_COUNTER + 1 - this.#counter;
  }

  /**
   * Seals `plaintext` as the record at `counter` with the frame header `aad`; returns ciphertext ‖ tag.
   * Does not advance. The caller checks `remaining` first.
   */
  seal(plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
    return this.#crypto.chacha20poly1305Seal(this.#subkey, this.#nonce, plaintext, aad);
  }

  /**
   * Seals `plaintext` as the record at `counter` and writes ciphertext ‖ tag at `out[offset …]`;
   * `plaintext` may be the very bytes it replaces. Does not advance.
   */
  sealInto(plaintext: Uint8Array, aad: Uint8Array, out: Uint8Array, offset: number): void {
    this.#crypto.chacha20poly1305SealInto(this.#subkey, this.#nonce, plaintext, aad, out, offset);
  }

  /**
   * Seals the record at `counter` whose plaintext is `pieces` joined, with the frame header `aad`;
   * returns the ciphertext of each piece, in order, then the tag. With the node provider no piece is
   * copied (a large payload is encrypted straight from the caller's buffer). Does not advance.
   */
  sealPieces(pieces: readonly Uint8Array[], aad: Uint8Array): Uint8Array[] {
    return this.#crypto.chacha20poly1305SealPieces(this.#subkey, this.#nonce, pieces, aad);
  }

  /** Opens the record at `counter`; `null` when it does not authenticate. Does not advance. */
  open(sealed: Uint8Array, aad: Uint8Array): Uint8Array | null {
    if (sealed.length < RECORD_TAG_LENGTH) return null;
    return this.#crypto.chacha20poly1305Open(this.#subkey, this.#nonce, sealed, aad);
  }

  /** Moves to the next counter, rekeying first when it is a non-zero multiple of the interval. */
  advance(): void {
    const next = this.#counter + 1;
    this.#counter = next;
    if (next <= MAX_RECORD_COUNTER && next % this.#interval === 0) {
      const oldKey = this.#key;
      const oldSubkey = this.#subkey;
      this.#key = rekeyKey(this.#crypto, oldKey);
      this.#subkey = this.#crypto.hchacha20(this.#key, NONCE_PREFIX);
      this.#keyIndex++;
      // The replaced key can no longer open or seal anything of this direction: wipe it.
      oldKey.fill(0);
      oldSubkey.fill(0);
    }
    this.#writeNonce();
  }

  /** The IETF nonce `00 00 00 00 ‖ counter u64 LE` of the next record. */
  #writeNonce(): void {
    writeCounterLE(this.#nonce, 4, this.#counter);
  }
}
