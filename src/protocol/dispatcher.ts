/**
 * The opcode dispatcher and the server routing table of protocol.md §5, without I/O.
 *
 * `Request` and `Custom` share one command namespace. `PING` and `ECHO` are built in and answered
 * by the routing table itself; handlers cannot replace them.
 */
import { NproError } from '../core/errors.js';
import type { Message } from '../core/message.js';
import { utf8Encoder } from '../utils/bytes.js';

/** Who is on the other end of a session (protocol.md §6: handlers see the peer key and session id). */
export interface PeerInfo {
  /** The peer's static X25519 public key (32 bytes). */
  publicKey: Uint8Array;
  /** The same key as 43 characters of unpadded base64url. */
  publicKeyText: string;
  /** The transport address, e.g. `127.0.0.1:53012` or the socket path. */
  address: string;
}

/** The logger handed to handlers: structured, with a `component` and the session id bound. */
export interface HandlerLog {
  debug(obj: object | string, msg?: string): void;
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
}

export interface HandlerContext {
  /** Aborted when the request is cancelled, its connection ends, or the daemon stops waiting. */
  signal: AbortSignal;
  /** Unix ms after which nobody waits for the answer any more (the daemon's drain deadline), or `undefined`. */
  deadline: number | undefined;
  peer: PeerInfo;
  sessionId: string;
  log: HandlerLog;
  /** The command that was routed to this handler. */
  command: string;
  /** The request id for a `Request`; `undefined` for a `Custom` message. */
  requestId: number | undefined;
}

/** What a handler may return: bytes, a string (sent as UTF-8), or nothing (an empty payload). */
export type HandlerResult = Uint8Array | string | void | undefined;
export type Handler = (payload: Uint8Array, ctx: HandlerContext) => HandlerResult | Promise<HandlerResult>;

export const BUILTIN_COMMANDS = ['PING', 'ECHO'] as const;
const EMPTY = new Uint8Array(0);

export class Dispatcher {
  private readonly handlers = new Map<string, Handler>();

  /** Registers `handler` for `opcode`. `PING`/`ECHO` are built in and an opcode is registered once. */
  register(opcode: string, handler: Handler): this {
    if (typeof opcode !== 'string' || opcode.length === 0) {
      throw new NproError('INVALID_ARGUMENT', 'an opcode is a non-empty string');
    }
    if ((BUILTIN_COMMANDS as readonly string[]).includes(opcode)) {
      throw new NproError('INVALID_ARGUMENT', `${opcode} is built in and cannot be registered`);
    }
    if (this.handlers.has(opcode)) throw new NproError('INVALID_ARGUMENT', `opcode ${opcode} is already registered`);
    if (typeof handler !== 'function') throw new NproError('INVALID_ARGUMENT', `the handler of ${opcode} is not a function`);
    this.handlers.set(opcode, handler);
    return this;
  }

  unregister(opcode: string): boolean {
    return this.handlers.delete(opcode);
  }

  lookup(opcode: string): Handler | undefined {
    return this.handlers.get(opcode);
  }

  /** Registered opcodes (built-ins excluded). */
  opcodes(): string[] {
    return [...this.handlers.keys()];
  }
}

/** What the server does with one inbound message (protocol.md §5 routing table). */
export type Route =
  | { kind: 'reply'; message: Message }
  | { kind: 'custom'; command: string; payload: Uint8Array; handler: Handler }
  | { kind: 'request'; id: number; command: string; payload: Uint8Array; handler: Handler | undefined }
  | { kind: 'cancel'; id: number }
  | { kind: 'disconnect' }
  | { kind: 'drop' };

const UNKNOWN_OPCODE = (command?: string): Message => ({
  type: 'Failure',
  id: 0,
  code: 'UNKNOWN_OPCODE',
  message: command === undefined ? 'unknown message' : `no handler for ${command}`,
});

/**
 * Routes a message received by a server. `Request`s are returned with their handler (or none);
 * id rules, GoAway and `max_streams` are the session's business.
 */
export function routeServerMessage(m: Message, dispatcher: Dispatcher): Route {
  switch (m.type) {
    case 'Ping':
      return { kind: 'reply', message: { type: 'Pong' } };
    case 'Echo':
      return { kind: 'reply', message: { type: 'Echo', text: m.text } };
    case 'Custom': {
      if (m.command === 'PING') return { kind: 'reply', message: { type: 'Pong' } };
      if (m.command === 'ECHO') return { kind: 'reply', message: { type: 'Custom', command: 'ECHO', payload: m.payload } };
      const handler = dispatcher.lookup(m.command);
      return handler ? { kind: 'custom', command: m.command, payload: m.payload, handler } : { kind: 'reply', message: UNKNOWN_OPCODE(m.command) };
    }
    case 'Request': {
      if (m.command === 'PING') return { kind: 'request', id: m.id, command: m.command, payload: m.payload, handler: pingHandler };
      if (m.command === 'ECHO') return { kind: 'request', id: m.id, command: m.command, payload: m.payload, handler: echoHandler };
      return { kind: 'request', id: m.id, command: m.command, payload: m.payload, handler: dispatcher.lookup(m.command) };
    }
    case 'Cancel':
      return { kind: 'cancel', id: m.id };
    case 'Disconnect':
      return { kind: 'disconnect' };
    case 'Unknown':
    case 'SecureHandshakeInit':
    case 'SecureHandshakeResponse':
    case 'SecureHandshakeConfirm':
      return { kind: 'reply', message: UNKNOWN_OPCODE() };
    case 'Pong':
    case 'Response':
    case 'Failure':
    case 'GoAway':
      return { kind: 'drop' };
  }
}

const pingHandler: Handler = () => EMPTY;
const echoHandler: Handler = (payload) => payload;

/** The outcome of running a handler: bytes, or a failure code and message for the wire. */
export type HandlerOutcome = { ok: true; payload: Uint8Array } | { ok: false; code: string; message: string; error: unknown };

/** Normalises a handler's return value to bytes. */
export function resultBytes(r: HandlerResult): Uint8Array {
  if (r === undefined || r === null) return EMPTY;
  if (typeof r === 'string') return utf8Encoder.encode(r);
  if (r instanceof Uint8Array) return r;
  throw new NproError('HANDLER_ERROR', 'a handler returned something other than bytes, a string or nothing');
}

/**
 * Maps a handler's error to what crosses the wire. An `NproError` keeps its code and message; any
 * other error becomes `HANDLER_ERROR` with a generic message, so internal details (paths, stack
 * contents) never reach the peer — the session logs the original error instead.
 */
export function failureOf(err: unknown): { code: string; message: string } {
  if (NproError.is(err)) return { code: err.code, message: err.message };
  return { code: 'HANDLER_ERROR', message: 'the handler failed' };
}

/**
 * Runs a handler, sync or async. A synchronous result settles without an extra tick (the hot path
 * for cheap handlers); the promise form is returned only when the handler is asynchronous.
 */
export function invokeHandler(handler: Handler, payload: Uint8Array, ctx: HandlerContext): HandlerOutcome | Promise<HandlerOutcome> {
  let r: HandlerResult | Promise<HandlerResult>;
  try {
    r = handler(payload, ctx);
  } catch (error) {
    return { ok: false, ...failureOf(error), error };
  }
  if (r instanceof Promise) {
    return r.then(
      (v) => {
        try {
          return { ok: true as const, payload: resultBytes(v) };
        } catch (error) {
          return { ok: false as const, ...failureOf(error), error };
        }
      },
      (error: unknown) => ({ ok: false as const, ...failureOf(error), error }),
    );
  }
  try {
    return { ok: true, payload: resultBytes(r) };
  } catch (error) {
    return { ok: false, ...failureOf(error), error };
  }
}
