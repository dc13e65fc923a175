/**
 * Unix domain socket transport (protocol.md §8, behaviour.md §4 Daemon): a path socket or a Linux
 * abstract name (`unix://@name`, no file, no permissions: any local user may connect).
 *
 * Binding a path:
 * 1. An existing file at the path is never removed unless it is a socket whose connect probe is
 *    refused (a stale file left by a killed daemon). A live socket or any other file →
 *    `ADDRESS_IN_USE`.
 * 2. The socket is bound inside a fresh 0700 directory next to the path, chmod'ed (0600 by
 *    default), then hard-linked to the path. Other users can never reach it with a looser mode,
 *    and `link()` fails instead of replacing a file created meanwhile. When the private directory's
 *    longer path would not fit the 107-byte limit, or the file system refuses hard links, the
 *    socket is bound at the path directly and chmod'ed right after: a window of one system call
 *    in which the umask's mode applies.
 * 3. `close()` removes the file if it is still ours (same inode). In the direct fallback the
 *    event loop (libuv) itself unlinks the path when the socket closes, whatever file is there.
 * 4. In a `node:cluster` worker, `listen()` is carried out by the primary process, which binds the
 *    path once and shares that socket with every worker listening on the same path. Steps 1–2 would
 *    see the first worker's socket as live, so a worker binds the path directly and chmods it (the
 *    direct fallback's one-call window); the stale probe of step 1 is the primary's, run once
 *    before it forks ({@link clearStale}, used by src/service/workers.ts). The primary's socket,
 *    and with it the file (unlinked by libuv), goes when the last worker stops listening.
 */
import cluster from 'node:cluster';
import net from 'node:net';
import { chmod, link, lstat, mkdtemp, rm, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { NproError } from '../core/errors.js';
import { formatEndpoint, MAX_UNIX_PATH_BYTES, type UnixEndpoint } from './endpoint.js';
import { connectFailed, connectionClosed, errorCode } from './errors.js';
import { dial } from './dial.js';
import { SocketConnection } from './socket-connection.js';
import { DEFAULT_BACKLOG, SocketListener } from './socket-listener.js';
import { listenFailed, listenServer } from './tcp.js';
import type { ConnectOptions, Connection, ListenOptions } from './types.js';

/** How long a probe of an existing socket file may take before it counts as live. */
const PROBE_TIMEOUT_MS = 1000;
const PRIVATE_DIR_PREFIX = '.npro-';
/** `mkdtemp` suffix (6) + `/s`. */
const PRIVATE_DIR_EXTRA_BYTES = 8;

function socketPath(e: UnixEndpoint): string {
  return e.abstract ? `\0${e.path}` : e.path;
}

function displayAddress(e: UnixEndpoint): string {
  return e.abstract ? `@${e.path}` : e.path;
}

function unixConnection(socket: net.Socket, address: string): SocketConnection {
  return new SocketConnection(socket, {
    transport: 'unix',
    protected: true,
    remoteAddress: address,
    localAddress: address,
    mapError: (err) => connectionClosed(address, err),
  });
}

function inUse(url: string, why: string, cause?: unknown): NproError {
  return new NproError('ADDRESS_IN_USE', `${url} is in use: ${why}`, { cause, details: { endpoint: url } });
}

/** 'live' when something accepts on the socket file, 'stale' when the connect is refused. */
function probe(path: string): Promise<'live' | 'stale' | Error> {
  return new Promise((resolve) => {
    const socket = net.connect({ path });
    const done = (result: 'live' | 'stale' | Error): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => done('live'), PROBE_TIMEOUT_MS);
    socket.once('connect', () => done('live'));
    socket.on('error', (err) => done(errorCode(err) === 'ECONNREFUSED' ? 'stale' : err));
  });
}

/** Removes a stale socket file at `path`; throws `ADDRESS_IN_USE` for anything else there. */
export async function clearStale(path: string, url: string): Promise<void> {
  let before;
  try {
    before = await lstat(path);
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return;
    throw listenFailed(url, err);
  }
  if (!before.isSocket()) throw inUse(url, `${path} exists and is not a socket (left untouched)`);
  const result = await probe(path);
  if (result === 'live') throw inUse(url, 'a server is accepting connections on it');
  if (result instanceof Error) throw inUse(url, `cannot tell whether ${path} is stale`, result);
  try {
    const after = await lstat(path);
    if (after.ino !== before.ino || after.dev !== before.dev) throw inUse(url, `${path} was replaced meanwhile`);
    await unlink(path);
  } catch (err) {
    if (NproError.is(err)) throw err;
    if (errorCode(err) !== 'ENOENT') throw listenFailed(url, err);
  }
}

/** Binds at `path` through a private directory (see the module comment); false when not possible. */
async function bindPrivately(server: net.Server, path: string, mode: number, backlog: number, url: string): Promise<boolean> {
  const template = join(dirname(path), PRIVATE_DIR_PREFIX);
  if (Buffer.byteLength(template) + PRIVATE_DIR_EXTRA_BYTES > MAX_UNIX_PATH_BYTES) return false;
  let dir: string;
  try {
    dir = await mkdtemp(template);
  } catch (err) {
    throw listenFailed(url, err);
  }
  try {
    const temporary = join(dir, 's');
    await listenServer(server, { path: temporary, backlog });
    await chmod(temporary, mode);
    try {
      await link(temporary, path);
    } catch (err) {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (errorCode(err) === 'EEXIST') throw inUse(url, `${path} was created meanwhile`, err);
      return false;
    }
    return true;
  } catch (err) {
    if (server.listening) server.close();
    throw NproError.is(err) ? err : listenFailed(url, err);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function bindPath(server: net.Server, path: string, options: ListenOptions, url: string): Promise<() => Promise<void>> {
  const mode = options.unixMode ?? 0o600;
  const backlog = options.backlog ?? DEFAULT_BACKLOG;
  if (!(await bindPrivately(server, path, mode, backlog, url))) {
    try {
      await listenServer(server, { path, backlog });
      await chmod(path, mode);
    } catch (err) {
      if (server.listening) server.close();
      throw listenFailed(url, err);
    }
  }
  const bound = await lstat(path);
  return async () => {
    try {
      const now = await lstat(path);
      if (now.ino === bound.ino && now.dev === bound.dev) await unlink(path);
    } catch {
      // Already gone (libuv unlinks a directly bound path itself).
    }
  };
}

export async function listenUnix(endpoint: UnixEndpoint, options: ListenOptions = {}): Promise<SocketListener> {
  const url = formatEndpoint(endpoint);
  const backlog = options.backlog ?? DEFAULT_BACKLOG;
  const server = net.createServer({ allowHalfOpen: true });
  let removeFile: (() => Promise<void>) | undefined;
  // Made before binding: binding a path awaits file system calls after the socket listens, and a
  // connection accepted meanwhile must be held, not lost.
  const listener = new SocketListener(server, { url, endpoint, backlog, release: async () => removeFile?.() });
  const address = displayAddress(endpoint);
  server.on('connection', (socket: net.Socket) => listener.accept(unixConnection(socket, address)));
  try {
    if (endpoint.abstract) {
      await listenServer(server, { path: socketPath(endpoint), backlog });
    } else if (cluster.isWorker) {
      // Step 4 of the module comment: the primary binds and owns the file.
      await listenServer(server, { path: endpoint.path, backlog });
      await chmod(endpoint.path, options.unixMode ?? 0o600);
    } else {
      await clearStale(endpoint.path, url);
      removeFile = await bindPath(server, endpoint.path, options, url);
    }
  } catch (err) {
    await listener.close();
    throw NproError.is(err) ? err : listenFailed(url, err);
  }
  return listener;
}

export function connectUnix(endpoint: UnixEndpoint, options: ConnectOptions = {}): Promise<Connection> {
  const target = formatEndpoint(endpoint);
  const address = displayAddress(endpoint);
  return dial(
    {
      target,
      open: () => net.connect({ path: socketPath(endpoint), allowHalfOpen: true }),
      readyEvent: 'connect',
      mapError: (err) => connectFailed(target, err),
      wrap: (socket) => unixConnection(socket, address),
    },
    options,
  );
}
