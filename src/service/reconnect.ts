/**
 * The client's reconnect policy (behaviour.md §3 `client.*`): the backoff between attempts, the
 * errors no attempt can fix, and the errors of a client without a usable connection.
 */
import { NproError } from '../core/errors.js';

/** Ceiling of the reconnect backoff (behaviour.md §3). */
export const MAX_BACKOFF_MS = 30_000;

/** Errors that another attempt cannot fix: the client fails at once instead of retrying. */
export const PERMANENT_ERRORS: ReadonlySet<string> = new Set([
  'SERVER_KEY_MISMATCH', 'HANDSHAKE_FAILED', 'CLIENT_NOT_AUTHORIZED', 'STALE_TIMESTAMP', 'TLS_ERROR', 'CONFIG_INVALID',
  'VERSION_UNSUPPORTED', 'BAD_MAGIC', 'KEY_FILE_INSECURE', 'INVALID_ARGUMENT',
]);

/**
 * The wait before reconnect attempt `attempt` (1-based): `delayMs × 1.6^(attempt−1)`, ±20 % jitter
 * (so that clients started together disperse), at most 30 s.
 */
export function backoffDelay(delayMs: number, attempt: number, random: () => number = Math.random): number {
  const base = Math.min(MAX_BACKOFF_MS, delayMs * 1.6 ** Math.max(0, attempt - 1));
  return Math.min(MAX_BACKOFF_MS, Math.round(base * (0.8 + 0.4 * random())));
}

/** The error of a call on a client that was closed. */
export function closedError(): NproError {
  return new NproError('CONNECTION_CLOSED', 'the client is closed');
}

/** The error of a call when no connection accepts requests and reconnecting is off. */
export function noConnection(): NproError {
  return new NproError('CONNECTION_CLOSED', 'no connection accepts requests and client.auto_reconnect is false', { retryable: true });
}
