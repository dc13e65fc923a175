/**
 * The v2 conversation of a daemon's session, after AUTH (protocol.md §4, §5): records in, routing,
 * handlers, replies out.
 *
 * - Requests: id 0 or not increasing → `Failure{0, "PROTOCOL_ERROR"}` (not counted as seen); after
 *   `GoAway`, ids above `last_id` are dropped; above `max_streams` in flight →
 *   `Failure{id, "TOO_MANY_STREAMS"}`; then the handler. `Response`s leave as handlers complete.
 * - `Cancel{id}` aborts the handler and answers `Failure{id, "CANCELLED"}` unless already answered.
 * - Replies to `Ping`, `Echo`, `Custom`, `Unknown` leave in arrival order (`OrderedReplies`).
 * - Backpressure: more than `backpressure_limit` inbound messages held (handlers running, replies
 *   waiting for their turn) pauses input; a blocked write pauses it too.
 * - Endings: `Disconnect`, FIN, fatal errors (`Failure{0, code}` + `Disconnect`), idle, GoAway drain.
 *
 * Hot path of a synchronous handler: one context object and the reply; no promise, closure or timer.
 */
import { NproError, type WireErrorCode } from '../core/errors.js';
import type { Message } from '../core/message.js';
import { invokeHandler, routeServerMessage, type Handler, type HandlerOutcome } from '../protocol/dispatcher.js';
import type { HandshakeRefusal, ServerHandshakeResult } from '../protocol/handshake.js';
import { Heartbeat, IdleTimer } from '../protocol/heartbeat.js';
import { RecordOpener, RecordSealer, type RecordItem } from '../protocol/record.js';
import type { TimerHandle } from '../utils/timers.js';
import { RequestContext } from './handler-context.js';
import { OrderedReplies, ReplySlot } from './ordered-replies.js';
import { Outbound, type OutboundHost } from './outbound.js';
import type { Conversation, ServerSession } from './server-session.js';
import { PAUSE } from './session-core.js';

const FINAL = { final: true } as const;
const DISCONNECT: Message = { type: 'Disconnect' };

export function failure(id: number, code: string, message: string): Message {
  return { type: 'Failure', id, code, message };
}

/** A request whose handler is asynchronous and has not settled. */
class InFlight {
  done = false;
  constructor(
    readonly id: number,
    readonly context: RequestContext,
    readonly start: number,
  ) {}
}

export class V2Conversation implements Conversation, OutboundHost {
  readonly established = true;
  readonly #host: ServerSession;
  readonly #opener: RecordOpener;
  readonly outbound: Outbound;
  readonly #ordered: OrderedReplies;
  readonly #inflight = new Map<number, InFlight>();
  readonly #heartbeat: Heartbeat;
  readonly #idle: IdleTimer;
  readonly #maxStreams: number;
  readonly #backpressureLimit: number;
  #lastId = 0;
  #goAwayLastId = -1;
  #drainTimer: TimerHandle | null = null;
  #recordTime = -1;
  /** Asynchronous handlers running (requests and Custom): while any runs, the idle timer waits. */
  #busy = 0;

  constructor(host: ServerSession, result: ServerHandshakeResult) {
    this.#host = host;
    const s = host.settings;
    const rekey = { ...(s.rekeyInterval === undefined ? {} : { rekeyInterval: s.rekeyInterval }), ...(s.recordCounter === undefined ? {} : { counter: s.recordCounter }) };
    this.#opener = new RecordOpener({ key: result.c2sKey, negotiatedFeatures: result.features, localMaxFrame: result.localMaxFrame, crypto: s.crypto, ...rekey });
    const sealer = new RecordSealer({
      key: result.s2cKey, negotiatedFeatures: result.features, peerMaxFrame: result.peerMaxFrame, crypto: s.crypto, compression: s.compression, ...rekey,
    });
    this.outbound = new Outbound(host.connection, { seal: (m, final) => sealer.sealChunks(m, final ? FINAL : undefined) }, this, s.schedule);
    this.#ordered = new OrderedReplies((m) => this.outbound.push(m));
    const { server } = s.config;
    this.#maxStreams = server.max_streams;
    this.#backpressureLimit = server.backpressure_limit;
    this.#heartbeat = new Heartbeat({
      intervalMs: server.heartbeat_interval,
      timeoutMs: server.heartbeat_timeout,
      timers: s.timers,
      sendPing: () => this.outbound.push({ type: 'Ping' }),
      onTimeout: () => this.fail('HEARTBEAT_TIMEOUT', `nothing received for ${server.heartbeat_timeout} ms after a Ping`),
    });
    this.#idle = new IdleTimer({ idleMs: server.idle_timeout, timers: s.timers, onIdle: () => this.#end('idle_timeout reached') });
  }

  start(): void {
    this.#heartbeat.start();
    this.#idle.start();
  }

  /** The refusal record of protocol.md §3: `Failure{0, code, message}` + `Disconnect`; no handler runs. */
  refuse(code: HandshakeRefusal['code'], message: string): void {
    const error = new NproError(code, message);
    this.#host.closeWith(this.outbound.close([failure(0, code, message), DISCONNECT]), { code, reason: message, error });
  }

  // ── input ──────────────────────────────────────────────────────────────────────────────────

  frame(frame: { header: Uint8Array; payload: Uint8Array }): void {
    let items: RecordItem[];
    try {
      items = this.#opener.open(frame.header, frame.payload);
    } catch (err) {
      this.#recordFailed(err);
      return;
    }
    this.#heartbeat.traffic();
    this.#recordTime = -1;
    const host = this.#host;
    host.settings.stats.messages += items.length;
    let application = false;
    for (let i = 0; i < items.length; i++) {
      if (host.state !== 'open') return;
      const item = items[i]!;
      if ('error' in item) {
        application = true;
        host.settings.stats.error('MESSAGE_MALFORMED');
        this.#ordered.push(failure(0, 'MESSAGE_MALFORMED', item.error.message));
        continue;
      }
      const m = item.message;
      if (m.type !== 'Ping' && m.type !== 'Pong') application = true;
      this.#onMessage(m);
    }
    if (application) this.#idle.activity();
    if (this.#inflight.size + this.#ordered.size > this.#backpressureLimit) host.pauseInput(PAUSE.BACKPRESSURE);
  }

  #recordFailed(err: unknown): void {
    const e = NproError.is(err) ? err : new NproError('PROTOCOL_ERROR', 'record rejected', { cause: err });
    if (e.code === 'RECORD_AUTH_FAILED') {
      // protocol.md §4: close at once, send nothing, dispatch nothing.
      this.#abortAll(e);
      this.outbound.discard();
      this.#host.closeWith([], { code: e.code, reason: e.message, error: e });
      return;
    }
    this.fail(e.code as WireErrorCode, e.message);
  }

  #onMessage(m: Message): void {
    switch (m.type) {
      case 'Request':
        this.#onRequest(m.id, m);
        return;
      case 'Cancel':
        this.#onCancel(m.id);
        return;
      case 'Disconnect':
        this.#abortAll(new NproError('CONNECTION_CLOSED', 'the client disconnected'));
        this.#end('the client disconnected');
        return;
      case 'Pong':
      case 'Response':
      case 'Failure':
      case 'GoAway':
        return;
      default: {
        const route = routeServerMessage(m, this.#host.settings.dispatcher);
        if (route.kind === 'reply') this.#ordered.push(route.message);
        else if (route.kind === 'custom') this.#runCustom(route.command, route.payload, route.handler);
      }
    }
  }

  #onRequest(id: number, m: Message & { type: 'Request' }): void {
    const stats = this.#host.settings.stats;
    if (id === 0 || id <= this.#lastId) {
      stats.error('PROTOCOL_ERROR');
      this.outbound.push(failure(0, 'PROTOCOL_ERROR', `request id ${id} is not greater than every earlier id (${this.#lastId})`));
      return;
    }
    this.#lastId = id;
    stats.requests++;
    if (this.#goAwayLastId >= 0 && id > this.#goAwayLastId) return;
    if (this.#inflight.size >= this.#maxStreams) {
      stats.error('TOO_MANY_STREAMS');
      this.outbound.push(failure(id, 'TOO_MANY_STREAMS', `more than max_streams (${this.#maxStreams}) requests in flight`));
      return;
    }
    const route = routeServerMessage(m, this.#host.settings.dispatcher);
    const handler = route.kind === 'request' ? route.handler : undefined;
    if (handler === undefined) {
      stats.error('UNKNOWN_OPCODE');
      this.outbound.push(failure(id, 'UNKNOWN_OPCODE', `no handler for ${m.command}`));
      return;
    }
    const context = new RequestContext(this.#host, m.command, id);
    const outcome = invokeHandler(handler, m.payload, context);
    if (!(outcome instanceof Promise)) {
      stats.latency.record(0);
      this.#reply(id, outcome, context);
      return;
    }
    if (this.#recordTime < 0) this.#recordTime = this.#host.timers.now();
    const entry = new InFlight(id, context, this.#recordTime);
    this.#handlerStarted();
    this.#inflight.set(id, entry);
    void outcome.then((o) => this.#guard(() => this.#requestDone(entry, o)));
  }

  /** Runs a completion; should it throw (a bug), the session fails instead of the process. */
  #guard(run: () => void): void {
    try {
      run();
    } catch (err) {
      this.#host.log.error({ err }, 'internal error while completing a handler');
      this.fail('PROTOCOL_ERROR', 'internal error');
    }
  }

  #requestDone(entry: InFlight, outcome: HandlerOutcome): void {
    if (entry.done) return;
    entry.done = true;
    this.#inflight.delete(entry.id);
    this.#handlerSettled();
    this.#host.settings.stats.latency.record(this.#host.timers.now() - entry.start);
    this.#reply(entry.id, outcome, entry.context);
    this.#settled();
  }

  #reply(id: number, outcome: HandlerOutcome, context: RequestContext): void {
    if (outcome.ok) {
      this.outbound.push({ type: 'Response', id, payload: outcome.payload });
      return;
    }
    this.#handlerFailed(outcome, context);
    this.outbound.push(failure(id, outcome.code, outcome.message));
  }

  #handlerFailed(outcome: HandlerOutcome & { ok: false }, context: RequestContext): void {
    this.#host.settings.stats.error(outcome.code);
    if (!NproError.is(outcome.error)) context.log.warn({ err: outcome.error, command: context.command }, 'handler failed');
  }

  #onCancel(id: number): void {
    const entry = this.#inflight.get(id);
    if (entry === undefined) return;
    entry.done = true;
    entry.context.abort(new NproError('CANCELLED', `request ${id} was cancelled by the client`));
    this.#inflight.delete(id);
    this.#handlerSettled();
    this.#host.settings.stats.error('CANCELLED');
    this.outbound.push(failure(id, 'CANCELLED', 'cancelled by the client'));
    this.#settled();
  }

  #runCustom(command: string, payload: Uint8Array, handler: Handler): void {
    const context = new RequestContext(this.#host, command, undefined);
    const outcome = invokeHandler(handler, payload, context);
    if (!(outcome instanceof Promise)) {
      this.#ordered.push(this.#customReply(command, outcome, context));
      return;
    }
    const slot = new ReplySlot(context);
    this.#ordered.reserve(slot);
    this.#handlerStarted();
    void outcome.then((o) =>
      this.#guard(() => {
        this.#handlerSettled();
        this.#ordered.fill(slot, this.#customReply(command, o, context));
        this.#settled();
      }),
    );
  }

  #handlerStarted(): void {
    if (this.#busy++ === 0) this.#idle.requestStarted();
  }

  #handlerSettled(): void {
    if (--this.#busy === 0) this.#idle.requestSettled();
  }

  #customReply(command: string, outcome: HandlerOutcome, context: RequestContext): Message {
    if (outcome.ok) return { type: 'Custom', command, payload: outcome.payload };
    this.#handlerFailed(outcome, context);
    return failure(0, outcome.code, outcome.message);
  }

  /** A handler settled or was cancelled: resume input below the limit, finish a drain. */
  #settled(): void {
    const host = this.#host;
    if (host.state !== 'open') return;
    const held = this.#inflight.size + this.#ordered.size;
    if (held <= this.#backpressureLimit && host.inputPaused(PAUSE.BACKPRESSURE)) host.resumeInput(PAUSE.BACKPRESSURE);
    if (this.#goAwayLastId >= 0 && held === 0) this.#end('drained after GoAway');
  }

  // ── endings ────────────────────────────────────────────────────────────────────────────────

  /** A fatal error (protocol.md §5): `Failure{0, code, message}` + `Disconnect` as the last record. */
  fail(code: WireErrorCode, message: string): void {
    const error = new NproError(code, message);
    this.#abortAll(error);
    this.#host.closeWith(this.outbound.close([failure(0, code, message), DISCONNECT]), { code, reason: message, error });
  }

  /** An ordinary ending: `Disconnect` (after what is queued), then close. */
  #end(reason: string): void {
    this.#host.closeWith(this.outbound.close([DISCONNECT]), { code: null, reason, error: null });
  }

  peerEnded(): void {
    // A FIN without Disconnect: the peer may still read our Disconnect (protocol.md §8).
    const error = new NproError('TRUNCATED', 'the client closed its side without Disconnect');
    this.#abortAll(error);
    this.#host.settings.stats.error('TRUNCATED');
    this.#host.closeWith(this.outbound.close([DISCONNECT]), { code: 'TRUNCATED', reason: error.message, error: null });
  }

  goAway(reason: string, timeoutMs: number): void {
    if (this.#goAwayLastId >= 0) return;
    this.#goAwayLastId = this.#lastId;
    const host = this.#host;
    host.drainDeadline = host.settings.clock() + timeoutMs;
    this.outbound.push({ type: 'GoAway', lastId: this.#lastId, reason });
    this.#drainTimer = host.timers.setTimeout(() => {
      this.#drainTimer = null;
      this.forceClose();
    }, timeoutMs);
    if (this.#inflight.size + this.#ordered.size === 0) this.#end(`GoAway: ${reason}`);
  }

  /** The drain deadline passed: abort what still runs, answer it `DEADLINE_EXCEEDED`, disconnect. */
  forceClose(): void {
    const error = new NproError('DEADLINE_EXCEEDED', 'the daemon stopped waiting for the handler (drain deadline)');
    for (const entry of this.#inflight.values()) {
      entry.done = true;
      entry.context.abort(error);
      this.outbound.push(failure(entry.id, error.code, error.message));
    }
    this.#inflight.clear();
    for (const slot of this.#ordered.pendingSlots()) {
      slot.context.abort(error);
      this.#ordered.fill(slot, failure(0, error.code, error.message));
    }
    this.#end('drain deadline reached');
  }

  /** Aborts every running handler with `reason` (their late results are dropped). */
  #abortAll(reason: NproError): void {
    for (const entry of this.#inflight.values()) {
      entry.done = true;
      entry.context.abort(reason);
    }
    this.#inflight.clear();
    for (const slot of this.#ordered.pendingSlots()) slot.context.abort(reason);
    this.#ordered.clear();
  }

  drain(): void {
    this.outbound.drained();
    if (!this.outbound.blocked) this.#host.resumeInput(PAUSE.WRITE);
  }

  closing(): void {
    this.#heartbeat.stop();
    this.#idle.stop();
    this.#drainTimer?.cancel();
    this.#drainTimer = null;
  }

  closed(): void {
    this.#abortAll(new NproError('CONNECTION_CLOSED', 'the connection closed'));
    this.outbound.discard();
  }

  beforeInput(): void {
    this.outbound.cork();
  }

  afterInput(): void {
    this.outbound.uncork();
  }

  // ── OutboundHost ───────────────────────────────────────────────────────────────────────────

  replaceUnsendable(message: Message, error: NproError): Message | null {
    const code = error.code === 'FRAME_TOO_LARGE' ? 'FRAME_TOO_LARGE' : 'MESSAGE_MALFORMED';
    this.#host.settings.stats.error(code);
    const text = code === 'FRAME_TOO_LARGE' ? 'the reply does not fit the client\'s max_frame' : 'the reply could not be encoded';
    switch (message.type) {
      case 'Response':
        return failure(message.id, code, text);
      case 'Failure':
        return message.code === code && message.message === text ? null : failure(message.id, code, text);
      case 'Custom':
      case 'Echo':
        return failure(0, code, text);
      default:
        return null;
    }
  }

  writeBlocked(): void {
    this.#host.pauseInput(PAUSE.WRITE);
  }

  sealFailed(error: NproError): void {
    this.fail(error.code as WireErrorCode, error.message);
  }

  wrote(bytes: number): void {
    this.#host.settings.stats.bytesOut += bytes;
  }
}
