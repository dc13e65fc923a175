/**
 * v1: byte compatibility with the Rust crate `network-protocol` 1.0.1–1.2.x (protocol.md §7), as
 * state machines without I/O.
 *
 * Handshake, every message bincode (§2) in a plaintext v1 frame (version 01):
 * 1. client → `SecureHandshakeInit{pub_key = Pc, timestamp = Tc, nonce = Nc}`;
 * 2. the server accepts iff `now − 30,000 ≤ Tc ≤ now + 2,000` (ms, inclusive) and replies
 *    `SecureHandshakeResponse{pub_key = Ps, nonce = Ns, nonce_verification = SHA-256(Nc)}`;
 * 3. the client checks it and replies `SecureHandshakeConfirm{nonce_verification = SHA-256(Ns)}`;
 * 4. the server checks it. Both hold `key = SHA-256(shared ‖ "client_nonce" ‖ Nc ‖ "server_nonce" ‖ Ns)`.
 *
 * Records: payload = `nonce[24] ‖ ciphertext ‖ tag[16]`, XChaCha20-Poly1305, empty AAD, one key for
 * both directions, one message per frame, no compression.
 *
 * A v1 peer cannot parse REJECT or `Failure`: every error comes back as `error` with nothing to send,
 * and the driver closes the connection (low-order keys included). v1 authenticates nobody.
 */
import { NproError } from '../core/errors.js';
import { HEADER_SIZE, MAX_PAYLOAD, VERSION_V1, encodeFrame, writeHeader } from '../core/frame.js';
import type { Message, MessageOf } from '../core/message.js';
import { NONCE_SIZE, PUB_KEY_SIZE, decodeMessage, encodeMessage, encodedLength, encodeMessageInto } from '../core/message-codec.js';
import { concatBytes, constantTimeEqual, utf8Encoder } from '../utils/bytes.js';
import { defaultCrypto } from '../utils/crypto/index.js';
import { AEAD_TAG_LENGTH, type CryptoProvider } from '../utils/crypto/provider.js';

/** Oldest accepted `Tc`: the server's now − 30,000 ms (protocol.md §7). */
export const V1_TIMESTAMP_PAST_MS = 30_000;
/** Newest accepted `Tc`: the server's now + 2,000 ms (protocol.md §7). */
export const V1_TIMESTAMP_FUTURE_MS = 2_000;
/** The random nonce in front of each v1 record. */
export const V1_RECORD_NONCE_SIZE = 24;
/** Bytes of a v1 record that are not the message: nonce and tag. */
export const V1_RECORD_OVERHEAD = V1_RECORD_NONCE_SIZE + AEAD_TAG_LENGTH;
/** The largest message of a v1 record: 16,777,216 − 40 bytes (protocol.md §7). */
export const V1_MAX_MESSAGE_LENGTH = MAX_PAYLOAD - V1_RECORD_OVERHEAD;

const CLIENT_NONCE_LABEL = utf8Encoder.encode('client_nonce');
const SERVER_NONCE_LABEL = utf8Encoder.encode('server_nonce');

/** A frame as the frame decoder returns it; only `version` and `payload` are read. */
export interface V1Frame {
  version: number;
  payload: Uint8Array;
}

/** What a completed v1 handshake yields. */
export interface V1HandshakeResult {
  /** The record key, one for both directions. */
  key: Uint8Array;
  /** The peer's ephemeral X25519 public key (v1 has no long-term identity). */
  remoteEphemeral: Uint8Array;
}

/**
 * What one call hands back: frames to write, the result once complete, or the error to close with.
 * With `error`, `send` is always empty: nothing is ever reported to a v1 peer.
 */
export interface V1HandshakeStep {
  send: Uint8Array[];
  result?: V1HandshakeResult;
  error?: NproError;
}

interface V1CommonOptions {
  /** Default: `defaultCrypto`. */
  crypto?: CryptoProvider;
  /** A fixed ephemeral secret instead of a fresh one (tests replaying vectors). */
  ephemeralSecret?: Uint8Array;
  /** A fixed 16-byte nonce (Nc or Ns) instead of a random one (tests replaying vectors). */
  nonce?: Uint8Array;
  /** The clock in Unix ms. Default: `Date.now`. */
  now?: () => number;
}

export type V1ClientHandshakeOptions = V1CommonOptions;
export type V1ServerHandshakeOptions = V1CommonOptions;

type Status = 'new' | 'waiting' | 'confirming' | 'done' | 'failed';

/** The plaintext v1 frame of one message (the handshake, and v1 over TLS). */
export function encodeV1PlainFrame(message: Message): Uint8Array {
  return encodeFrame(VERSION_V1, encodeMessage(message));
}

/** `key = SHA-256(shared ‖ "client_nonce" ‖ Nc ‖ "server_nonce" ‖ Ns)` (protocol.md §7). */
export function deriveV1Key(crypto: CryptoProvider, shared: Uint8Array, clientNonce: Uint8Array, serverNonce: Uint8Array): Uint8Array {
  return crypto.sha256(concatBytes(shared, CLIENT_NONCE_LABEL, clientNonce, SERVER_NONCE_LABEL, serverNonce));
}

/** Ephemeral secret, its public key and the 16-byte nonce of one side. */
function ephemeral(crypto: CryptoProvider, opts: V1CommonOptions): { secret: Uint8Array; pub: Uint8Array; nonce: Uint8Array } {
  const secret = opts.ephemeralSecret?.slice() ?? crypto.x25519GenerateSecret();
  const nonce = opts.nonce?.slice() ?? crypto.randomBytes(NONCE_SIZE);
  if (secret.length !== PUB_KEY_SIZE) throw new NproError('INVALID_ARGUMENT', 'a v1 ephemeral secret is 32 bytes');
  if (nonce.length !== NONCE_SIZE) throw new NproError('INVALID_ARGUMENT', 'a v1 handshake nonce is 16 bytes');
  return { secret, pub: crypto.x25519PublicKey(secret), nonce };
}

/** The message of a handshake frame, or `HANDSHAKE_FAILED` / `VERSION_UNSUPPORTED`. */
function expectMessage<T extends Message['type']>(frame: V1Frame, type: T): MessageOf<T> {
  if (frame.version !== VERSION_V1) throw new NproError('VERSION_UNSUPPORTED', `a v1 connection got a version ${frame.version} frame`);
  let message: Message;
  try {
    message = decodeMessage(frame.payload);
  } catch (cause) {
    throw new NproError('HANDSHAKE_FAILED', `undecodable v1 handshake message (expected ${type})`, { cause });
  }
  if (message.type !== type) throw new NproError('HANDSHAKE_FAILED', `expected ${type}, got ${message.type}`);
  return message as MessageOf<T>;
}

function failure(cause: unknown): NproError {
  if (NproError.is(cause)) return cause;
  return new NproError('HANDSHAKE_FAILED', 'v1 handshake failed', { cause });
}

/** The v1 client (protocol.md §7): `start()` writes Init; `receive()` takes Response and writes Confirm. */
export class V1ClientHandshake {
  readonly #crypto: CryptoProvider;
  readonly #now: () => number;
  readonly #secret: Uint8Array;
  readonly #pub: Uint8Array;
  readonly #nonce: Uint8Array;
  #status: Status = 'new';

  constructor(opts: V1ClientHandshakeOptions = {}) {
    this.#crypto = opts.crypto ?? defaultCrypto;
    this.#now = opts.now ?? Date.now;
    ({ secret: this.#secret, pub: this.#pub, nonce: this.#nonce } = ephemeral(this.#crypto, opts));
  }

  /** The `SecureHandshakeInit` frame to write first. */
  start(): Uint8Array {
    if (this.#status !== 'new') throw new NproError('INVALID_STATE', 'the v1 client handshake has already started');
    this.#status = 'waiting';
    const timestamp = BigInt(Math.floor(this.#now()));
    return encodeV1PlainFrame({ type: 'SecureHandshakeInit', pubKey: this.#pub, timestamp, nonce: this.#nonce });
  }

  /** Takes `SecureHandshakeResponse`; on success, `send` holds Confirm and `result` the key. */
  receive(frame: V1Frame): V1HandshakeStep {
    if (this.#status !== 'waiting') {
      this.#status = 'failed';
      return { send: [], error: new NproError('HANDSHAKE_FAILED', 'unexpected frame in the v1 client handshake') };
    }
    try {
      const response = expectMessage(frame, 'SecureHandshakeResponse');
      if (!constantTimeEqual(response.nonceVerification, this.#crypto.sha256(this.#nonce))) {
        throw new NproError('HANDSHAKE_FAILED', 'the server did not prove it read our nonce (nonce_verification ≠ SHA-256(Nc))');
      }
      const shared = this.#crypto.x25519(this.#secret, response.pubKey);
      const key = deriveV1Key(this.#crypto, shared, this.#nonce, response.nonce);
      const confirm = encodeV1PlainFrame({ type: 'SecureHandshakeConfirm', nonceVerification: this.#crypto.sha256(response.nonce) });
      this.#status = 'done';
      return { send: [confirm], result: { key, remoteEphemeral: response.pubKey.slice() } };
    } catch (cause) {
      this.#status = 'failed';
      return { send: [], error: failure(cause) };
    }
  }
}

/** The v1 server (protocol.md §7): `receive()` Init (→ Response), then Confirm (→ the key). */
export class V1ServerHandshake {
  readonly #crypto: CryptoProvider;
  readonly #now: () => number;
  readonly #secret: Uint8Array;
  readonly #pub: Uint8Array;
  readonly #nonce: Uint8Array;
  #status: Status = 'new';
  #pending: V1HandshakeResult | null = null;

  constructor(opts: V1ServerHandshakeOptions = {}) {
    this.#crypto = opts.crypto ?? defaultCrypto;
    this.#now = opts.now ?? Date.now;
    ({ secret: this.#secret, pub: this.#pub, nonce: this.#nonce } = ephemeral(this.#crypto, opts));
  }

  receive(frame: V1Frame): V1HandshakeStep {
    try {
      if (this.#status === 'new') return this.#onInit(frame);
      if (this.#status === 'confirming') return this.#onConfirm(frame);
      throw new NproError('HANDSHAKE_FAILED', `unexpected frame: the v1 server handshake is ${this.#status}`);
    } catch (cause) {
      this.#status = 'failed';
      this.#pending = null;
      return { send: [], error: failure(cause) };
    }
  }

  /** Timestamp window first, then the DH (a low-order key fails there), then the Response. */
  #onInit(frame: V1Frame): V1HandshakeStep {
    const init = expectMessage(frame, 'SecureHandshakeInit');
    const now = BigInt(Math.floor(this.#now()));
    const low = now - BigInt(V1_TIMESTAMP_PAST_MS);
    const high = now + BigInt(V1_TIMESTAMP_FUTURE_MS);
    if (init.timestamp < low || init.timestamp > high) {
      throw new NproError('STALE_TIMESTAMP', `v1 timestamp ${init.timestamp} outside [${low}, ${high}] (Unix ms)`);
    }
    const shared = this.#crypto.x25519(this.#secret, init.pubKey);
    const key = deriveV1Key(this.#crypto, shared, init.nonce, this.#nonce);
    this.#pending = { key, remoteEphemeral: init.pubKey.slice() };
    this.#status = 'confirming';
    const response = encodeV1PlainFrame({
      type: 'SecureHandshakeResponse', pubKey: this.#pub, nonce: this.#nonce, nonceVerification: this.#crypto.sha256(init.nonce),
    });
    return { send: [response] };
  }

  #onConfirm(frame: V1Frame): V1HandshakeStep {
    const confirm = expectMessage(frame, 'SecureHandshakeConfirm');
    if (!constantTimeEqual(confirm.nonceVerification, this.#crypto.sha256(this.#nonce))) {
      throw new NproError('HANDSHAKE_FAILED', 'the client did not prove it read our nonce (nonce_verification ≠ SHA-256(Ns))');
    }
    const result = this.#pending!;
    this.#pending = null;
    this.#status = 'done';
    return { send: [], result };
  }
}

/**
 * One v1 record frame: `header ‖ nonce ‖ XChaCha20-Poly1305(key, nonce, aad = empty, message)`.
 * `nonce` defaults to 24 random bytes (tests inject it). A message over 16,777,216 − 40 bytes →
 * `FRAME_TOO_LARGE`, nothing written.
 */
export function sealV1Record(crypto: CryptoProvider, key: Uint8Array, message: Message, nonce?: Uint8Array): Uint8Array {
  const length = encodedLength(message);
  if (length > V1_MAX_MESSAGE_LENGTH) {
    throw new NproError('FRAME_TOO_LARGE', `a v1 ${message.type} of ${length} bytes exceeds ${V1_MAX_MESSAGE_LENGTH}`);
  }
  const n = nonce ?? crypto.randomBytes(V1_RECORD_NONCE_SIZE);
  if (n.length !== V1_RECORD_NONCE_SIZE) throw new NproError('INVALID_ARGUMENT', 'a v1 record nonce is 24 bytes');
  const plaintext = new Uint8Array(length);
  encodeMessageInto(message, plaintext, 0);
  const sealed = crypto.xchacha20poly1305Seal(key, n, plaintext);
  const frame = new Uint8Array(HEADER_SIZE + V1_RECORD_NONCE_SIZE + sealed.length);
  writeHeader(frame, 0, VERSION_V1, V1_RECORD_NONCE_SIZE + sealed.length);
  frame.set(n, HEADER_SIZE);
  frame.set(sealed, HEADER_SIZE + V1_RECORD_NONCE_SIZE);
  return frame;
}

/**
 * The message of one v1 record frame payload. A payload that does not authenticate →
 * `RECORD_AUTH_FAILED`; one whose plaintext fails §2 decoding → `MESSAGE_MALFORMED`. Either way the
 * driver closes without a word to the peer.
 */
export function openV1Record(crypto: CryptoProvider, key: Uint8Array, payload: Uint8Array): Message {
  if (payload.length < V1_RECORD_OVERHEAD) {
    throw new NproError('RECORD_AUTH_FAILED', `a v1 record of ${payload.length} bytes is shorter than nonce and tag`);
  }
  const plaintext = crypto.xchacha20poly1305Open(key, payload.subarray(0, V1_RECORD_NONCE_SIZE), payload.subarray(V1_RECORD_NONCE_SIZE));
  if (plaintext === null) throw new NproError('RECORD_AUTH_FAILED', 'a v1 record failed to authenticate');
  return decodeMessage(plaintext);
}
