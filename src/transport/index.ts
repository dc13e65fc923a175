/**
 * The transport layer: `listen()` and `connect()` for an endpoint URL (behaviour.md §1,
 * protocol.md §8). This folder is the only code of npro that touches `node:net` and `node:tls`.
 */
import { NproError } from '../core/errors.js';
import { type Endpoint, formatEndpoint, parseEndpoint } from './endpoint.js';
import { connectTcp, listenTcp } from './tcp.js';
import { connectTls, listenTls } from './tls.js';
import { connectUnix, listenUnix } from './unix.js';
import type { ConnectOptions, Connection, ListenOptions, Listener } from './types.js';

export { parseEndpoint, formatEndpoint, formatHostPort, MAX_UNIX_PATH_BYTES } from './endpoint.js';
export type { Endpoint, TcpEndpoint, TlsEndpoint, UnixEndpoint, WebSocketEndpoint } from './endpoint.js';
export { TLS_FAILURE_REASONS } from './errors.js';
export type { TlsFailureReason } from './errors.js';
export { DEFAULT_CONNECT_TIMEOUT_MS } from './dial.js';
export { DEFAULT_BACKLOG } from './socket-listener.js';
export { DEFAULT_TLS_MIN_VERSION, DEFAULT_TLS_HANDSHAKE_TIMEOUT_MS } from './tls.js';
export type * from './types.js';

function toEndpoint(endpoint: string | Endpoint): Endpoint {
  return typeof endpoint === 'string' ? parseEndpoint(endpoint) : endpoint;
}

function notAvailable(e: Endpoint): NproError {
  return new NproError('CONFIG_INVALID', `${formatEndpoint(e)}: transport not available yet (${e.transport})`, {
    details: { endpoint: formatEndpoint(e), transport: e.transport },
  });
}

/**
 * Binds `endpoint` and resolves once it accepts connections. Rejects with `ADDRESS_IN_USE` when the
 * address is taken (a live Unix socket, or any non-socket file at its path, included) and
 * `CONFIG_INVALID` for an endpoint that cannot be bound here.
 */
export async function listen(endpoint: string | Endpoint, options: ListenOptions = {}): Promise<Listener> {
  const e = toEndpoint(endpoint);
  if (options.backlog !== undefined && !(Number.isInteger(options.backlog) && options.backlog > 0)) {
    throw new NproError('CONFIG_INVALID', `listen backlog must be a positive integer, got ${options.backlog}`);
  }
  switch (e.transport) {
    case 'tcp':
      return listenTcp(e, options);
    case 'unix':
      return listenUnix(e, options);
    case 'tls':
      return listenTls(e, options);
    default:
      throw notAvailable(e);
  }
}

/**
 * Opens a connection to `endpoint` within `options.timeoutMs` (default 5000). Failures:
 * `CONNECT_FAILED` (`details.reason` 'error' with the system code, 'timeout' or 'aborted';
 * `retryable` for refused, missing and timed-out peers), `TLS_ERROR` for a TLS failure,
 * `CONFIG_INVALID` for a bad endpoint or TLS material.
 */
export async function connect(endpoint: string | Endpoint, options: ConnectOptions = {}): Promise<Connection> {
  const e = toEndpoint(endpoint);
  const { timeoutMs } = options;
  if (timeoutMs !== undefined && !(Number.isFinite(timeoutMs) && timeoutMs > 0)) {
    throw new NproError('INVALID_ARGUMENT', `connect timeoutMs must be a positive number, got ${timeoutMs}`);
  }
  switch (e.transport) {
    case 'tcp':
    case 'tls':
      if (e.port === 0) throw new NproError('CONFIG_INVALID', `cannot connect to port 0 (${formatEndpoint(e)})`);
      return e.transport === 'tcp' ? connectTcp(e, options) : connectTls(e, options);
    case 'unix':
      return connectUnix(e, options);
    default:
      throw notAvailable(e);
  }
}
