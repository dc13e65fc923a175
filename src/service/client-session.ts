/**
 * One connection of a client (protocol.md §3–§5): HELLO → WELCOME (the server key checked against the
 * trust policy before AUTH) → AUTH, then records, the request multiplexer and heartbeats.
 *
 * - Requests get ids 1, 2, 3, … on this connection; at most the server's `max_streams` are in flight,
 *   the rest wait here in order. A cancelled request (deadline, signal) sends `Cancel{id}` and keeps
 *   its stream until the server's reply for it arrives, which is then dropped.
 * - The first inbound record: a failure to decrypt it (or, with plaintext records, a frame starting
 *   with `7F`) is the server refusing the session after AUTH: `HANDSHAKE_FAILED`. TOFU keys are
 *   stored only once it decrypts.
 * - Deadlines: the handshake (with the connect) within `client.connection_timeout`; a frame from its
 *   first byte to its last within `server.frame_timeout` of the same configuration (the client table
 *   has no such key).
 * - Endings reported to the client: the server's `Disconnect` (pending requests fail
 *   `CONNECTION_CLOSED`, or the code of a `Failure{0}` in the same record), a FIN or a close without
 *   it (`TRUNCATED`), a fatal error of either side, a write blocked for `client.operation_timeout`
 *   (`DEADLINE_EXCEEDED`).
 */
import { NproError, isErrorCode, type ErrorCode, type WireErrorCode } from '../core/errors.js';
import { FrameDecoder, type DecodedFrame } from '../core/frame-decoder.js';
import type { Message } from '../core/message.js';
import { ClientHandshake, type HandshakeResult } from '../protocol/handshake.js';
import { FEATURES, HANDSHAKE_KIND, decodeReject } from '../protocol/handshake-messages.js';
import { Heartbeat } from '../protocol/heartbeat.js';
import { RecordOpener, RecordSealer, type RecordItem } from '../protocol/record.js';
import { checkServerKey } from '../protocol/trust.js';
import type { Connection } from '../transport/index.js';
import type { TimerHandle } from '../utils/timers.js';
import type { ClientSettings } from './client-options.js';
import { RequestTable } from './client-requests.js';
import { Outbound, type OutboundHost } from './outbound.js';
import { PongQueue } from './pongs.js';
import type { PendingRequest } from './pending.js';
import { PAUSE, SessionCore } from './session-core.js';

const FINAL = { final: true } as const;
const DISCONNECT: Message = { type: 'Disconnect' };
/** Requests not yet written are abandoned with the connection: they never go out in its last record. */
const notRequest = (m: Message): boolean => m.type !== 'Request';

/** How a connection ended; `clean` for the server's plain `Disconnect` (no error). */
export interface ClientSessionEnd {
  error: NproError;
  clean: boolean;
}

/** What a session reports to its client. */
export interface ClientSessionHost {
  settle(request: PendingRequest, result: Uint8Array | NproError): void;
  deliver(message: Message): void;
  lateReply(): void;
  wrote(bytes: number): void;
  read(bytes: number): void;
  goAway(session: ClientSession, sent: PendingRequest[], unsent: PendingRequest[]): void;
  ended(session: ClientSession, end: ClientSessionEnd, sent: PendingRequest[], unsent: PendingRequest[]): void;
}

/** An error from a `Failure` received: its code as sent (an unknown string is passed through, protocol.md §9). */
export function failureError(code: string, message: string): NproError {
  return isErrorCode(code) ? new NproError(code, message) : new NproError(code as ErrorCode, message, { wireNumber: 0 });
}

export class ClientSession extends SessionCore implements OutboundHost {
  phase: 'handshake' | 'open' | 'draining' = 'handshake';
  sessionId = '';
  serverKey: Uint8Array | null = null;
  /** The negotiated features (protocol.md §3). */
  features = 0;
  peerMaxFrame = 0;
  /** Resolves when the handshake completed; rejects with its failure. */
  readonly ready: Promise<void>;
  readonly closed: Promise<void>;
  readonly #settings: ClientSettings;
  readonly #host: ClientSessionHost;
  readonly #handshake: ClientHandshake;
  #resolveReady!: () => void;
  #rejectReady!: (error: NproError) => void;
  #resolveClosed!: () => void;
  #handshakeTimer: TimerHandle | null = null;
  #remember: (() => Promise<void>) | null = null;
  #sealer: RecordSealer | null = null;
  #opener: RecordOpener | null = null;
  outbound: Outbound | null = null;
  #first = true;
  readonly #requests: RequestTable;
  readonly #pongs: PongQueue;
  #heartbeat: Heartbeat | null = null;
  #stallTimer: TimerHandle | null = null;
  #failure0: NproError | null = null;
  #reported = false;

  constructor(connection: Connection, settings: ClientSettings, host: ClientSessionHost, handshakeTimeoutMs: number) {
    const config = settings.config;
    super(connection, new FrameDecoder({ maxPayload: config.transport.max_payload_size }), {
      timers: settings.timers,
      frameTimeoutMs: config.server.frame_timeout,
      countIn: (n) => host.read(n),
    });
    this.#settings = settings;
    this.#host = host;
    this.#pongs = new PongQueue(settings.timers);
    this.#requests = new RequestTable({
      transmit: (request) => this.outbound!.push(request),
      check: (request) => this.#check(request),
      settle: (request, result) => host.settle(request, result),
    });
    this.ready = new Promise((resolve, reject) => {
      this.#resolveReady = resolve;
      this.#rejectReady = reject;
    });
    this.ready.catch(() => undefined);
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    const plaintext = settings.plaintextRecords && connection.protected;
    this.#handshake = new ClientHandshake({
      staticKey: settings.staticKey,
      features: settings.features | (plaintext ? FEATURES.PLAINTEXT_RECORDS : 0),
      maxFrame: config.transport.max_payload_size,
      crypto: settings.crypto,
      now: settings.clock,
      checkServerKey: (key) => {
        const decision = checkServerKey(settings.policy, key);
        if (!decision.ok) return decision.error;
        this.#remember = decision.pendingRemember ?? null;
        return null;
      },
    });
    this.#handshakeTimer = this.timers.setTimeout(() => {
      this.#handshakeTimer = null;
      this.#handshakeFailed(new NproError('HANDSHAKE_TIMEOUT', `the handshake did not complete within ${config.client.connection_timeout} ms`, { retryable: true }));
    }, handshakeTimeoutMs);
    this.attach();
    const hello = this.#handshake.start();
    host.wrote(hello.length);
    connection.write(hello);
  }

  /** True while new requests may be sent here (not after `GoAway` or the end). */
  get acceptsRequests(): boolean {
    return this.phase === 'open' && this.state === 'open';
  }

  /** True when records travel without encryption (feature bit 2 negotiated). */
  get plaintextRecords(): boolean {
    return (this.features & FEATURES.PLAINTEXT_RECORDS) !== 0;
  }

  /** Requests sent and not answered, and waiting here for a stream. */
  get load(): number {
    return this.#requests.size;
  }

  // ── requests ───────────────────────────────────────────────────────────────────────────────

  /** Sends `request`, or queues it here above the server's `max_streams`. */
  send(request: PendingRequest): void {
    request.session = this;
    this.#requests.add(request);
  }

  /** `FRAME_TOO_LARGE` (or another encoding error) for a request this server cannot take, else null. */
  #check(request: PendingRequest): NproError | null {
    const sealer = this.#sealer!;
    if (28 + request.command.length * 3 + request.payload.length <= sealer.maxMessageLength) return null;
    try {
      sealer.checkMessage(request);
      return null;
    } catch (err) {
      return err as NproError;
    }
  }

  /** Gives up on `request` (deadline or signal): `Cancel{id}` if it was sent; its stream stays in use until answered. */
  cancel(request: PendingRequest): void {
    if (this.#requests.cancel(request) && this.state === 'open') this.outbound!.push({ type: 'Cancel', id: request.id });
  }

  /** Sends a message that is not a request (Echo, Custom, Ping …). Check its size first with `checkMessage`. */
  sendMessage(m: Message): void {
    if (m.type === 'Ping' || (m.type === 'Custom' && m.command === 'PING')) this.#pongs.pushed();
    this.outbound!.push(m);
  }

  /** `FRAME_TOO_LARGE` or `MESSAGE_MALFORMED` when `m` cannot be sent to this server. */
  checkMessage(m: Message): void {
    this.#sealer!.checkMessage(m);
  }

  /** Round-trip time of a `Ping`, in ms. */
  ping(timeoutMs: number): Promise<number> {
    const rtt = this.#pongs.wait(timeoutMs);
    this.outbound!.push({ type: 'Ping' });
    return rtt;
  }

  /** Stops reading (the client's inbox is full) until `resumeInput()`. */
  pauseInput(): void {
    this.pause(PAUSE.BACKPRESSURE);
  }

  resumeInput(): void {
    this.resume(PAUSE.BACKPRESSURE);
  }

  /** Sends `Disconnect` and closes; what is pending is abandoned (reported to the client first). */
  close(): Promise<void> {
    if (this.state === 'open') {
      if (this.phase === 'handshake') {
        this.#handshakeFailed(new NproError('CONNECTION_CLOSED', 'the client closed the connection'));
      } else {
        this.finish(this.outbound!.close([DISCONNECT], notRequest));
        this.#report(new NproError('CONNECTION_CLOSED', 'the client closed the connection'), true);
      }
    }
    return this.closed;
  }

  // ── input ──────────────────────────────────────────────────────────────────────────────────

  protected onFrame(frame: DecodedFrame): void {
    if (this.phase === 'handshake') this.#handshakeFrame(frame);
    else this.#record(frame);
  }

  #handshakeFrame(frame: DecodedFrame): void {
    const step = this.#handshake.receive(frame);
    if (step.error !== undefined) {
      this.#handshakeFailed(step.error, step.send);
      return;
    }
    if (step.result === undefined) return;
    for (const f of step.send) this.#host.wrote(f.length);
    this.connection.writev(step.send);
    this.#established(step.result);
  }

  #established(result: HandshakeResult): void {
    this.#handshakeTimer?.cancel();
    this.#handshakeTimer = null;
    this.decoder.setHandshakeComplete();
    const s = this.#settings;
    this.sessionId = result.sessionId;
    this.serverKey = result.remoteStatic;
    this.features = result.features;
    this.peerMaxFrame = result.peerMaxFrame;
    this.#requests.maxStreams = result.maxStreams;
    const rekey = { ...(s.rekeyInterval === undefined ? {} : { rekeyInterval: s.rekeyInterval }), ...(s.recordCounter === undefined ? {} : { counter: s.recordCounter }) };
    const sealer = new RecordSealer({
      key: result.c2sKey, negotiatedFeatures: result.features, peerMaxFrame: result.peerMaxFrame, crypto: s.crypto, compression: s.compression, ...rekey,
    });
    this.#sealer = sealer;
    this.#opener = new RecordOpener({ key: result.s2cKey, negotiatedFeatures: result.features, localMaxFrame: result.localMaxFrame, crypto: s.crypto, ...rekey });
    this.outbound = new Outbound(this.connection, { seal: (m, final) => sealer.sealChunks(m, final ? FINAL : undefined) }, this, s.schedule);
    this.#heartbeat = new Heartbeat({
      intervalMs: s.config.client.heartbeat_interval,
      timeoutMs: s.heartbeatTimeoutMs,
      timers: this.timers,
      sendPing: () => {
        this.#pongs.heartbeat();
        this.outbound!.push({ type: 'Ping' });
      },
      onTimeout: () => this.#fail('HEARTBEAT_TIMEOUT', `nothing received for ${s.heartbeatTimeoutMs} ms after a Ping`),
    });
    this.phase = 'open';
    this.#heartbeat.start();
    this.#resolveReady();
  }

  #record(frame: DecodedFrame): void {
    const payload = frame.payload;
    let items: RecordItem[];
    if (this.#first && this.plaintextRecords && payload[0] === HANDSHAKE_KIND.REJECT) {
      this.#terminate(new NproError('HANDSHAKE_FAILED', `the server refused the session after AUTH: ${decodeReject(payload).error.message}`));
      return;
    }
    try {
      items = this.#opener!.open(frame.header, payload);
    } catch (err) {
      const e = NproError.is(err) ? err : new NproError('PROTOCOL_ERROR', 'record rejected', { cause: err });
      if (e.code !== 'RECORD_AUTH_FAILED') this.#fail(e.code as WireErrorCode, e.message);
      else if (this.#first) this.#terminate(new NproError('HANDSHAKE_FAILED', 'the first record from the server failed to decrypt: the server refused the session (REJECT after AUTH)', { cause: e }));
      else this.#terminate(e);
      return;
    }
    if (this.#first) {
      this.#first = false;
      const remember = this.#remember;
      this.#remember = null;
      remember?.().catch((err: unknown) => this.#settings.log.warn({ err }, 'could not record the server key in known_hosts'));
    }
    this.#heartbeat!.traffic();
    this.#failure0 = null;
    for (let i = 0; i < items.length && this.state === 'open'; i++) {
      const item = items[i]!;
      if ('error' in item) this.outbound!.push({ type: 'Failure', id: 0, code: 'MESSAGE_MALFORMED', message: item.error.message });
      else this.#onMessage(item.message);
    }
  }

  #onMessage(m: Message): void {
    switch (m.type) {
      case 'Response':
        this.#answer(m.id, m.payload);
        return;
      case 'Failure':
        if (m.id !== 0) {
          this.#answer(m.id, failureError(m.code, m.message));
          return;
        }
        this.#failure0 = failureError(m.code, m.message);
        this.#host.deliver(m);
        return;
      case 'Ping':
        this.outbound!.push({ type: 'Pong' });
        return;
      case 'Pong':
        if (this.#pongs.pong()) this.#host.deliver(m);
        return;
      case 'Request':
        this.outbound!.push({ type: 'Failure', id: m.id, code: 'UNKNOWN_OPCODE', message: 'a client serves no requests' });
        return;
      case 'GoAway':
        this.#goAway(m.lastId);
        return;
      case 'Disconnect':
        this.#disconnected();
        return;
      case 'Cancel':
        return;
      default:
        this.#host.deliver(m);
    }
  }

  #answer(id: number, result: Uint8Array | NproError): void {
    if (!this.#requests.answer(id, result)) this.#host.lateReply();
  }

  #goAway(lastId: number): void {
    if (this.phase !== 'open') return;
    this.phase = 'draining';
    const { sent, unsent } = this.#requests.goAway(lastId);
    // Requests above last_id still waiting to be written go to the next connection, with new ids.
    this.outbound!.drop((m) => m.type === 'Request' && m.id > lastId);
    this.#host.goAway(this, sent, unsent);
  }

  // ── endings ────────────────────────────────────────────────────────────────────────────────

  /** The server's `Disconnect`: fail with the code of a `Failure{0}` in the same record, else `CONNECTION_CLOSED`. */
  #disconnected(): void {
    const f0 = this.#failure0;
    const error = f0 ?? new NproError('CONNECTION_CLOSED', 'the server disconnected', { retryable: true });
    this.finish(this.outbound!.close([DISCONNECT], notRequest));
    this.#report(error, f0 === null);
  }

  /** A fatal error found here: `Failure{0, code}` + `Disconnect` (protocol.md §5). */
  #fail(code: WireErrorCode, message: string): void {
    this.finish(this.outbound!.close([{ type: 'Failure', id: 0, code, message }, DISCONNECT], notRequest));
    this.#report(new NproError(code, message), false);
  }

  /** Ends without sending anything (`RECORD_AUTH_FAILED`, a refusal after AUTH). */
  #terminate(error: NproError): void {
    this.outbound!.discard();
    this.finish();
    this.#report(error, false);
  }

  #handshakeFailed(error: NproError, frames: readonly Uint8Array[] = []): void {
    if (this.phase !== 'handshake' || this.#reported) return;
    this.#reported = true;
    this.#rejectReady(error);
    for (const f of frames) this.#host.wrote(f.length);
    this.finish(frames);
  }

  /** Hands every unsettled request back to the client, once. */
  #report(error: NproError, clean: boolean): void {
    if (this.#reported) return;
    this.#reported = true;
    if (this.phase === 'open') this.phase = 'draining';
    const { sent, unsent } = this.#requests.takeAll();
    this.#pongs.fail(error);
    this.#host.ended(this, { error, clean }, sent, unsent);
  }

  protected onDecodeError(err: NproError): void {
    if (this.phase === 'handshake') this.#handshakeFailed(err);
    else this.#fail(err.code as WireErrorCode, err.message);
  }

  protected onFrameTimeout(): void {
    const message = `a frame from the server stayed incomplete for ${this.#settings.config.server.frame_timeout} ms`;
    if (this.phase === 'handshake') this.#handshakeFailed(new NproError('FRAME_TIMEOUT', message));
    else this.#fail('FRAME_TIMEOUT', message);
  }

  protected onPeerEnd(): void {
    if (this.phase === 'handshake') {
      this.#handshakeFailed(new NproError('CONNECTION_CLOSED', 'the server closed the connection during the handshake', { retryable: true }));
      return;
    }
    this.finish(this.outbound!.close([DISCONNECT], notRequest));
    this.#report(new NproError('TRUNCATED', 'the server closed the connection without Disconnect'), false);
  }

  protected onClosing(): void {
    this.#handshakeTimer?.cancel();
    this.#handshakeTimer = null;
    this.#heartbeat?.stop();
    this.#stallTimer?.cancel();
    this.#stallTimer = null;
  }

  protected onClosed(transportError: NproError | null): void {
    const cause = transportError ?? undefined;
    this.outbound?.discard();
    if (this.phase === 'handshake') {
      this.#handshakeFailed(transportError ?? new NproError('CONNECTION_CLOSED', 'the connection closed during the handshake', { retryable: true }));
    } else {
      this.#report(new NproError('TRUNCATED', 'the connection closed without Disconnect', { cause }), false);
    }
    this.#resolveClosed();
  }

  protected onDrain(): void {
    this.#stallTimer?.cancel();
    this.#stallTimer = null;
    this.outbound?.drained();
  }

  protected override beforeInput(): void {
    this.outbound?.cork();
  }

  protected override afterInput(): void {
    this.outbound?.uncork();
  }

  // ── OutboundHost ───────────────────────────────────────────────────────────────────────────

  replaceUnsendable(message: Message, error: NproError): Message | null {
    const e = new NproError(error.code, error.message, { cause: error });
    if (message.type === 'Request') {
      this.#requests.unsendable(message.id, e);
    } else {
      this.#settings.log.warn({ type: message.type, code: error.code }, `message not sent: ${error.message}`);
    }
    return null;
  }

  /**
   * `client.operation_timeout` bounds one write: a write still blocked that long means the server
   * stopped reading; the connection is dropped and its requests fail `DEADLINE_EXCEEDED`.
   */
  writeBlocked(): void {
    if (this.#stallTimer !== null) return;
    const ms = this.#settings.config.client.operation_timeout;
    this.#stallTimer = this.timers.setTimeout(() => {
      this.#stallTimer = null;
      if (this.state !== 'open' || !this.outbound!.blocked) return;
      this.outbound!.discard();
      this.destroyNow();
      this.#report(new NproError('DEADLINE_EXCEEDED', `a write stayed blocked for client.operation_timeout (${ms} ms): the server is not reading`), false);
    }, ms);
  }

  sealFailed(error: NproError): void {
    this.#fail(error.code as WireErrorCode, error.message);
  }

  wrote(bytes: number): void {
    this.#host.wrote(bytes);
  }
}
