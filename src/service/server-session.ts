/**
 * One accepted connection of a daemon (protocol.md §3, §7, §8): the handshake phase, then a
 * conversation: v2 records (`server-conversation.ts`) or v1 (`v1-session.ts`), chosen by the version
 * byte of the first frame.
 *
 * Handshake phase: frames are capped at 4 KiB; the whole handshake must complete within
 * `server.connection_timeout` (silence included) → REJECT `HANDSHAKE_TIMEOUT`. Decoder errors and a
 * stalled frame are answered with REJECT (`BAD_MAGIC`, `VERSION_UNSUPPORTED`, `FRAME_TOO_LARGE`,
 * `FRAME_TIMEOUT`), as are the handshake's own failures; a connection whose first version byte is 01
 * never gets a REJECT: it is closed (also when the daemon does not serve v1).
 */
import { NproError, type WireErrorCode } from '../core/errors.js';
import { FrameDecoder, type DecodedFrame } from '../core/frame-decoder.js';
import { VERSION_V1 } from '../core/frame.js';
import { FEATURES } from '../protocol/handshake-messages.js';
import { ServerHandshake, type ServerHandshakeResult } from '../protocol/handshake.js';
import type { Dispatcher, PeerInfo } from '../protocol/dispatcher.js';
import type { CompressionSettings } from '../protocol/record.js';
import { isClientAuthorized } from '../protocol/trust.js';
import type { Connection } from '../transport/index.js';
import type { NetworkConfig } from '../utils/config/index.js';
import type { CryptoProvider } from '../utils/crypto/index.js';
import { encodePublicKey, type KeyPair } from '../utils/keys.js';
import type { Logger } from '../utils/logger.js';
import type { TimerHandle, Timers } from '../utils/timers.js';
import type { SessionView } from './handler-context.js';
import type { Scheduler } from './outbound.js';
import { V2Conversation } from './server-conversation.js';
import { SessionCore } from './session-core.js';
import type { StatsCollector } from './stats.js';
import { V1Conversation } from './v1-session.js';

/** What every session of a daemon shares. */
export interface ServerSettings {
  config: NetworkConfig;
  dispatcher: Dispatcher;
  staticKey: KeyPair;
  /** `security.authorized_clients`, decoded (empty: any client). */
  authorized: readonly Uint8Array[];
  crypto: CryptoProvider;
  timers: Timers;
  /** Unix ms (handshake timestamps, handler deadlines). */
  clock: () => number;
  stats: StatsCollector;
  log: Logger;
  /** `security.protocol` allows v1 / v2. */
  allowV1: boolean;
  allowV2: boolean;
  /** Feature bits offered besides plaintext records: what this side can decode. */
  features: number;
  /** This side's compression (null when `compression_enabled` is false). */
  compression: CompressionSettings | null;
  /** Records per key (tests lower it on both sides together). */
  rekeyInterval: number | undefined;
  /** The first record counter of each direction (tests of `KEY_EXHAUSTED`, on both sides together). */
  recordCounter: number | undefined;
  schedule: Scheduler;
  events: ServerSessionEvents;
}

/** Per listener: whether plaintext records may be offered (`encryption_enabled` resolves to false). */
export interface ListenerSettings {
  url: string;
  plaintextRecords: boolean;
}

/** How a session ended. `code` is null for an ordinary ending (Disconnect, idle, drain). */
export interface SessionEnd {
  code: string | null;
  reason: string;
  error: NproError | null;
}

export interface ServerSessionEvents {
  established(session: ServerSession): void;
  /** A handshake or a session failed with `error` (the session then closes). */
  failed(session: ServerSession, error: NproError): void;
  closed(session: ServerSession, end: SessionEnd): void;
}

/** What a session delegates to once the version is known. */
export interface Conversation {
  /** True once its handshake completed. */
  readonly established: boolean;
  frame(frame: DecodedFrame): void;
  /** A fatal error found by the driver (decoder, frame deadline, handshake deadline). */
  fail(code: WireErrorCode, message: string): void;
  peerEnded(): void;
  goAway(reason: string, timeoutMs: number): void;
  forceClose(): void;
  drain(): void;
  closing(): void;
  closed(): void;
  beforeInput(): void;
  afterInput(): void;
}

const EMPTY_KEY = new Uint8Array(0);

export class ServerSession extends SessionCore implements SessionView {
  readonly settings: ServerSettings;
  readonly listener: ListenerSettings;
  sessionId = '';
  peer: PeerInfo;
  log: Logger;
  drainDeadline: number | undefined = undefined;
  /** Resolves once the connection is closed. */
  readonly closed: Promise<void>;
  #resolveClosed!: () => void;
  #handshake: ServerHandshake | null = null;
  #conversation: Conversation | null = null;
  #handshakeTimer: TimerHandle | null = null;
  #ageTimer: TimerHandle | null = null;
  #end: SessionEnd = { code: null, reason: 'connection closed', error: null };
  #handshakeCounted = false;

  constructor(connection: Connection, settings: ServerSettings, listener: ListenerSettings) {
    const config = settings.config;
    super(connection, new FrameDecoder({ maxPayload: config.transport.max_payload_size }), {
      timers: settings.timers,
      frameTimeoutMs: config.server.frame_timeout,
      countIn: (n) => {
        settings.stats.bytesIn += n;
      },
    });
    this.settings = settings;
    this.listener = listener;
    this.peer = { publicKey: EMPTY_KEY, publicKeyText: '', address: connection.remoteAddress };
    this.log = settings.log;
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
  }

  /** The protocol version spoken, once known. */
  get version(): 'v1' | 'v2' | undefined {
    const v = this.decoder.version;
    return v === null ? undefined : v === VERSION_V1 ? 'v1' : 'v2';
  }

  get established(): boolean {
    return this.#conversation?.established === true;
  }

  /** Starts reading, under the handshake deadline and `max_connection_age`. */
  start(): void {
    const { server } = this.settings.config;
    this.#handshakeTimer = this.timers.setTimeout(() => this.#handshakeTimedOut(), server.connection_timeout);
    if (server.max_connection_age > 0) {
      this.#ageTimer = this.timers.setTimeout(() => {
        this.#ageTimer = null;
        this.goAway('max_connection_age reached', server.shutdown_timeout);
      }, server.max_connection_age);
    }
    this.attach();
  }

  /** Sends `GoAway` and drains, forcing the end after `timeoutMs`; a handshake in progress is refused. */
  goAway(reason: string, timeoutMs: number): void {
    if (this.state !== 'open') return;
    if (this.#conversation !== null) {
      this.#conversation.goAway(reason, timeoutMs);
      return;
    }
    this.#refuseHandshake('SERVER_BUSY', `the daemon is going away: ${reason}`);
  }

  /** Ends the session now (the drain deadline passed). */
  forceClose(): void {
    if (this.state !== 'open') return;
    if (this.#conversation !== null) this.#conversation.forceClose();
    else this.#refuseHandshake('SERVER_BUSY', 'the daemon is shutting down');
  }

  /** Bytes waiting in the connection's write buffer. */
  get queuedBytes(): number {
    return this.state === 'closed' ? 0 : this.connection.writableLength;
  }

  // ── for conversations ──────────────────────────────────────────────────────────────────────

  /** Records how the session ends and closes after `frames` (protocol.md §8). */
  closeWith(frames: readonly Uint8Array[], end: SessionEnd): void {
    if (this.state !== 'open') return;
    this.#end = end;
    if (end.error !== null) {
      this.settings.stats.error(end.error.code);
      this.settings.events.failed(this, end.error);
    }
    this.finish(frames);
  }

  /** Counts the outcome of the handshake, once. */
  countHandshake(ok: boolean): void {
    if (this.#handshakeCounted) return;
    this.#handshakeCounted = true;
    if (ok) this.settings.stats.handshakesOk++;
    else this.settings.stats.handshakesFailed++;
  }

  pauseInput(reason: number): void {
    this.pause(reason);
  }

  resumeInput(reason: number): void {
    this.resume(reason);
  }

  inputPaused(reason: number): boolean {
    return this.isPaused(reason);
  }

  /** A handshake completed: the session's identity is known and frames may now be large. */
  handshakeDone(identity: { sessionId: string; peerKey: Uint8Array; peerKeyText: string }): void {
    this.#handshakeTimer?.cancel();
    this.#handshakeTimer = null;
    this.decoder.setHandshakeComplete();
    this.sessionId = identity.sessionId;
    this.peer = { publicKey: identity.peerKey, publicKeyText: identity.peerKeyText, address: this.connection.remoteAddress };
    this.log = this.settings.log.child({ component: 'session', sessionId: identity.sessionId });
  }

  // ── SessionCore ────────────────────────────────────────────────────────────────────────────

  protected onFrame(frame: DecodedFrame): void {
    const conversation = this.#conversation;
    if (conversation !== null) {
      conversation.frame(frame);
      return;
    }
    if (frame.version === VERSION_V1) {
      this.#startV1(frame);
      return;
    }
    if (!this.settings.allowV2) {
      this.#refuseHandshake('VERSION_UNSUPPORTED', 'this daemon serves protocol version 1 only');
      return;
    }
    const handshake = (this.#handshake ??= this.#newHandshake());
    const step = handshake.receive(frame);
    if (step.error !== undefined) {
      this.#handshakeFailed(step.error, step.send);
      return;
    }
    if (step.send.length > 0) this.#write(step.send);
    if (step.result !== undefined) this.#established(step.result);
  }

  protected onDecodeError(err: NproError): void {
    this.#failWith(err.code as WireErrorCode, err.message);
  }

  protected onFrameTimeout(): void {
    this.#failWith('FRAME_TIMEOUT', `a frame stayed incomplete for ${this.settings.config.server.frame_timeout} ms`);
  }

  protected onPeerEnd(): void {
    if (this.#conversation !== null) {
      this.#conversation.peerEnded();
      return;
    }
    this.countHandshake(false);
    this.#end = { code: null, reason: 'the peer closed during the handshake', error: null };
    this.finish();
  }

  protected onClosing(): void {
    this.#handshakeTimer?.cancel();
    this.#handshakeTimer = null;
    this.#ageTimer?.cancel();
    this.#ageTimer = null;
    this.#conversation?.closing();
  }

  protected onClosed(transportError: NproError | null): void {
    this.countHandshake(false);
    this.#conversation?.closed();
    if (transportError !== null && this.#end.error === null && this.#end.code === null) {
      this.#end = { code: transportError.code, reason: transportError.message, error: transportError };
    }
    this.settings.events.closed(this, this.#end);
    this.#resolveClosed();
  }

  protected onDrain(): void {
    this.#conversation?.drain();
  }

  protected override beforeInput(): void {
    this.#conversation?.beforeInput();
  }

  protected override afterInput(): void {
    this.#conversation?.afterInput();
  }

  // ── handshake ──────────────────────────────────────────────────────────────────────────────

  #newHandshake(): ServerHandshake {
    const s = this.settings;
    const plaintext = this.listener.plaintextRecords && this.connection.protected;
    const authorized = s.authorized;
    return new ServerHandshake({
      staticKey: s.staticKey,
      features: s.features | (plaintext ? FEATURES.PLAINTEXT_RECORDS : 0),
      maxFrame: s.config.transport.max_payload_size,
      maxStreams: s.config.server.max_streams,
      crypto: s.crypto,
      now: s.clock,
      ...(authorized.length > 0 ? { authorize: (key: Uint8Array) => isClientAuthorized(authorized, key) } : {}),
    });
  }

  #established(result: ServerHandshakeResult): void {
    this.handshakeDone({ sessionId: result.sessionId, peerKey: result.remoteStatic, peerKeyText: encodePublicKey(result.remoteStatic) });
    const conversation = new V2Conversation(this, result);
    this.#conversation = conversation;
    if (result.refusal !== undefined) {
      this.countHandshake(false);
      conversation.refuse(result.refusal.code, result.refusal.message);
      return;
    }
    this.countHandshake(true);
    this.settings.events.established(this);
    conversation.start();
  }

  #startV1(frame: DecodedFrame): void {
    if (!this.settings.allowV1) {
      // Never a REJECT to a v1 peer (protocol.md §3): it could not parse it.
      this.#handshakeFailed(new NproError('VERSION_UNSUPPORTED', 'protocol version 1 is not enabled (security.protocol)'), []);
      return;
    }
    const conversation = new V1Conversation(this);
    this.#conversation = conversation;
    conversation.begin();
    conversation.frame(frame);
  }

  #handshakeTimedOut(): void {
    this.#handshakeTimer = null;
    if (this.state !== 'open' || this.established) return;
    this.#failWith('HANDSHAKE_TIMEOUT', `the handshake did not complete within ${this.settings.config.server.connection_timeout} ms`);
  }

  /** An error found by the driver: to the conversation, else REJECT (v2) or a silent close (v1). */
  #failWith(code: WireErrorCode, message: string): void {
    if (this.#conversation !== null) {
      this.#conversation.fail(code, message);
      return;
    }
    this.#refuseHandshake(code, message);
  }

  #refuseHandshake(code: WireErrorCode, message: string): void {
    const error = new NproError(code, message);
    if (this.decoder.version === VERSION_V1) {
      this.#handshakeFailed(error, []);
      return;
    }
    const handshake = (this.#handshake ??= this.#newHandshake());
    const reject = handshake.reject(code, message);
    this.#handshakeFailed(error, reject === null ? [] : [reject]);
  }

  #handshakeFailed(error: NproError, frames: readonly Uint8Array[]): void {
    this.countHandshake(false);
    for (const f of frames) this.settings.stats.bytesOut += f.length;
    this.closeWith(frames, { code: error.code, reason: error.message, error });
  }

  #write(frames: readonly Uint8Array[]): void {
    if (frames.length === 0) return;
    let bytes = 0;
    for (const f of frames) bytes += f.length;
    this.settings.stats.bytesOut += bytes;
    this.connection.writev(frames);
  }
}
