/**
 * A v1 session of a daemon (protocol.md §7): compatibility with the Rust crate `network-protocol`
 * 1.0.1–1.2.x, served only when `security.protocol` is `v1` or `v1+v2`. v1 authenticates nobody.
 *
 * - Handshake: `SecureHandshakeInit` → `SecureHandshakeResponse` → `SecureHandshakeConfirm`, within
 *   the handshake deadline. Over TLS there is no v1 handshake: plaintext v1 frames carry messages.
 * - Routing: `Ping` → `Pong`; `Echo` → `Echo`; `Custom` routed as in §5 (`PING`, `ECHO` built in, then
 *   handlers); `Disconnect` closes; anything else gets no reply. Replies leave in arrival order.
 * - Errors are never reported to a v1 peer (it cannot parse REJECT or `Failure`): the connection is
 *   closed — a handler that throws included.
 * - Heartbeats: a v1 peer never answers `Ping` (crate clients do not), so no `Ping` is sent and no
 *   heartbeat deadline applies; `idle_timeout` (any frame counts) closes a silent connection.
 * - Identity: v1 has none. Handlers see the peer's ephemeral key (empty over TLS) and a random
 *   session id.
 */
import { NproError, type WireErrorCode } from '../core/errors.js';
import type { DecodedFrame } from '../core/frame-decoder.js';
import type { Message } from '../core/message.js';
import { decodeMessage } from '../core/message-codec.js';
import { invokeHandler, routeServerMessage, type Handler, type HandlerOutcome } from '../protocol/dispatcher.js';
import { IdleTimer } from '../protocol/heartbeat.js';
import { V1ServerHandshake, V1_MAX_MESSAGE_LENGTH, encodeV1PlainFrame, openV1Record, sealV1Record } from '../protocol/v1.js';
import { toBase64Url, toHex } from '../utils/bytes.js';
import { RequestContext } from './handler-context.js';
import { OrderedReplies, ReplySlot } from './ordered-replies.js';
import { Outbound, type FrameWriter, type OutboundHost } from './outbound.js';
import type { Conversation, ServerSession } from './server-session.js';
import { PAUSE } from './session-core.js';

const EMPTY = new Uint8Array(0);

export class V1Conversation implements Conversation, OutboundHost {
  established = false;
  readonly #host: ServerSession;
  readonly #plain: boolean;
  #handshake: V1ServerHandshake | null;
  #key: Uint8Array = EMPTY;
  readonly #outbound: Outbound;
  readonly #ordered: OrderedReplies;
  #idle: IdleTimer | null = null;

  constructor(host: ServerSession) {
    this.#host = host;
    const s = host.settings;
    this.#plain = host.connection.transport === 'tls';
    this.#handshake = this.#plain ? null : new V1ServerHandshake({ crypto: s.crypto, now: s.clock });
    this.#outbound = new Outbound(host.connection, this.#writer(), this, s.schedule);
    this.#ordered = new OrderedReplies((m) => this.#outbound.push(m));
  }

  /** Over TLS there is no v1 handshake: the session is established at once. */
  begin(): void {
    if (this.#plain) this.#established(EMPTY);
  }

  #writer(): FrameWriter {
    const crypto = this.#host.settings.crypto;
    return {
      seal: (messages) =>
        messages.map((m, index) => {
          try {
            return this.#plain ? encodeV1PlainFrame(m) : sealV1Record(crypto, this.#key, m);
          } catch (err) {
            const e = NproError.is(err) ? err : new NproError('MESSAGE_MALFORMED', 'message cannot be encoded', { cause: err });
            throw new NproError(e.code, e.message, { cause: e, details: { index } });
          }
        }),
    };
  }

  #established(peerKey: Uint8Array): void {
    const host = this.#host;
    const s = host.settings;
    this.established = true;
    host.handshakeDone({
      sessionId: `v1-${toHex(s.crypto.randomBytes(16))}`,
      peerKey,
      peerKeyText: peerKey.length === 32 ? toBase64Url(peerKey) : '',
    });
    host.log.debug({ address: host.peer.address }, 'v1 session: the peer is not authenticated');
    host.countHandshake(true);
    s.events.established(host);
    this.#idle = new IdleTimer({ idleMs: s.config.server.idle_timeout, timers: s.timers, onIdle: () => this.#close('idle_timeout reached') });
    this.#idle.start();
  }

  frame(frame: DecodedFrame): void {
    const host = this.#host;
    const handshake = this.#handshake;
    if (handshake !== null) {
      const step = handshake.receive(frame);
      if (step.error !== undefined) {
        host.countHandshake(false);
        this.fail(step.error.code as WireErrorCode, step.error.message);
        return;
      }
      if (step.send.length > 0) {
        for (const f of step.send) host.settings.stats.bytesOut += f.length;
        host.connection.writev(step.send);
      }
      if (step.result !== undefined) {
        this.#handshake = null;
        this.#key = step.result.key;
        this.#established(step.result.remoteEphemeral);
      }
      return;
    }
    let message: Message;
    try {
      message = this.#plain ? decodeMessage(frame.payload) : openV1Record(host.settings.crypto, this.#key, frame.payload);
    } catch (err) {
      const e = NproError.is(err) ? err : new NproError('MESSAGE_MALFORMED', 'v1 record rejected', { cause: err });
      this.fail(e.code as WireErrorCode, e.message);
      return;
    }
    host.settings.stats.messages++;
    this.#idle?.activity();
    this.#route(message);
    if (this.#ordered.size > host.settings.config.server.backpressure_limit) host.pauseInput(PAUSE.BACKPRESSURE);
  }

  #route(m: Message): void {
    if (m.type === 'Disconnect') {
      this.#close('the client disconnected');
      return;
    }
    if (m.type !== 'Ping' && m.type !== 'Echo' && m.type !== 'Custom') return;
    const route = routeServerMessage(m, this.#host.settings.dispatcher);
    if (route.kind === 'reply') {
      // Failure (no handler) is never sent to a v1 peer: it gets no reply.
      if (route.message.type !== 'Failure') this.#ordered.push(route.message);
    } else if (route.kind === 'custom') {
      this.#runCustom(route.command, route.payload, route.handler);
    }
  }

  #runCustom(command: string, payload: Uint8Array, handler: Handler): void {
    const context = new RequestContext(this.#host, command, undefined);
    const outcome = invokeHandler(handler, payload, context);
    if (!(outcome instanceof Promise)) {
      this.#customDone(command, outcome, null);
      return;
    }
    const slot = new ReplySlot(context);
    this.#ordered.reserve(slot);
    void outcome.then((o) => {
      try {
        this.#customDone(command, o, slot);
      } catch (err) {
        this.#host.log.error({ err }, 'internal error while completing a handler');
        this.fail('PROTOCOL_ERROR', 'internal error');
      }
    });
  }

  #customDone(command: string, outcome: HandlerOutcome, slot: ReplySlot | null): void {
    const host = this.#host;
    if (host.state !== 'open') return;
    if (!outcome.ok) {
      // protocol.md §7: errors are never reported to a v1 peer; the connection is closed.
      host.settings.stats.error(outcome.code);
      if (!NproError.is(outcome.error)) host.log.warn({ err: outcome.error, command }, 'handler failed');
      this.#close(`handler of ${command} failed: ${outcome.code}`);
      return;
    }
    const reply: Message = { type: 'Custom', command, payload: outcome.payload };
    if (slot === null) this.#ordered.push(reply);
    else this.#ordered.fill(slot, reply);
    if (this.#ordered.size <= host.settings.config.server.backpressure_limit) host.resumeInput(PAUSE.BACKPRESSURE);
  }

  /** Closes without a word to the peer (protocol.md §7). */
  fail(code: WireErrorCode, message: string): void {
    this.#abortAll(new NproError(code, message));
    this.#outbound.discard();
    this.#host.closeWith([], { code, reason: message, error: new NproError(code, message) });
  }

  /** An ordinary ending: what is queued goes out, then close. */
  #close(reason: string): void {
    this.#abortAll(new NproError('CONNECTION_CLOSED', reason));
    this.#host.closeWith(this.#outbound.close([]), { code: null, reason, error: null });
  }

  #abortAll(reason: NproError): void {
    for (const slot of this.#ordered.pendingSlots()) slot.context.abort(reason);
    this.#ordered.clear();
  }

  peerEnded(): void {
    this.#close('the client closed its side');
  }

  /** v1 has no `GoAway`: the replies already due go out, then the connection closes. */
  goAway(reason: string): void {
    this.#close(reason);
  }

  forceClose(): void {
    this.#close('the daemon is shutting down');
  }

  drain(): void {
    this.#outbound.drained();
    if (!this.#outbound.blocked) this.#host.resumeInput(PAUSE.WRITE);
  }

  closing(): void {
    this.#idle?.stop();
  }

  closed(): void {
    this.#abortAll(new NproError('CONNECTION_CLOSED', 'the connection closed'));
    this.#outbound.discard();
  }

  beforeInput(): void {
    this.#outbound.cork();
  }

  afterInput(): void {
    this.#outbound.uncork();
  }

  replaceUnsendable(message: Message, error: NproError): Message | null {
    this.#host.settings.stats.error(error.code);
    this.#host.log.warn({ type: message.type, limit: V1_MAX_MESSAGE_LENGTH }, `v1 reply dropped: ${error.message}`);
    return null;
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
