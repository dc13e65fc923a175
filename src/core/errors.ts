/**
 * The one error class of npro and its stable codes (protocol.md §9).
 *
 * Codes 1–30 cross the wire: REJECT carries the number, `Failure` carries the string.
 * Codes from 100 up are local and never sent. Numbers are never reused; 0 means unknown.
 * Match errors by `code`, never by `message`.
 */

/** Wire codes of protocol.md §9, in number order. */
export const WIRE_CODES = {
  BAD_MAGIC: 1,
  VERSION_UNSUPPORTED: 2,
  FRAME_TOO_LARGE: 3,
  FRAME_TIMEOUT: 4,
  MESSAGE_MALFORMED: 5,
  HANDSHAKE_FAILED: 6,
  HANDSHAKE_TIMEOUT: 7,
  STALE_TIMESTAMP: 8,
  SERVER_KEY_MISMATCH: 9,
  CLIENT_NOT_AUTHORIZED: 10,
  RECORD_AUTH_FAILED: 11,
  KEY_EXHAUSTED: 12,
  PROTOCOL_ERROR: 13,
  UNKNOWN_OPCODE: 14,
  HANDLER_ERROR: 15,
  DEADLINE_EXCEEDED: 16,
  CANCELLED: 17,
  TOO_MANY_STREAMS: 18,
  SERVER_BUSY: 19,
  RATE_LIMITED: 20,
  HEARTBEAT_TIMEOUT: 21,
  TRUNCATED: 22,
  CONNECTION_CLOSED: 23,
  CONNECT_FAILED: 24,
  CIRCUIT_OPEN: 25,
  POOL_EXHAUSTED: 26,
  CONFIG_INVALID: 27,
  TLS_ERROR: 28,
  COMPRESSION_FAILED: 29,
  ADDRESS_IN_USE: 30,
} as const;

/** Local codes (never on the wire), numbered from 100. */
export const LOCAL_CODES = {
  /** An operation was called in a state that does not allow it (e.g. sealing before the handshake). */
  INVALID_STATE: 100,
  /** An argument given to an API is out of its domain (not a configuration problem). */
  INVALID_ARGUMENT: 101,
  /** A key file is readable by group or others, or cannot be read or written safely. */
  KEY_FILE_INSECURE: 102,
} as const;

export const ERROR_CODES = { ...WIRE_CODES, ...LOCAL_CODES } as const;

export type WireErrorCode = keyof typeof WIRE_CODES;
export type LocalErrorCode = keyof typeof LOCAL_CODES;
export type ErrorCode = WireErrorCode | LocalErrorCode;

const NUMBER_TO_CODE = new Map<number, ErrorCode>(
  Object.entries(ERROR_CODES).map(([code, n]) => [n, code as ErrorCode]),
);

const BRAND = Symbol.for('npro.error');

export interface NproErrorOptions {
  /** The underlying error, if any. */
  cause?: unknown;
  /** True when the operation may be retried on another (or a new) connection. */
  retryable?: boolean;
  /** A wire number received that maps to no known code (kept for diagnostics). */
  wireNumber?: number;
  /** Extra structured detail (never secrets). */
  details?: Record<string, unknown>;
}

export class NproError extends Error {
  /** Stable, documented code. */
  readonly code: ErrorCode;
  /** The number of `code` (protocol.md §9); for an unknown received number, that number. */
  readonly number: number;
  readonly retryable: boolean;
  readonly details: Record<string, unknown> | undefined;
  readonly [BRAND] = true;

  constructor(code: ErrorCode, message: string, options: NproErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'NproError';
    this.code = code;
    this.number = options.wireNumber ?? ERROR_CODES[code];
    this.retryable = options.retryable ?? false;
    this.details = options.details;
  }

  /** True for errors made by this class (checked by brand, not by shape). */
  static is(err: unknown, code?: ErrorCode): err is NproError {
    const ok = typeof err === 'object' && err !== null && (err as Record<symbol, unknown>)[BRAND] === true;
    return ok && (code === undefined || (err as NproError).code === code);
  }

  /**
   * The error for a wire number received in a REJECT. An unknown number is reported as
   * `HANDSHAKE_FAILED` with the number kept (protocol.md §3).
   */
  static fromWireNumber(n: number, reason: string): NproError {
    const code = NUMBER_TO_CODE.get(n);
    if (code === undefined || n >= 100 || n === 0) {
      return new NproError('HANDSHAKE_FAILED', `peer rejected the handshake (code ${n}): ${reason}`, {
        wireNumber: n,
      });
    }
    return new NproError(code, reason === '' ? `peer rejected the handshake: ${code}` : reason);
  }

  toJSON(): Record<string, unknown> {
    return { name: this.name, code: this.code, number: this.number, message: this.message, retryable: this.retryable };
  }
}

/** True when `code` is one of npro's codes. */
export function isErrorCode(code: string): code is ErrorCode {
  return Object.prototype.hasOwnProperty.call(ERROR_CODES, code);
}

/** The number of a code (0 for an unknown string). */
export function codeNumber(code: string): number {
  return isErrorCode(code) ? ERROR_CODES[code] : 0;
}
