/**
 * The Noise Protocol Framework, revision 34, as npro uses it: `Noise_XX_25519_ChaChaPoly_SHA256`
 * (protocol.md §3). `HandshakeState` (Noise §5.3) for the XX pattern (§7.5), over the `CipherState`
 * and `SymmetricState` of `noise-symmetric.ts` (re-exported here). No I/O: bytes in, bytes out.
 *
 * Every failure is an `NproError`: a message that does not authenticate, is too short, or makes a DH
 * with a low-order key (the provider refuses an all-zero result, Noise §12.1) → `HANDSHAKE_FAILED`.
 */
import { NproError } from '../core/errors.js';
import type { CryptoProvider } from '../utils/crypto/provider.js';
import { concatBytes } from '../utils/bytes.js';
import { DHLEN, MAX_MESSAGE_LENGTH, PROTOCOL_NAME, SymmetricState, TAGLEN, CipherState } from './noise-symmetric.js';

export * from './noise-symmetric.js';

/** An X25519 key pair (Noise §4.1 `GENERATE_KEYPAIR`). */
export interface X25519KeyPair {
  readonly secretKey: Uint8Array;
  readonly publicKey: Uint8Array;
}

/** The key pair of a 32-byte X25519 secret (public key = X25519(secret, 9)). */
export function x25519KeyPair(crypto: CryptoProvider, secretKey: Uint8Array): X25519KeyPair {
  if (secretKey.length !== DHLEN) throw new NproError('INVALID_ARGUMENT', `an X25519 secret key is ${DHLEN} bytes, got ${secretKey.length}`);
  const secret = secretKey.slice();
  return { secretKey: secret, publicKey: crypto.x25519PublicKey(secret) };
}

/** The tokens of Noise §7.1 that the XX pattern uses, plus `ss` for completeness of the DH rules. */
export type Token = 'e' | 's' | 'ee' | 'es' | 'se' | 'ss';

/** The XX handshake pattern (Noise §7.5): `-> e`, `<- e, ee, s, es`, `-> s, se`. No pre-messages. */
export const XX_PATTERN: readonly (readonly Token[])[] = [['e'], ['e', 'ee', 's', 'es'], ['s', 'se']];

export interface HandshakeStateOptions {
  crypto: CryptoProvider;
  /** True for the initiator (npro's client). */
  initiator: boolean;
  /** Hashed into `h` and never sent (Noise §6). */
  prologue: Uint8Array;
  /** The local static key pair `s`. */
  staticKey: X25519KeyPair;
  /**
   * A fixed ephemeral secret for `e` instead of a fresh one (to replay published vectors). Without it a
   * fresh key is drawn when the `e` token is written, so every handshake has its own.
   */
  ephemeralSecret?: Uint8Array;
}

/**
 * Noise §5.3 for the XX pattern: `writeMessage` / `readMessage` alternate, starting with the
 * initiator's write. After the third message the handshake is complete: `splitKeys()` / `split()` and
 * `getHandshakeHash()` become available, and the ephemeral secret and `ck` are overwritten with zeros
 * (Noise §14: ephemerals are never reused).
 * Any failure leaves the object failed: every later call throws `HANDSHAKE_FAILED`.
 */
export class HandshakeState {
  readonly #crypto: CryptoProvider;
  readonly #initiator: boolean;
  readonly #symmetric: SymmetricState;
  readonly #s: X25519KeyPair;
  #ephemeralSecret: Uint8Array | null;
  #e: X25519KeyPair | null = null;
  #rs: Uint8Array | null = null;
  #re: Uint8Array | null = null;
  #index = 0;
  #status: 'active' | 'complete' | 'failed' = 'active';
  #keys: [Uint8Array, Uint8Array] | null = null;

  constructor(opts: HandshakeStateOptions) {
    this.#crypto = opts.crypto;
    this.#initiator = opts.initiator;
    // The caller owns the long-term key pair (it is used by many handshakes): kept by reference, never wiped here.
    this.#s = opts.staticKey;
    if (opts.ephemeralSecret !== undefined && opts.ephemeralSecret.length !== DHLEN) {
      throw new NproError('INVALID_ARGUMENT', `an X25519 secret key is ${DHLEN} bytes`);
    }
    this.#ephemeralSecret = opts.ephemeralSecret?.slice() ?? null;
    this.#symmetric = new SymmetricState(opts.crypto);
    this.#symmetric.initializeSymmetric(PROTOCOL_NAME);
    this.#symmetric.mixHash(opts.prologue);
  }

  get isInitiator(): boolean {
    return this.#initiator;
  }

  get isComplete(): boolean {
    return this.#status === 'complete';
  }

  /** True when the next call must be `writeMessage` (false when it must be `readMessage` or the handshake is over). */
  get isMyTurn(): boolean {
    return this.#status === 'active' && (this.#index % 2 === 0) === this.#initiator;
  }

  /** The peer's static public key `rs`, once received. */
  get remoteStatic(): Uint8Array | null {
    return this.#rs?.slice() ?? null;
  }

  /** The peer's ephemeral public key `re`, once received. */
  get remoteEphemeral(): Uint8Array | null {
    return this.#re?.slice() ?? null;
  }

  /** The local ephemeral public key, once drawn. */
  get localEphemeral(): Uint8Array | null {
    return this.#e?.publicKey.slice() ?? null;
  }

  /** `WriteMessage(payload)`: processes the next message pattern's tokens, then `EncryptAndHash(payload)`. */
  writeMessage(payload: Uint8Array): Uint8Array {
    return this.#step(true, () => {
      const parts: Uint8Array[] = [];
      for (const token of XX_PATTERN[this.#index]!) {
        if (token === 'e') {
          const secret = this.#ephemeralSecret ?? this.#crypto.x25519GenerateSecret();
          this.#ephemeralSecret = null;
          this.#e = { secretKey: secret, publicKey: this.#crypto.x25519PublicKey(secret) };
          parts.push(this.#e.publicKey);
          this.#symmetric.mixHash(this.#e.publicKey);
        } else if (token === 's') {
          parts.push(this.#symmetric.encryptAndHash(this.#s.publicKey));
        } else {
          this.#mixDh(token);
        }
      }
      parts.push(this.#symmetric.encryptAndHash(payload));
      const message = concatBytes(...parts);
      if (message.length > MAX_MESSAGE_LENGTH) throw new NproError('INVALID_ARGUMENT', 'a Noise message is at most 65535 bytes');
      return message;
    });
  }

  /**
   * `ReadMessage(message)`: processes the next message pattern's tokens, then returns `DecryptAndHash(rest)`
   * (before any key, that is a view of `message`). `re` and `rs` are kept as copies.
   */
  readMessage(message: Uint8Array): Uint8Array {
    return this.#step(false, () => {
      if (message.length > MAX_MESSAGE_LENGTH) throw new NproError('HANDSHAKE_FAILED', 'Noise message longer than 65535 bytes');
      let offset = 0;
      const take = (n: number): Uint8Array => {
        if (message.length - offset < n) throw new NproError('HANDSHAKE_FAILED', 'Noise message too short');
        const part = message.subarray(offset, offset + n);
        offset += n;
        return part;
      };
      for (const token of XX_PATTERN[this.#index]!) {
        if (token === 'e') {
          this.#re = take(DHLEN).slice();
          this.#symmetric.mixHash(this.#re);
        } else if (token === 's') {
          this.#rs = this.#symmetric.decryptAndHash(take(this.#symmetric.hasKey() ? DHLEN + TAGLEN : DHLEN)).slice();
        } else {
          this.#mixDh(token);
        }
      }
      const rest = take(message.length - offset);
      if (this.#symmetric.hasKey() && rest.length < TAGLEN) throw new NproError('HANDSHAKE_FAILED', 'Noise message too short');
      return this.#symmetric.decryptAndHash(rest);
    });
  }

  /** `GetHandshakeHash()`: `h` (after the last message: the value both sides share). */
  getHandshakeHash(): Uint8Array {
    return this.#symmetric.getHandshakeHash();
  }

  /** The two keys of `Split()` (first initiator → responder), once the handshake is complete. */
  splitKeys(): [Uint8Array, Uint8Array] {
    if (this.#keys === null) throw new NproError('INVALID_STATE', 'Split() is only available after the last handshake message');
    return [this.#keys[0].slice(), this.#keys[1].slice()];
  }

  /** `Split()` as two `CipherState`s (Noise §5.2), once the handshake is complete. */
  split(): [CipherState, CipherState] {
    const [k1, k2] = this.splitKeys();
    return [new CipherState(this.#crypto, k1), new CipherState(this.#crypto, k2)];
  }

  #step<T>(writing: boolean, body: () => T): T {
    if (this.#status === 'failed') throw new NproError('HANDSHAKE_FAILED', 'the handshake has already failed');
    if (this.#status === 'complete') throw new NproError('INVALID_STATE', 'the handshake is already complete');
    if (this.isMyTurn !== writing) {
      throw new NproError('INVALID_STATE', writing ? 'it is the peer\'s turn to write' : 'it is our turn to write');
    }
    try {
      const out = body();
      this.#index += 1;
      if (this.#index === XX_PATTERN.length) this.#finish();
      return out;
    } catch (cause) {
      this.#fail();
      if (NproError.is(cause)) throw cause;
      throw new NproError('HANDSHAKE_FAILED', 'Noise handshake step failed', { cause });
    }
  }

  /** `MixKey(DH(..))` for a DH token; the DH output is overwritten once mixed. */
  #mixDh(token: Token): void {
    const shared = this.#dh(token);
    this.#symmetric.mixKey(shared);
    shared.fill(0);
  }

  /** The DH of a token (Noise §5.3): `ee`, `es`, `se`, `ss` from the initiator's or the responder's side. */
  #dh(token: Token): Uint8Array {
    const e = this.#e;
    const s = this.#s;
    const re = this.#re;
    const rs = this.#rs;
    const need = <T>(v: T | null): T => {
      if (v === null) throw new NproError('HANDSHAKE_FAILED', `token ${token} needs a key not yet known`);
      return v;
    };
    switch (token) {
      case 'ee':
        return this.#crypto.x25519(need(e).secretKey, need(re));
      case 'es':
        return this.#initiator ? this.#crypto.x25519(need(e).secretKey, need(rs)) : this.#crypto.x25519(s.secretKey, need(re));
      case 'se':
        return this.#initiator ? this.#crypto.x25519(s.secretKey, need(re)) : this.#crypto.x25519(need(e).secretKey, need(rs));
      case 'ss':
        return this.#crypto.x25519(s.secretKey, need(rs));
      default:
        throw new NproError('INVALID_STATE', `token ${token} is not a DH`);
    }
  }

  #finish(): void {
    this.#keys = this.#symmetric.splitKeys();
    this.#status = 'complete';
    this.#wipeSecrets();
  }

  #fail(): void {
    this.#status = 'failed';
    this.#wipeSecrets();
  }

  #wipeSecrets(): void {
    this.#e?.secretKey.fill(0);
    this.#ephemeralSecret?.fill(0);
    this.#ephemeralSecret = null;
    this.#symmetric.wipe();
  }
}
