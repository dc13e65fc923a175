/**
 * The v2 handshake as two state machines without I/O (protocol.md §3): `ClientHandshake` writes HELLO,
 * reads WELCOME (or REJECT), checks the server's static key, writes AUTH; `ServerHandshake` reads
 * HELLO, writes WELCOME, reads AUTH. Frames go in as the frame decoder returns them; the frames to
 * write come out in `send`. A driver owns the socket, the deadlines and the logs.
 *
 * Each instance owns all its state (nothing is global) and draws a fresh ephemeral key unless one is
 * injected; every method is synchronous.
 */
import { NproError, WIRE_CODES } from '../core/errors.js';
import type { DecodedFrame } from '../core/frame-decoder.js';
import { VERSION_V2 } from '../core/frame.js';
import { toHex } from '../utils/bytes.js';
import type { CryptoProvider } from '../utils/crypto/provider.js';
import { defaultCrypto } from '../utils/crypto/index.js';
import {
  AUTH_NOISE_LENGTH, HANDSHAKE_KIND, HELLO_NOISE_LENGTH, PROLOGUE, TIMESTAMP_WINDOW_MS, WELCOME_NOISE_LENGTH,
  decodeAuth, decodeHello, decodeReject, decodeWelcome, encodeAuth, encodeHandshakeFrame, encodeHello, encodeRejectFrame,
  encodeWelcome, isValidMaxFrame, type HelloPayload,
} from './handshake-messages.js';
import { DHLEN, HandshakeState, type X25519KeyPair } from './noise.js';

/** What a completed handshake yields (the agreed module API). */
export interface HandshakeResult {
  /** Split()'s first key: client → server (protocol.md §3). */
  c2sKey: Uint8Array;
  /** Split()'s second key: server → client. */
  s2cKey: Uint8Array;
  /** The handshake hash `h` after AUTH. */
  handshakeHash: Uint8Array;
  /** Lowercase hex (64 characters) of `handshakeHash`, equal on both sides. */
  sessionId: string;
  /** The peer's static X25519 public key. */
  remoteStatic: Uint8Array;
  /** The negotiated feature set: HELLO.features AND WELCOME.features. */
  features: number;
  /** The `max_frame` this side advertised (the limit on what it receives). */
  localMaxFrame: number;
  /** The `max_frame` the peer advertised (the limit on what this side sends). */
  peerMaxFrame: number;
  /** WELCOME.max_streams: the server's limit on the client's in-flight requests. */
  maxStreams: number;
  /** The peer's clock (client_time or server_time) in Unix ms; informational. */
  remoteTime: number;
}

/** Why a server that completed the handshake refuses the session (protocol.md §3). */
export interface HandshakeRefusal {
  code: 'HANDSHAKE_FAILED' | 'CLIENT_NOT_AUTHORIZED';
  message: string;
}

/**
 * A server's result. With `refusal` the keys are usable but the session is not: the driver sends one
 * record holding `Failure{0, code, message}` and `Disconnect`, then closes (protocol.md §3).
 */
export interface ServerHandshakeResult extends HandshakeResult {
  refusal?: HandshakeRefusal;
}

/** What one call hands back: frames to write (in order), and the result or the error once known. */
export interface HandshakeStep<R> {
  send: Uint8Array[];
  result?: R;
  error?: NproError;
}

/** A frame as `FrameDecoder.next()` returns it; only `version` and `payload` are read. */
export type HandshakeFrame = Pick<DecodedFrame, 'payload'> & { version: number; header?: Uint8Array };

interface CommonOptions {
  /** This side's long-term X25519 key pair. */
  staticKey: X25519KeyPair;
  /** Feature bits this side offers (protocol.md §3); a u32. */
  features: number;
  /** The largest length field this side accepts after the handshake, 1,024 … 16,777,216. */
  maxFrame: number;
  /** Default: `defaultCrypto` (`node:crypto` on Node). */
  crypto?: CryptoProvider;
  /** The clock in Unix ms. Default: `Date.now`. */
  now?: () => number;
  /** A fixed ephemeral secret instead of a fresh one (tests replaying vectors). */
  ephemeralSecret?: Uint8Array;
}

export interface ClientHandshakeOptions extends CommonOptions {
  /**
   * The trust check of the server's static key (protocol.md §6), called after WELCOME decrypts and
   * before AUTH is written: null to accept, or the error to fail with (normally `SERVER_KEY_MISMATCH`).
   */
  checkServerKey: (remoteStatic: Uint8Array) => NproError | null;
  /**
   * When true, a client that fails while waiting for WELCOME (other than on a REJECT) returns a REJECT
   * frame with its error's code to write before closing (protocol.md §3: "a client may also send it").
   * Default false.
   */
  sendReject?: boolean;
}

export interface ServerHandshakeOptions extends CommonOptions {
  /** WELCOME.max_streams, ≥ 1. */
  maxStreams: number;
  /** The client-key check after AUTH (protocol.md §6); compare keys in constant time. Default: any client. */
  authorize?: (clientStatic: Uint8Array) => boolean;
}

type Status = 'new' | 'waiting' | 'done' | 'failed';

/** The initiator (protocol.md §3). `start()` once, then `receive()` the server's frame. */
export class ClientHandshake {
  readonly #opts: ClientHandshakeOptions;
  readonly #now: () => number;
  readonly #noise: HandshakeState;
  #status: Status = 'new';

  constructor(opts: ClientHandshakeOptions) {
    checkCommon(opts);
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
    this.#noise = newNoise(opts, true);
  }

  /** The HELLO frame to write first. */
  start(): Uint8Array {
    if (this.#status !== 'new') throw new NproError('INVALID_STATE', 'the client handshake has already started');
    const hello = encodeHello({ clientTime: BigInt(Math.floor(this.#now())), features: this.#opts.features, maxFrame: this.#opts.maxFrame });
    const frame = encodeHandshakeFrame(HANDSHAKE_KIND.HELLO, this.#noise.writeMessage(hello));
    this.#status = 'waiting';
    return frame;
  }

  /** Processes the server's answer to HELLO: WELCOME (→ AUTH and the result) or REJECT (→ its error). */
  receive(frame: HandshakeFrame): HandshakeStep<HandshakeResult> {
    if (this.#status !== 'waiting') {
      const error = new NproError('HANDSHAKE_FAILED', `unexpected frame: the client handshake is ${this.#status}`);
      this.#status = 'failed';
      return { send: [], error };
    }
    const payload = frame.payload;
    if (frame.version === VERSION_V2 && payload[0] === HANDSHAKE_KIND.REJECT) {
      this.#status = 'failed';
      return { send: [], error: decodeReject(payload).error };
    }
    try {
      return this.#onWelcome(frame);
    } catch (cause) {
      this.#status = 'failed';
      const error = asHandshakeError(cause);
      const send = this.#opts.sendReject === true ? [rejectFor(error)] : [];
      return { send, error };
    }
  }

  #onWelcome(frame: HandshakeFrame): HandshakeStep<HandshakeResult> {
    checkVersion(frame);
    const payload = frame.payload;
    expectKind(payload, HANDSHAKE_KIND.WELCOME, 'WELCOME', WELCOME_NOISE_LENGTH);
    const welcome = decodeWelcome(this.#noise.readMessage(payload.subarray(1)));
    if (!isValidMaxFrame(welcome.maxFrame)) throw new NproError('HANDSHAKE_FAILED', `WELCOME max_frame ${welcome.maxFrame} is outside 1024…16777216`);
    if (welcome.maxStreams < 1) throw new NproError('HANDSHAKE_FAILED', 'WELCOME max_streams is 0');
    const remoteStatic = this.#noise.remoteStatic!;
    const refused = this.#opts.checkServerKey(remoteStatic);
    if (refused !== null) throw refused;
    const features = (this.#opts.features & welcome.features) >>> 0;
    const auth = encodeHandshakeFrame(HANDSHAKE_KIND.AUTH, this.#noise.writeMessage(encodeAuth({ features })));
    this.#status = 'done';
    const [c2sKey, s2cKey] = this.#noise.splitKeys();
    const handshakeHash = this.#noise.getHandshakeHash();
    return {
      send: [auth],
      result: {
        c2sKey, s2cKey, handshakeHash, sessionId: toHex(handshakeHash), remoteStatic, features,
        localMaxFrame: this.#opts.maxFrame, peerMaxFrame: welcome.maxFrame, maxStreams: welcome.maxStreams,
        remoteTime: Number(welcome.serverTime),
      },
    };
  }
}

/** The responder (protocol.md §3). `receive()` HELLO, then AUTH. */
export class ServerHandshake {
  readonly #opts: ServerHandshakeOptions;
  readonly #now: () => number;
  readonly #noise: HandshakeState;
  #status: Status = 'new';
  #hello: HelloPayload | null = null;

  constructor(opts: ServerHandshakeOptions) {
    checkCommon(opts);
    if (!Number.isInteger(opts.maxStreams) || opts.maxStreams < 1 || opts.maxStreams > 0xffff_ffff) {
      throw new NproError('INVALID_ARGUMENT', `max_streams must be an integer ≥ 1, got ${opts.maxStreams}`);
    }
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
    this.#noise = newNoise(opts, false);
  }

  /**
   * Processes the client's next frame. An error that protocol.md §3 answers with REJECT comes with that
   * REJECT frame in `send`; a REJECT from the client gets no reply.
   */
  receive(frame: HandshakeFrame): HandshakeStep<ServerHandshakeResult> {
    if (this.#status === 'done' || this.#status === 'failed') {
      const error = new NproError('HANDSHAKE_FAILED', `unexpected frame: the server handshake is ${this.#status}`);
      this.#status = 'failed';
      return { send: [], error };
    }
    if (frame.version === VERSION_V2 && frame.payload[0] === HANDSHAKE_KIND.REJECT) {
      this.#status = 'failed';
      return { send: [], error: decodeReject(frame.payload).error };
    }
    try {
      return this.#status === 'new' ? this.#onHello(frame) : this.#onAuth(frame);
    } catch (cause) {
      this.#status = 'failed';
      const error = asHandshakeError(cause);
      return { send: [rejectFor(error)], error };
    }
  }

  /**
   * The REJECT frame for an error found by the driver (`BAD_MAGIC`, `VERSION_UNSUPPORTED`,
   * `FRAME_TOO_LARGE`, `FRAME_TIMEOUT`, `HANDSHAKE_TIMEOUT`, …). Null once the handshake has completed
   * or failed: REJECT only precedes completion and is always the last frame its sender writes.
   */
  reject(code: keyof typeof WIRE_CODES, reason: string): Uint8Array | null {
    if (this.#status === 'done' || this.#status === 'failed') return null;
    this.#status = 'failed';
    return encodeRejectFrame(code, reason);
  }

  /** HELLO checks in the order of protocol.md §3: kind, length, client_time, max_frame, then the DH. */
  #onHello(frame: HandshakeFrame): HandshakeStep<ServerHandshakeResult> {
    checkVersion(frame);
    const payload = frame.payload;
    expectKind(payload, HANDSHAKE_KIND.HELLO, 'HELLO', HELLO_NOISE_LENGTH);
    const hello = decodeHello(payload.subarray(1 + DHLEN));
    const now = Math.floor(this.#now());
    const low = BigInt(now - TIMESTAMP_WINDOW_MS);
    const high = BigInt(now + TIMESTAMP_WINDOW_MS);
    if (hello.clientTime < low || hello.clientTime > high) {
      throw new NproError('STALE_TIMESTAMP', `client_time ${hello.clientTime} outside [${low}, ${high}] (Unix ms)`);
    }
    if (!isValidMaxFrame(hello.maxFrame)) throw new NproError('HANDSHAKE_FAILED', `HELLO max_frame ${hello.maxFrame} is outside 1024…16777216`);
    this.#noise.readMessage(payload.subarray(1));
    const welcome = encodeWelcome({
      serverTime: BigInt(now), features: this.#opts.features, maxFrame: this.#opts.maxFrame, maxStreams: this.#opts.maxStreams,
    });
    const out = encodeHandshakeFrame(HANDSHAKE_KIND.WELCOME, this.#noise.writeMessage(welcome));
    this.#hello = hello;
    this.#status = 'waiting';
    return { send: [out] };
  }

  /** AUTH: decrypt (else REJECT), then features (checked before the client key), then the client key. */
  #onAuth(frame: HandshakeFrame): HandshakeStep<ServerHandshakeResult> {
    checkVersion(frame);
    const payload = frame.payload;
    expectKind(payload, HANDSHAKE_KIND.AUTH, 'AUTH', AUTH_NOISE_LENGTH);
    const auth = decodeAuth(this.#noise.readMessage(payload.subarray(1)));
    const hello = this.#hello!;
    this.#status = 'done';
    const features = (hello.features & this.#opts.features) >>> 0;
    const remoteStatic = this.#noise.remoteStatic!;
    const [c2sKey, s2cKey] = this.#noise.splitKeys();
    const handshakeHash = this.#noise.getHandshakeHash();
    const result: ServerHandshakeResult = {
      c2sKey, s2cKey, handshakeHash, sessionId: toHex(handshakeHash), remoteStatic, features,
      localMaxFrame: this.#opts.maxFrame, peerMaxFrame: hello.maxFrame, maxStreams: this.#opts.maxStreams,
      remoteTime: Number(hello.clientTime),
    };
    if (auth.features !== features) {
      result.refusal = {
        code: 'HANDSHAKE_FAILED',
        message: `AUTH features 0x${hex32(auth.features)} differ from HELLO AND WELCOME 0x${hex32(features)}`,
      };
    } else if (this.#opts.authorize !== undefined && !this.#opts.authorize(remoteStatic)) {
      result.refusal = { code: 'CLIENT_NOT_AUTHORIZED', message: 'the client key is not authorized' };
    }
    return { send: [], result };
  }
}

function newNoise(opts: CommonOptions, initiator: boolean): HandshakeState {
  return new HandshakeState({
    crypto: opts.crypto ?? defaultCrypto,
    initiator,
    prologue: PROLOGUE,
    staticKey: opts.staticKey,
    ...(opts.ephemeralSecret === undefined ? {} : { ephemeralSecret: opts.ephemeralSecret }),
  });
}

function checkCommon(opts: CommonOptions): void {
  if (!isValidMaxFrame(opts.maxFrame)) throw new NproError('INVALID_ARGUMENT', `max_frame must be within 1024…16777216, got ${opts.maxFrame}`);
  if (!Number.isInteger(opts.features) || opts.features < 0 || opts.features > 0xffff_ffff) {
    throw new NproError('INVALID_ARGUMENT', `features must be a u32, got ${opts.features}`);
  }
  if (opts.staticKey.secretKey.length !== DHLEN || opts.staticKey.publicKey.length !== DHLEN) {
    throw new NproError('INVALID_ARGUMENT', 'a static key pair holds two 32-byte keys');
  }
}

function checkVersion(frame: HandshakeFrame): void {
  if (frame.version !== VERSION_V2) {
    throw new NproError('VERSION_UNSUPPORTED', `frame version ${frame.version} during a v2 handshake`);
  }
}

/** Any other kind, or any other length of the Noise message → `HANDSHAKE_FAILED` (protocol.md §3). */
function expectKind(payload: Uint8Array, kind: number, name: string, noiseLength: number): void {
  if (payload.length === 0 || payload[0] !== kind) {
    const got = payload.length === 0 ? 'an empty payload' : `kind 0x${payload[0]!.toString(16).padStart(2, '0')}`;
    throw new NproError('HANDSHAKE_FAILED', `expected ${name}, got ${got}`);
  }
  if (payload.length !== 1 + noiseLength) {
    throw new NproError('HANDSHAKE_FAILED', `${name} Noise message is ${payload.length - 1} bytes, expected ${noiseLength}`);
  }
}

/** Errors that cross the wire keep their code; anything else is reported as `HANDSHAKE_FAILED`. */
function asHandshakeError(cause: unknown): NproError {
  if (NproError.is(cause) && cause.code in WIRE_CODES) return cause;
  return new NproError('HANDSHAKE_FAILED', 'handshake failed', { cause });
}

/** The REJECT for `error` (a wire code, see `asHandshakeError`). */
function rejectFor(error: NproError): Uint8Array {
  return encodeRejectFrame(error.code as keyof typeof WIRE_CODES, error.message);
}

function hex32(n: number): string {
  return n.toString(16).padStart(8, '0');
}
