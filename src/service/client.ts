/**
 * The client (behaviour.md §1): one logical connection to an endpoint that multiplexes requests,
 * reconnects, and delivers what the server pushes.
 *
 * ```ts
 * const client = await Client.connect('tcp://127.0.0.1:9000', { serverPublicKey });
 * const reply = await client.request('ECHO', 'hi', { timeoutMs: 1000 });
 * for await (const m of client) console.log(m);   // Echo, Custom, Failure{0} pushed by the server
 * await client.close();
 * ```
 *
 * - `connect` dials and handshakes within `client.connection_timeout`; when the server cannot be
 *   reached it tries again `client.max_reconnect_attempts` times (with `auto_reconnect`), waiting
 *   `reconnect_delay × 1.6^(n−1)` ±20 % (at most 30 s) before try n, then fails with the last error
 *   (`CONNECT_FAILED` for a server that is down). Errors no retry can fix (`SERVER_KEY_MISMATCH`,
 *   `HANDSHAKE_FAILED`, `STALE_TIMESTAMP`, `TLS_ERROR`, …) fail at once.
 * - `request` deadlines default to `client.response_timeout`: `DEADLINE_EXCEEDED` at the deadline,
 *   then `Cancel{id}`; the late reply is dropped. An `AbortSignal` gives `CANCELLED` the same way.
 * - A dropped connection fails its pending requests at once (`TRUNCATED`, `CONNECTION_CLOSED`, or the
 *   error that ended it) except those marked `idempotent`, which are sent again once reconnected;
 *   requests never sent wait for the new connection. After `GoAway`, requests the server will not
 *   process fail `CONNECTION_CLOSED` with `retryable: true` (idempotent ones are sent again) and new
 *   ones go to a new connection. A connection the server ended cleanly with nothing pending is
 *   replaced on the next call, not at once. Without `auto_reconnect`, the client closes when its
 *   connection ends.
 */
import { NproError } from '../core/errors.js';
import type { Message } from '../core/message.js';
import { encodedLength } from '../core/message-codec.js';
import { connect } from '../transport/index.js';
import { toBase64Url, utf8Encoder } from '../utils/bytes.js';
import type { Logger } from '../utils/logger.js';
import { resolveClientSettings, type ClientOptions, type ClientSettings } from './client-options.js';
import { ClientSession, type ClientSessionEnd, type ClientSessionHost } from './client-session.js';
import { DeadlineQueue } from './deadlines.js';
import { Inbox } from './inbox.js';
import { TypedEmitter } from './events.js';
import { PendingRequest } from './pending.js';
import { PERMANENT_ERRORS, backoffDelay, closedError, noConnection } from './reconnect.js';
import type { ClientStats } from './stats.js';

export type { ClientOptions, ClientTlsOptions } from './client-options.js';
export { MAX_BACKOFF_MS, backoffDelay } from './reconnect.js';

export interface RequestOptions {
  /** Deadline in ms (default `client.response_timeout`; `Infinity` for none). */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Safe to send again on a new connection if the connection drops before the response. */
  idempotent?: boolean;
}

export interface ClientEvents {
  /** A reconnect attempt is about to be made after `delayMs`. */
  reconnecting: { attempt: number; delayMs: number; error: NproError | null };
  reconnected: { sessionId: string; attempts: number };
  /** A connection ended (`code` null when the server ended it cleanly). */
  disconnected: { code: string | null; reason: string; error: NproError | null };
  /** The client is closed for good (`error` null after `close()`). */
  closed: { error: NproError | null };
}

export class Client extends TypedEmitter<ClientEvents> implements ClientSessionHost, AsyncIterable<Message> {
  readonly #s: ClientSettings;
  readonly #ownLogger: Logger | null;
  readonly #deadlines: DeadlineQueue<PendingRequest>;
  readonly #sessions = new Set<ClientSession>();
  #session: ClientSession | null = null;
  #waiting: PendingRequest[] = [];
  #waitingSends: Message[] = [];
  #connecting: Promise<void> | null = null;
  #wake: (() => void) | null = null;
  #state: 'open' | 'closing' | 'closed' = 'open';
  #closing: Promise<void> | null = null;
  #sessionId = '';
  #serverKey: Uint8Array | null = null;
  readonly #inbox: Inbox;
  readonly #stats: Omit<ClientStats, 'droppedMessages'> = { requests: 0, retries: 0, lateReplies: 0, reconnects: 0, bytes: { in: 0, out: 0 } };

  private constructor(settings: ClientSettings, ownLogger: Logger | null) {
    super();
    this.#s = settings;
    this.#ownLogger = ownLogger;
    this.#deadlines = new DeadlineQueue(settings.timers, (request) => this.#expired(request));
    this.#inbox = new Inbox(settings.maxBufferedMessages, (full) => {
      for (const s of this.#sessions) {
        if (full) s.pauseInput();
        else s.resumeInput();
      }
    });
  }

  /** Connects and completes the handshake (see the module comment for retries). */
  static async connect(endpoint?: string, options: ClientOptions = {}): Promise<Client> {
    const { settings, ownLogger } = await resolveClientSettings(endpoint, options);
    const client = new Client(settings, ownLogger);
    try {
      await client.#connectLoop(false, false, null);
    } catch (err) {
      client.#finalize(err as NproError, false);
      throw err;
    }
    return client;
  }

  /** The session id of the current (or last) connection: 64 hex characters. */
  get sessionId(): string {
    return this.#sessionId;
  }

  /** The server's static public key (base64url), as verified by the handshake. */
  get serverPublicKey(): string {
    return this.#serverKey === null ? '' : toBase64Url(this.#serverKey);
  }

  /** This client's static public key (base64url): what `security.authorized_clients` lists. */
  get publicKey(): string {
    return toBase64Url(this.#s.staticKey.publicKey);
  }

  /** True while a connection accepts requests. */
  get connected(): boolean {
    return this.#session?.acceptsRequests === true;
  }

  /** Whether the current connection's records are encrypted (false: plaintext records, protocol.md §8). */
  get encrypted(): boolean | undefined {
    const s = this.#session;
    return s === null ? undefined : !s.plaintextRecords;
  }

  stats(): ClientStats {
    return { ...this.#stats, droppedMessages: this.#inbox.dropped, bytes: { ...this.#stats.bytes } };
  }

  /**
   * Sends a request and resolves with the response payload. The payload is not copied: leave it
   * unchanged until the request settles.
   */
  request(command: string, payload: Uint8Array | string = new Uint8Array(0), options: RequestOptions = {}): Promise<Uint8Array> {
    if (this.#state !== 'open') return Promise.reject(closedError());
    if (typeof command !== 'string' || command === '') {
      return Promise.reject(new NproError('INVALID_ARGUMENT', 'a command is a non-empty string'));
    }
    const timeoutMs = options.timeoutMs ?? this.#s.config.client.response_timeout;
    if (!(timeoutMs > 0)) return Promise.reject(new NproError('INVALID_ARGUMENT', `timeoutMs must be positive, got ${timeoutMs}`));
    const signal = options.signal;
    if (signal?.aborted === true) return Promise.reject(new NproError('CANCELLED', 'the request was aborted', { cause: signal.reason }));
    const bytes = typeof payload === 'string' ? utf8Encoder.encode(payload) : payload;
    this.#stats.requests++;
    return new Promise<Uint8Array>((resolve, reject) => {
      const request = new PendingRequest(command, bytes, this.#s.timers.now() + timeoutMs, options.idempotent === true, resolve, reject, signal);
      if (signal !== undefined) {
        request.onAbort = () => this.#aborted(request);
        signal.addEventListener('abort', request.onAbort, { once: true });
      }
      this.#deadlines.add(request);
      this.#dispatch(request);
    });
  }

  /**
   * Sends a message that is not a request: `Echo`, `Custom`, `Ping` (answers come through async
   * iteration). Throws `FRAME_TOO_LARGE` / `MESSAGE_MALFORMED` for a message that cannot be sent,
   * writing nothing.
   */
  send(message: Message): void {
    if (this.#state !== 'open') throw closedError();
    const t = message.type;
    if (t !== 'Echo' && t !== 'Custom' && t !== 'Ping' && t !== 'Pong' && t !== 'Unknown') {
      throw new NproError('INVALID_ARGUMENT', `send() takes Echo, Custom, Ping, Pong or Unknown, not ${t} (use request() or close())`);
    }
    const session = this.#session;
    if (session !== null && session.acceptsRequests) {
      if (!fitsQuickly(message, session.peerMaxFrame)) session.checkMessage(message);
      session.sendMessage(message);
      return;
    }
    if (encodedLength(message) > this.#s.config.transport.max_payload_size - 21) {
      throw new NproError('FRAME_TOO_LARGE', `a ${t} of ${encodedLength(message)} bytes does not fit a record`);
    }
    if (!this.#s.config.client.auto_reconnect) throw noConnection();
    this.#waitingSends.push(message);
    this.#ensureConnection(true, null);
  }

  /** Round-trip time of a `Ping`, in ms (deadline: `timeoutMs`, default `client.response_timeout`). */
  async ping(options: { timeoutMs?: number } = {}): Promise<number> {
    const session = await this.#readySession();
    return session.ping(options.timeoutMs ?? this.#s.config.client.response_timeout);
  }

  /**
   * Messages the server pushes: `Echo`, `Custom`, `Failure{0}`, … (ends when the client closes).
   * Up to `maxBufferedMessages` wait here; beyond that, reading pauses until they are consumed.
   */
  [Symbol.asyncIterator](): AsyncIterator<Message> {
    return this.#inbox.iterator();
  }

  /** Sends `Disconnect` on every connection, fails what is pending with `CONNECTION_CLOSED`, closes. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    if (this.#state === 'closed') return;
    this.#state = 'closing';
    this.#wake?.();
    this.#failWaiting(closedError());
    const sessions = [...this.#sessions];
    for (const s of sessions) void s.close();
    await Promise.all(sessions.map((s) => s.closed));
    await this.#connecting;
    this.#finalize(null, true);
  }

  // ── connecting ─────────────────────────────────────────────────────────────────────────────

  /**
   * Opens a connection: attempt 0 at once (initial connect), then retries after backoff; for a
   * reconnect, attempts 1…n (the first without delay when `immediate`).
   */
  async #connectLoop(reconnect: boolean, immediate: boolean, cause: NproError | null): Promise<void> {
    const c = this.#s.config.client;
    const retries = c.auto_reconnect ? c.max_reconnect_attempts : 0;
    let last: NproError | null = cause;
    let tried = 0;
    for (let attempt = reconnect ? 1 : 0; attempt <= retries; attempt++) {
      const delayMs = attempt === 0 || (immediate && attempt === 1) ? 0 : backoffDelay(c.reconnect_delay, attempt);
      if (reconnect) this.emit('reconnecting', { attempt, delayMs, error: last });
      if (delayMs > 0) await this.#sleep(delayMs);
      if (this.#state !== 'open') throw closedError();
      tried++;
      try {
        const session = await this.#openSession();
        this.#adopt(session);
        if (reconnect) {
          this.#stats.reconnects++;
          this.emit('reconnected', { sessionId: session.sessionId, attempts: tried });
        }
        return;
      } catch (err) {
        last = NproError.is(err) ? err : new NproError('CONNECT_FAILED', String(err), { cause: err });
        this.#s.log.debug({ attempt, code: last.code, err: last.message }, 'connect attempt failed');
        if (PERMANENT_ERRORS.has(last.code) || this.#state !== 'open') break;
      }
    }
    const final = last ?? new NproError('CONNECT_FAILED', `cannot connect to ${this.#s.url}`);
    throw tried > 1
      ? new NproError(final.code, `${final.message} (after ${tried} attempts)`, { cause: final, retryable: final.retryable, details: { ...final.details, attempts: tried } })
      : final;
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = this.#s.timers.setTimeout(() => {
        this.#wake = null;
        resolve();
      }, ms);
      this.#wake = () => {
        timer.cancel();
        this.#wake = null;
        resolve();
      };
    });
  }

  async #openSession(): Promise<ClientSession> {
    const s = this.#s;
    const timeoutMs = s.config.client.connection_timeout;
    const start = s.timers.now();
    const connection = await connect(s.endpoint, { timeoutMs, ...(s.tls === undefined ? {} : { tls: s.tls }) });
    if (this.#state !== 'open') {
      connection.destroy();
      throw closedError();
    }
    const session = new ClientSession(connection, s, this, Math.max(1, timeoutMs - (s.timers.now() - start)));
    this.#sessions.add(session);
    void session.closed.then(() => this.#sessions.delete(session));
    await session.ready;
    return session;
  }

  #adopt(session: ClientSession): void {
    this.#session = session;
    if (this.#inbox.full) session.pauseInput();
    this.#sessionId = session.sessionId;
    this.#serverKey = session.serverKey;
    const waiting = this.#waiting;
    const sends = this.#waitingSends;
    this.#waiting = [];
    this.#waitingSends = [];
    for (const request of waiting) if (!request.settled) session.send(request);
    for (const m of sends) session.sendMessage(m);
  }

  /** Starts (re)connecting unless a connection is usable or being made (never without `auto_reconnect`). */
  #ensureConnection(immediate: boolean, cause: NproError | null): void {
    if (this.#state !== 'open' || this.#connecting !== null || this.#session?.acceptsRequests === true) return;
    if (!this.#s.config.client.auto_reconnect) return;
    this.#connecting = this.#connectLoop(true, immediate, cause).then(
      () => {
        this.#connecting = null;
      },
      (err: NproError) => {
        this.#connecting = null;
        this.#terminate(err);
      },
    );
  }

  async #readySession(): Promise<ClientSession> {
    if (this.#state !== 'open') throw closedError();
    if (this.#session?.acceptsRequests === true) return this.#session;
    if (!this.#s.config.client.auto_reconnect) throw noConnection();
    this.#ensureConnection(true, null);
    await this.#connecting;
    const session = this.#session as ClientSession | null;
    if (session === null || !session.acceptsRequests) throw closedError();
    return session;
  }

  #dispatch(request: PendingRequest): void {
    const session = this.#session;
    if (session !== null && session.acceptsRequests) {
      session.send(request);
      return;
    }
    if (!this.#s.config.client.auto_reconnect) {
      this.#settle(request, noConnection(), false);
      return;
    }
    this.#waiting.push(request);
    this.#ensureConnection(true, null);
  }

  // ── requests settling ──────────────────────────────────────────────────────────────────────

  settle(request: PendingRequest, result: Uint8Array | NproError): void {
    this.#settle(request, result, false);
  }

  #settle(request: PendingRequest, result: Uint8Array | NproError, expired: boolean): void {
    if (request.settled) return;
    request.settled = true;
    if (request.onAbort !== null) {
      request.signal!.removeEventListener('abort', request.onAbort);
      request.onAbort = null;
    }
    if (!expired) this.#deadlines.settled(request);
    if (result instanceof Uint8Array) request.resolve(result);
    else request.reject(result);
  }

  #expired(request: PendingRequest): void {
    this.#settle(request, new NproError('DEADLINE_EXCEEDED', `no response to ${request.command} before its deadline`), true);
    request.session?.cancel(request);
  }

  #aborted(request: PendingRequest): void {
    this.#settle(request, new NproError('CANCELLED', `${request.command} was aborted`, { cause: request.signal?.reason }), false);
    request.session?.cancel(request);
  }

  #failWaiting(error: NproError): void {
    const waiting = this.#waiting;
    this.#waiting = [];
    this.#waitingSends = [];
    for (const request of waiting) this.#settle(request, error, false);
  }

  // ── ClientSessionHost ──────────────────────────────────────────────────────────────────────

  deliver(message: Message): void {
    this.#inbox.deliver(message);
  }

  lateReply(): void {
    this.#stats.lateReplies++;
  }

  wrote(bytes: number): void {
    this.#stats.bytes.out += bytes;
  }

  read(bytes: number): void {
    this.#stats.bytes.in += bytes;
  }

  goAway(session: ClientSession, sent: PendingRequest[], unsent: PendingRequest[]): void {
    if (this.#session === session) this.#session = null;
    const retry = this.#s.config.client.auto_reconnect && this.#state === 'open';
    this.#handBack(
      sent,
      unsent,
      retry,
      (request) => new NproError('CONNECTION_CLOSED', `the server is going away (GoAway) and did not process ${request.command}`, { retryable: true }),
      () => new NproError('CONNECTION_CLOSED', 'the server is going away (GoAway)', { retryable: true }),
    );
    if (retry) this.#ensureConnection(true, null);
  }

  /**
   * Requests a session gave back: with `retry`, every unsent one and the sent idempotent ones wait for
   * the next connection; the others fail with `sentError` / `unsentError`.
   */
  #handBack(
    sent: PendingRequest[],
    unsent: PendingRequest[],
    retry: boolean,
    sentError: (request: PendingRequest) => NproError,
    unsentError: () => NproError,
  ): void {
    for (const request of sent) {
      request.session = null;
      request.id = 0;
      if (retry && request.idempotent) {
        this.#stats.retries++;
        this.#waiting.push(request);
      } else {
        this.#settle(request, sentError(request), false);
      }
    }
    for (const request of unsent) {
      request.session = null;
      if (retry) this.#waiting.push(request);
      else this.#settle(request, unsentError(), false);
    }
  }

  ended(session: ClientSession, end: ClientSessionEnd, sent: PendingRequest[], unsent: PendingRequest[]): void {
    if (this.#session === session) this.#session = null;
    const error = end.error;
    this.emit('disconnected', { code: end.clean ? null : error.code, reason: error.message, error: end.clean ? null : error });
    const open = this.#state === 'open';
    const retry = open && this.#s.config.client.auto_reconnect && !PERMANENT_ERRORS.has(error.code);
    this.#handBack(sent, unsent, retry, () => error, () => (open ? error : closedError()));
    if (!open) return;
    const current = this.#session;
    if (current !== null && current.acceptsRequests) {
      const waiting = this.#waiting;
      this.#waiting = [];
      for (const request of waiting) if (!request.settled) current.send(request);
      return;
    }
    if (this.#connecting !== null) return;
    if (!retry) {
      // Without reconnecting, the client ends with its last connection (one draining after GoAway may remain).
      let others = 0;
      for (const s of this.#sessions) if (s !== session && s.state === 'open' && s.phase !== 'handshake') others++;
      if (others === 0 || PERMANENT_ERRORS.has(error.code)) this.#terminate(error);
      return;
    }
    const pending = this.#waiting.length > 0 || this.#waitingSends.length > 0;
    if (end.clean && !pending) return;
    this.#ensureConnection(end.clean, error);
  }

  // ── ending ─────────────────────────────────────────────────────────────────────────────────

  /** The client cannot go on (reconnecting gave up, a permanent error, no auto_reconnect). */
  #terminate(error: NproError): void {
    if (this.#state !== 'open') return;
    // Closing first: the sessions closed below hand their requests back, to be failed, not retried.
    this.#state = 'closing';
    this.#wake?.();
    this.#s.log.debug({ code: error.code, err: error.message }, 'client closed');
    this.#failWaiting(error);
    for (const s of [...this.#sessions]) void s.close();
    this.#finalize(error, true);
  }

  #finalize(error: NproError | null, emit: boolean): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#wake?.();
    this.#deadlines.clear();
    this.#inbox.end();
    if (emit) this.emit('closed', { error });
    void this.#ownLogger?.close();
  }
}

/** A cheap upper bound of a message's size, to skip the exact check for ordinary messages. */
function fitsQuickly(m: Message, peerMaxFrame: number): boolean {
  const room = peerMaxFrame - 21;
  switch (m.type) {
    case 'Custom':
      return 20 + m.command.length * 3 + m.payload.length <= room;
    case 'Echo':
      return 12 + m.text.length * 3 <= room;
    default:
      return true;
  }
}
