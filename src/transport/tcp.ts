/**
 * TCP transport (protocol.md §8): the frame stream as bytes over `node:net`, IPv4 and IPv6.
 * Nagle is off (`setNoDelay`) so small frames leave at once; sockets allow half-open, so a
 * received FIN leaves our write direction open (protocol.md §8 closing).
 */
import net from 'node:net';
import { NproError } from '../core/errors.js';
import { formatEndpoint, formatHostPort, type TcpEndpoint } from './endpoint.js';
import { connectFailed, connectionClosed } from './errors.js';
import { dial } from './dial.js';
import { SocketConnection } from './socket-connection.js';
import { DEFAULT_BACKLOG, SocketListener } from './socket-listener.js';
import type { ConnectOptions, Connection, ListenOptions } from './types.js';

/** The `host:port` of a socket's peer or our side, for logs. */
export function socketAddress(address: string | undefined, port: number | undefined): string {
  return address === undefined ? 'unknown' : formatHostPort(address, port ?? 0);
}

/** Wraps a connected TCP socket. */
export function tcpConnection(socket: net.Socket): SocketConnection {
  socket.setNoDelay(true);
  const remoteAddress = socketAddress(socket.remoteAddress, socket.remotePort);
  return new SocketConnection(socket, {
    transport: 'tcp',
    protected: false,
    remoteAddress,
    localAddress: socketAddress(socket.localAddress, socket.localPort),
    mapError: (err) => connectionClosed(remoteAddress, err),
  });
}

/** Maps a `listen()` failure: EADDRINUSE → `ADDRESS_IN_USE`, bad addresses → `CONFIG_INVALID`. */
export function listenFailed(url: string, cause: unknown): NproError {
  const code = (cause as { code?: unknown } | null)?.code;
  if (code === 'EADDRINUSE') {
    return new NproError('ADDRESS_IN_USE', `${url} is already in use`, { cause, details: { endpoint: url } });
  }
  const reason = code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' || code === 'EAI_AGAIN' ? 'not a local address' : String(code ?? cause);
  return new NproError('CONFIG_INVALID', `cannot listen on ${url}: ${reason}`, {
    cause,
    details: { endpoint: url, ...(typeof code === 'string' ? { systemCode: code } : {}) },
  });
}

/** Calls `server.listen(args)` and resolves once listening, or rejects with the listen error. */
export function listenServer(server: net.Server, args: net.ListenOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => {
      server.off('listening', onListening);
      reject(err);
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(args);
  });
}

/** The address actually bound by a TCP (or TLS) server: the real port when port 0 was asked for. */
export function boundAddress(server: net.Server): { host: string; port: number } {
  const address = server.address() as net.AddressInfo;
  return { host: address.address, port: address.port };
}

export async function listenTcp(endpoint: TcpEndpoint, options: ListenOptions = {}): Promise<SocketListener> {
  const server = net.createServer({ allowHalfOpen: true, noDelay: true });
  const backlog = options.backlog ?? DEFAULT_BACKLOG;
  try {
    await listenServer(server, { host: endpoint.host, port: endpoint.port, backlog });
  } catch (err) {
    throw listenFailed(formatEndpoint(endpoint), err);
  }
  const bound: TcpEndpoint = { transport: 'tcp', ...boundAddress(server) };
  const listener = new SocketListener(server, { url: formatEndpoint(bound), endpoint: bound, backlog });
  server.on('connection', (socket: net.Socket) => listener.accept(tcpConnection(socket)));
  return listener;
}

export function connectTcp(endpoint: TcpEndpoint, options: ConnectOptions = {}): Promise<Connection> {
  const target = formatEndpoint(endpoint);
  return dial(
    {
      target,
      open: () => net.connect({ host: endpoint.host, port: endpoint.port, allowHalfOpen: true }),
      readyEvent: 'connect',
      mapError: (err) => connectFailed(target, err),
      wrap: tcpConnection,
    },
    options,
  );
}
