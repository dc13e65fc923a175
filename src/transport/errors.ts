/**
 * How socket and TLS failures become `NproError`s (protocol.md §9, behaviour.md §4 TLS):
 * connect failures are `CONNECT_FAILED`, failures after connect `CONNECTION_CLOSED`, and TLS
 * failures `TLS_ERROR` with a `details.reason` a program can act on.
 */
import { NproError } from '../core/errors.js';

/** The distinct causes of a `TLS_ERROR`, in `details.reason`. */
export const TLS_FAILURE_REASONS = {
  /** The peer's certificate does not chain to a trusted CA (or is self-signed and not trusted). */
  UNKNOWN_CA: 'unknown-ca',
  /** The peer's certificate has expired. */
  EXPIRED: 'expired',
  /** The peer's certificate is not valid yet. */
  NOT_YET_VALID: 'not-yet-valid',
  /** The server's certificate does not name the host (or `servername`) we dialled. */
  HOSTNAME_MISMATCH: 'hostname-mismatch',
  /** The peer does not speak TLS (its bytes are not TLS records). */
  NOT_TLS: 'not-tls',
  /**
   * The peer closed during the handshake without a TLS alert: a plaintext server that hung up, or
   * a Node-based TLS server refusing our client certificate (it closes silently).
   */
  HANDSHAKE_CLOSED: 'handshake-closed',
  /** Our client certificate is missing or was refused (server side: the client's). */
  CLIENT_CERTIFICATE: 'client-certificate',
  /** No TLS version in common (e.g. `minVersion` above the peer's maximum). */
  PROTOCOL_VERSION: 'protocol-version',
  /** The handshake did not finish in time (server side; a client reports `CONNECT_FAILED`). */
  TIMEOUT: 'timeout',
  /** Any other TLS failure; `cause` holds the OpenSSL error. */
  HANDSHAKE_FAILED: 'handshake-failed',
} as const;

export type TlsFailureReason = (typeof TLS_FAILURE_REASONS)[keyof typeof TLS_FAILURE_REASONS];

const R = TLS_FAILURE_REASONS;

/** Certificate verification codes (OpenSSL's, as Node reports them) and TLS error codes. */
const REASON_BY_CODE: Readonly<Record<string, TlsFailureReason>> = {
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: R.UNKNOWN_CA,
  SELF_SIGNED_CERT_IN_CHAIN: R.UNKNOWN_CA,
  DEPTH_ZERO_SELF_SIGNED_CERT: R.UNKNOWN_CA,
  UNABLE_TO_GET_ISSUER_CERT: R.UNKNOWN_CA,
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: R.UNKNOWN_CA,
  CERT_UNTRUSTED: R.UNKNOWN_CA,
  CERT_SIGNATURE_FAILURE: R.UNKNOWN_CA,
  CERT_HAS_EXPIRED: R.EXPIRED,
  CERT_NOT_YET_VALID: R.NOT_YET_VALID,
  ERR_TLS_CERT_ALTNAME_INVALID: R.HOSTNAME_MISMATCH,
  ERR_SSL_WRONG_VERSION_NUMBER: R.NOT_TLS,
  ERR_SSL_PACKET_LENGTH_TOO_LONG: R.NOT_TLS,
  ERR_SSL_UNEXPECTED_MESSAGE: R.NOT_TLS,
  ERR_SSL_HTTP_REQUEST: R.NOT_TLS,
  ERR_SSL_HTTPS_PROXY_REQUEST: R.NOT_TLS,
  ERR_SSL_RECORD_LAYER_FAILURE: R.NOT_TLS,
  ERR_SSL_UNEXPECTED_RECORD: R.NOT_TLS,
  EPROTO: R.NOT_TLS,
  ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED: R.CLIENT_CERTIFICATE,
  ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE: R.CLIENT_CERTIFICATE,
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN: R.CLIENT_CERTIFICATE,
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED: R.CLIENT_CERTIFICATE,
  ERR_SSL_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE: R.CLIENT_CERTIFICATE,
  ERR_SSL_TLSV1_ALERT_UNKNOWN_CA: R.CLIENT_CERTIFICATE,
  ERR_SSL_TLSV1_ALERT_ACCESS_DENIED: R.CLIENT_CERTIFICATE,
  ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE: R.CLIENT_CERTIFICATE,
  ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION: R.PROTOCOL_VERSION,
  ERR_SSL_UNSUPPORTED_PROTOCOL: R.PROTOCOL_VERSION,
  ERR_SSL_NO_PROTOCOLS_AVAILABLE: R.PROTOCOL_VERSION,
  ERR_TLS_HANDSHAKE_TIMEOUT: R.TIMEOUT,
};

/** The system error code (`ECONNREFUSED`, `ERR_SSL_…`) of an error, if it has one. */
export function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function isTlsCode(code: string | undefined): boolean {
  return code !== undefined && (code in REASON_BY_CODE || code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_'));
}

/**
 * The TLS failure reason of an error raised by a TLS socket, or undefined when the error is a plain
 * socket error. `handshaking` says the handshake had not completed; `offeredCertificate` says we
 * sent a client certificate (a TLS 1.2 `handshake_failure` alert to a client that sent none means
 * the server wanted one).
 */
export function classifyTlsError(
  err: unknown,
  handshaking: boolean,
  offeredCertificate = false,
): TlsFailureReason | undefined {
  const code = errorCode(err);
  if (code !== undefined && code in REASON_BY_CODE) return REASON_BY_CODE[code];
  if (code === 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE' && !offeredCertificate) return R.CLIENT_CERTIFICATE;
  if (isTlsCode(code)) return R.HANDSHAKE_FAILED;
  if (handshaking && (code === 'ECONNRESET' || code === 'EPIPE' || code === undefined)) return R.HANDSHAKE_CLOSED;
  return undefined;
}

const TLS_MESSAGES: Readonly<Record<TlsFailureReason, string>> = {
  'unknown-ca': 'the peer certificate is not signed by a trusted CA',
  expired: 'the peer certificate has expired',
  'not-yet-valid': 'the peer certificate is not valid yet',
  'hostname-mismatch': 'the server certificate does not match the host name',
  'not-tls': 'the peer does not speak TLS',
  'handshake-closed':
    'the peer closed the connection during the TLS handshake (a plaintext server, or one refusing our client certificate)',
  'client-certificate': 'the client certificate is missing or was refused',
  'protocol-version': 'no TLS version in common with the peer',
  timeout: 'the TLS handshake timed out',
  'handshake-failed': 'the TLS handshake failed',
};

/** A `TLS_ERROR` for `reason`, naming the peer. */
export function tlsError(reason: TlsFailureReason, peer: string, cause: unknown): NproError {
  const code = errorCode(cause);
  return new NproError('TLS_ERROR', `TLS with ${peer}: ${TLS_MESSAGES[reason]}${code ? ` (${code})` : ''}`, {
    cause,
    details: { reason, peer, ...(code ? { systemCode: code } : {}) },
  });
}

const RETRYABLE_CONNECT = new Set(['ECONNREFUSED', 'ENOENT', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'EAGAIN']);

/** `CONNECT_FAILED` for a system error while dialling `target`. */
export function connectFailed(target: string, cause: unknown): NproError {
  const code = errorCode(cause);
  return new NproError('CONNECT_FAILED', `cannot connect to ${target}${code ? `: ${code}` : ''}`, {
    cause,
    retryable: code !== undefined && RETRYABLE_CONNECT.has(code),
    details: { endpoint: target, reason: 'error', ...(code ? { systemCode: code } : {}) },
  });
}

/** `CONNECT_FAILED` for a connect that ran out of time (retryable). */
export function connectTimedOut(target: string, timeoutMs: number): NproError {
  return new NproError('CONNECT_FAILED', `cannot connect to ${target}: no connection within ${timeoutMs} ms`, {
    retryable: true,
    details: { endpoint: target, reason: 'timeout', timeoutMs },
  });
}

/** `CONNECT_FAILED` for a connect cancelled by its signal (not retryable). */
export function connectAborted(target: string, reason: unknown): NproError {
  return new NproError('CONNECT_FAILED', `connecting to ${target} was aborted`, {
    cause: reason,
    details: { endpoint: target, reason: 'aborted' },
  });
}

/** `CONNECTION_CLOSED` for a socket error after connect. */
export function connectionClosed(peer: string, cause: unknown): NproError {
  const code = errorCode(cause);
  return new NproError('CONNECTION_CLOSED', `connection with ${peer} failed${code ? `: ${code}` : ''}`, {
    cause,
    retryable: true,
    details: { peer, ...(code ? { systemCode: code } : {}) },
  });
}
