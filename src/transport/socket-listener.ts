/**
 * The `Listener` of every socket-based transport: a bound `net.Server` (or `tls.Server`) that hands
 * out `SocketConnection`s, can hold them back (`pause()`), and releases its address on `close()`.
 *
 * Node cannot stop a listening socket from accepting without closing it, so `pause()` keeps the
 * address bound and holds accepted connections unread, which is what the kernel backlog would do;
 * at most `backlog` are held, later ones are closed at once.
 */
import type { Server } from 'node:net';
import { NproError } from '../core/errors.js';
import type { Endpoint } from './endpoint.js';
import type { SocketConnection } from './socket-connection.js';
import type { Connection, Listener } from './types.js';

/** Node's default listen backlog. */
export const DEFAULT_BACKLOG = 511;

export interface SocketListenerInit {
  url: string;
  endpoint: Endpoint;
  backlog: number;
  /** Runs after the server stopped listening (e.g. removes a Unix socket file). */
  release?: () => Promise<void>;
}

export class SocketListener implements Listener {
  readonly url: string;
  readonly endpoint: Endpoint;

  private readonly server: Server;
  private readonly backlog: number;
  private readonly release: (() => Promise<void>) | undefined;
  private connectionCallback: ((c: Connection) => void) | null = null;
  private errorCallback: ((e: NproError) => void) | null = null;
  private paused = false;
  private held: SocketConnection[] = [];
  private closing: Promise<void> | null = null;

  constructor(server: Server, init: SocketListenerInit) {
    this.server = server;
    this.url = init.url;
    this.endpoint = init.endpoint;
    this.backlog = init.backlog;
    this.release = init.release;
    server.on('error', (err) => this.reportError(this.acceptError(err)));
  }

  onConnection(cb: (connection: Connection) => void): void {
    this.connectionCallback = cb;
    if (!this.paused) this.flush();
  }

  onError(cb: (err: NproError) => void): void {
    this.errorCallback = cb;
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.flush();
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  /** Called by the transport for each new connection (for TLS: after its handshake). */
  accept(connection: SocketConnection): void {
    if (this.closing !== null) {
      connection.destroy();
      return;
    }
    if (this.held.length >= this.backlog) this.held = this.held.filter((c) => !c.closed);
    if (this.held.length >= this.backlog) {
      connection.destroy();
      return;
    }
    this.held.push(connection);
    this.flush();
  }

  /** Reports a failure that produced no connection (TLS handshake, accept). */
  reportError(err: NproError): void {
    const cb = this.errorCallback;
    if (cb === null) return;
    try {
      cb(err);
    } catch (thrown) {
      process.emitWarning(`npro listener error handler threw: ${String(thrown)}`, { code: 'NPRO_HANDLER_THREW' });
    }
  }

  private flush(): void {
    while (!this.paused && this.connectionCallback !== null && this.held.length > 0) {
      const connection = this.held.shift()!;
      if (!connection.closed) this.handOut(connection);
    }
  }

  private handOut(connection: SocketConnection): void {
    try {
      this.connectionCallback!(connection);
    } catch (thrown) {
      connection.destroy();
      this.reportError(
        new NproError('CONNECTION_CLOSED', `the connection callback of ${this.url} threw`, {
          cause: thrown,
          details: { listener: this.url, reason: 'handler-threw' },
        }),
      );
    }
  }

  private acceptError(cause: Error): NproError {
    return new NproError('CONNECTION_CLOSED', `${this.url} could not accept a connection: ${cause.message}`, {
      cause,
      details: { listener: this.url, reason: 'accept' },
    });
  }

  private async shutdown(): Promise<void> {
    const held = this.held;
    this.held = [];
    for (const connection of held) connection.destroy();
    // The listening socket is closed synchronously; the server's own 'close' event waits for every
    // connection to end, which is the owners' business, so it is not awaited here.
    if (this.server.listening) this.server.close();
    await this.release?.();
  }
}
