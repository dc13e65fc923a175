/**
 * TLS transport (protocol.md §8, behaviour.md §3 `[tls]` and §4 TLS): the same frame stream inside
 * TLS over TCP (no ALPN), through `node:tls`.
 *
 * Defaults: minimum TLSv1.2, the server certificate verified against `ca` (or Node's public CAs)
 * and the host name (SNI `servername` defaults to the host when it is a name). Mutual TLS: the
 * server sets `verifyClient` and `ca`, the client `cert` and `key`.
 *
 * Failures are `TLS_ERROR` with `details.reason` (see `TLS_FAILURE_REASONS`), within the connect
 * deadline; a server that never answers the handshake gives `CONNECT_FAILED` ('timeout'). In TLS 1.3
 * a server checks the client certificate after the client considers the handshake done, so a
 * refusal may reach the client's `error` handler just after `connect()` resolved.
 */
import tls from 'node:tls';
import { isIP } from 'node:net';
import { readFile } from 'node:fs/promises';
import type { X509Certificate } from 'node:crypto';
import { NproError } from '../core/errors.js';
import { formatEndpoint, type TlsEndpoint } from './endpoint.js';
import { classifyTlsError, connectFailed, connectionClosed, tlsError } from './errors.js';
import { dial } from './dial.js';
import { SocketConnection } from './socket-connection.js';
import { DEFAULT_BACKLOG, SocketListener } from './socket-listener.js';
import { boundAddress, listenFailed, listenServer, socketAddress } from './tcp.js';
import type { ConnectOptions, Connection, ListenOptions, PemSource, TlsInfo } from './types.js';

/** `tls.min_version` default (behaviour.md §3). */
export const DEFAULT_TLS_MIN_VERSION = 'TLSv1.2';
/** Accept → completed TLS handshake, when `handshakeTimeoutMs` is not given. */
export const DEFAULT_TLS_HANDSHAKE_TIMEOUT_MS = 10_000;

/** PEM text or bytes as given, or the contents of the file a string names. */
async function readPem(source: PemSource, what: string): Promise<string | Buffer> {
  if (typeof source !== 'string') return Buffer.from(source.buffer, source.byteOffset, source.byteLength);
  if (source.includes('-----BEGIN')) return source;
  try {
    return await readFile(source);
  } catch (cause) {
    throw new NproError('CONFIG_INVALID', `cannot read the TLS ${what} file ${source}`, { cause, details: { file: source } });
  }
}

async function readPems(
  source: PemSource | readonly PemSource[] | undefined,
  what: string,
): Promise<Array<string | Buffer> | undefined> {
  if (source === undefined) return undefined;
  const list: readonly PemSource[] = Array.isArray(source) ? source : [source as PemSource];
  return Promise.all(list.map((s) => readPem(s, what)));
}

class SocketTlsInfo implements TlsInfo {
  readonly authorized: boolean;
  readonly authorizationError: string | undefined;
  readonly protocol: string;
  readonly peerCertificate: X509Certificate | undefined;

  constructor(socket: tls.TLSSocket) {
    this.authorized = socket.authorized;
    const failure = socket.authorizationError as unknown;
    this.authorizationError =
      failure === undefined || failure === null ? undefined : String((failure as { code?: unknown }).code ?? failure);
    this.protocol = socket.getProtocol() ?? 'unknown';
    this.peerCertificate = socket.getPeerX509Certificate();
  }
}

/** Wraps a TLS socket whose handshake completed. */
function tlsConnection(socket: tls.TLSSocket, isServer: boolean, offeredCertificate: boolean): SocketConnection {
  socket.setNoDelay(true);
  // A received FIN leaves our write direction open (protocol.md §8); `allowHalfOpen` may be changed
  // on a live stream until its 'end' event, which cannot have happened: nothing has been read yet.
  socket.allowHalfOpen = true;
  const remoteAddress = socketAddress(socket.remoteAddress, socket.remotePort);
  return new SocketConnection(socket, {
    transport: 'tls',
    protected: isServer || socket.authorized,
    remoteAddress,
    localAddress: socketAddress(socket.localAddress, socket.localPort),
    tls: new SocketTlsInfo(socket),
    mapError: (err) => {
      const reason = classifyTlsError(err, false, offeredCertificate);
      return reason === undefined ? connectionClosed(remoteAddress, err) : tlsError(reason, remoteAddress, err);
    },
  });
}

/** The `TLS_ERROR` for a handshake that failed on the server (`tlsClientError`). */
function serverHandshakeError(err: Error, socket: tls.TLSSocket): NproError {
  const peer = socketAddress(socket.remoteAddress, socket.remotePort);
  const verifyError = socket.authorizationError as unknown;
  if (verifyError !== undefined && verifyError !== null) {
    const e = tlsError('client-certificate', peer, err);
    e.details!['verifyError'] = String((verifyError as { code?: unknown }).code ?? verifyError);
    return e;
  }
  return tlsError(classifyTlsError(err, true, true) ?? 'handshake-failed', peer, err);
}

export async function listenTls(endpoint: TlsEndpoint, options: ListenOptions = {}): Promise<SocketListener> {
  const url = formatEndpoint(endpoint);
  const t = options.tls;
  if (t === undefined) throw new NproError('CONFIG_INVALID', `${url} needs a TLS certificate and key (tls.cert_file, tls.key_file)`);
  const verifyClient = t.verifyClient === true;
  if (verifyClient && t.ca === undefined) {
    throw new NproError('CONFIG_INVALID', `${url}: tls.verify_client needs tls.ca_file (the CA of client certificates)`);
  }
  const [cert, key, ca] = await Promise.all([readPem(t.cert, 'certificate'), readPem(t.key, 'key'), readPems(t.ca, 'CA')]);
  const backlog = options.backlog ?? DEFAULT_BACKLOG;
  let server: tls.Server;
  try {
    server = tls.createServer({
      cert,
      key,
      ca,
      requestCert: verifyClient,
      rejectUnauthorized: verifyClient,
      minVersion: t.minVersion ?? DEFAULT_TLS_MIN_VERSION,
      maxVersion: t.maxVersion,
      handshakeTimeout: t.handshakeTimeoutMs ?? DEFAULT_TLS_HANDSHAKE_TIMEOUT_MS,
      // Not half-open while handshaking, so a client that hangs up mid-handshake frees its socket
      // at once instead of at the handshake timeout; `tlsConnection` turns half-open on after it.
      allowHalfOpen: false,
      noDelay: true,
    });
  } catch (cause) {
    throw new NproError('CONFIG_INVALID', `${url}: unusable TLS certificate, key or CA: ${(cause as Error).message}`, { cause });
  }
  try {
    await listenServer(server, { host: endpoint.host, port: endpoint.port, backlog });
  } catch (err) {
    throw listenFailed(url, err);
  }
  const bound: TlsEndpoint = { transport: 'tls', ...boundAddress(server) };
  const listener = new SocketListener(server, { url: formatEndpoint(bound), endpoint: bound, backlog });
  server.on('secureConnection', (socket: tls.TLSSocket) => listener.accept(tlsConnection(socket, true, true)));
  server.on('tlsClientError', (err: Error, socket: tls.TLSSocket) => listener.reportError(serverHandshakeError(err, socket)));
  return listener;
}

export async function connectTls(endpoint: TlsEndpoint, options: ConnectOptions = {}): Promise<Connection> {
  const target = formatEndpoint(endpoint);
  const t = options.tls ?? {};
  const [ca, cert, key] = await Promise.all([
    readPems(t.ca, 'CA'),
    t.cert === undefined ? undefined : readPem(t.cert, 'certificate'),
    t.key === undefined ? undefined : readPem(t.key, 'key'),
  ]);
  const servername = t.servername ?? (isIP(endpoint.host) === 0 ? endpoint.host : undefined);
  const offeredCertificate = cert !== undefined;
  // `allowHalfOpen` is honoured by tls.connect() (it reaches the TLSSocket) but missing from its typings.
  const connectOptions: tls.ConnectionOptions & { allowHalfOpen: boolean } = {
    host: endpoint.host,
    port: endpoint.port,
    servername,
    ca,
    cert,
    key,
    minVersion: t.minVersion ?? DEFAULT_TLS_MIN_VERSION,
    maxVersion: t.maxVersion,
    rejectUnauthorized: t.rejectUnauthorized ?? true,
    allowHalfOpen: true,
  };
  return dial(
    {
      target,
      open: () => tls.connect(connectOptions),
      readyEvent: 'secureConnect',
      mapError: (err, socket) => {
        if (socket === undefined) {
          return new NproError('CONFIG_INVALID', `${target}: unusable TLS certificate, key or CA: ${(err as Error).message}`, {
            cause: err,
          });
        }
        const reason = classifyTlsError(err, true, offeredCertificate);
        return reason === undefined ? connectFailed(target, err) : tlsError(reason, target, err);
      },
      wrap: (socket) => tlsConnection(socket, false, offeredCertificate),
    },
    options,
  );
}
