/**
 * What both directions of v2 records share (protocol.md §4): the options, the checks of the mode
 * (plaintext records iff feature bit 2 was negotiated) and of `max_frame`, and the read-only view of
 * the key, counter and limits that drivers and tests use.
 */
import { NproError } from '../core/errors.js';
import type { CryptoProvider } from '../utils/crypto/provider.js';
import { FEATURES, isValidMaxFrame } from './handshake-messages.js';
import { MAX_RECORD_COUNTER, RecordCipher } from './record-cipher.js';

/** Options shared by both directions. */
export interface DirectionOptions {
  /** Default: `defaultCrypto` (`node:crypto` on Node). */
  crypto?: CryptoProvider;
  /** The key in force for the record at `counter`: the Split() key of this direction when `counter` is 0. */
  key: Uint8Array;
  /** The counter of the next record (default 0; tests start near 2^48 − 1). */
  counter?: number;
  /** Records per key (default 2^20; tests lower it on both sides together). */
  rekeyInterval?: number;
  /** The negotiated feature set (HELLO.features AND WELCOME.features). */
  negotiatedFeatures: number;
  /** Plaintext records; default: whether feature bit 2 was negotiated, and it must agree with it. */
  plaintext?: boolean;
}

function checkMode(opts: DirectionOptions): boolean {
  const negotiated = (opts.negotiatedFeatures & FEATURES.PLAINTEXT_RECORDS) !== 0;
  const plaintext = opts.plaintext ?? negotiated;
  if (plaintext !== negotiated) {
    throw new NproError('INVALID_ARGUMENT', `plaintext records ${plaintext ? 'requested without' : 'refused despite'} feature bit 2`);
  }
  return plaintext;
}

/** `INVALID_ARGUMENT` unless `maxFrame` is in the range of protocol.md §3 (1,024 … 16,777,216). */
export function checkMaxFrame(name: string, maxFrame: number): void {
  if (!isValidMaxFrame(maxFrame)) throw new NproError('INVALID_ARGUMENT', `${name} must be an integer in 1,024 … 16,777,216, got ${maxFrame}`);
}

/** The key, counter and mode state common to both directions (read-only views for drivers and tests). */
export abstract class RecordDirection {
  protected readonly cipher: RecordCipher;
  protected readonly plaintext: boolean;
  protected readonly features: number;

  protected constructor(opts: DirectionOptions) {
    this.plaintext = checkMode(opts);
    this.features = opts.negotiatedFeatures;
    this.cipher = new RecordCipher(opts);
  }

  /** The counter of the next record. */
  get counter(): number {
    return this.cipher.counter;
  }

  /** The number of rekeys behind the current key. */
  get keyIndex(): number {
    return this.cipher.keyIndex;
  }

  /** A copy of the key the next record uses (tests and vectors only; never log it). */
  get key(): Uint8Array {
    return this.cipher.key;
  }

  /** The 24-byte nonce of the next record. */
  get nonce(): Uint8Array {
    return this.cipher.nonce;
  }

  /** Counters left, the next one included (0 when the direction is exhausted). */
  get remaining(): number {
    return this.cipher.remaining;
  }

  /** True when the next record has the counter 2^48 − 1, the last one (protocol.md §4). */
  get isLast(): boolean {
    return this.cipher.counter === MAX_RECORD_COUNTER;
  }

  /** True when no counter is left. */
  get exhausted(): boolean {
    return this.cipher.remaining === 0;
  }
}
