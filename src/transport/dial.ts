/**
 * Dialling with a deadline and a cancel signal, shared by every socket transport.
 *
 * The timer is unref'd and cleared on every path; a failed socket is destroyed and keeps a no-op
 * `error` listener, so a late error cannot reach the process. On success the socket is wrapped in
 * its `Connection` synchronously, before anything else can run, so it is never without an `error`
 * listener.
 */
import type { Socket } from 'node:net';
import type { NproError } from '../core/errors.js';
import { connectAborted, connectTimedOut } from './errors.js';
import type { ConnectOptions, Connection } from './types.js';

/** `client.connection_timeout` default (behaviour.md §3). */
export const DEFAULT_CONNECT_TIMEOUT_MS = 5000;

function noop(): void {}

export interface DialSpec<S extends Socket> {
  /** The endpoint, for error messages. */
  target: string;
  /** Creates the socket and starts connecting. May throw (reported as the mapped error). */
  open(): S;
  /** The event that means the connection is ready. */
  readyEvent: 'connect' | 'secureConnect';
  /** Maps an error raised while connecting. */
  mapError(err: unknown, socket: S | undefined): NproError;
  /** Wraps the ready socket. */
  wrap(socket: S): Connection;
}

/** Opens a connection per `spec`, within `options.timeoutMs` and until `options.signal` aborts. */
export function dial<S extends Socket>(spec: DialSpec<S>, options: ConnectOptions = {}): Promise<Connection> {
  return new Promise<Connection>((resolve, reject) => {
    const { signal } = options;
    if (signal?.aborted) {
      reject(connectAborted(spec.target, signal.reason));
      return;
    }
    const timeoutMs = options.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    let socket: S;
    try {
      socket = spec.open();
    } catch (err) {
      reject(spec.mapError(err, undefined));
      return;
    }
    let settled = false;
    const finish = (err: NproError | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.off(spec.readyEvent, onReady);
      socket.off('error', onError);
      socket.off('close', onClose);
      if (err === null) {
        resolve(spec.wrap(socket));
        return;
      }
      socket.on('error', noop);
      socket.destroy();
      reject(err);
    };
    const onReady = (): void => finish(null);
    const onError = (err: Error): void => finish(spec.mapError(err, socket));
    const onClose = (): void => {
      const err = Object.assign(new Error('socket closed while connecting'), { code: 'ECONNRESET' });
      finish(spec.mapError(err, socket));
    };
    const onAbort = (): void => finish(connectAborted(spec.target, signal?.reason));
    const timer = setTimeout(() => finish(connectTimedOut(spec.target, timeoutMs)), timeoutMs);
    timer.unref();
    socket.once(spec.readyEvent, onReady);
    socket.on('error', onError);
    socket.once('close', onClose);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
