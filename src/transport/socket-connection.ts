/**
 * The `Connection` of every socket-based transport (TCP, Unix, TLS): a thin adapter from a
 * `net.Socket` (or `tls.TLSSocket`) to the callback contract of `types.ts`.
 *
 * Hot path: socket `data` → one call to `handlers.data` with the socket's own Buffer. Writes go
 * straight to `socket.write`, whose return value is the backpressure signal (style habit 7).
 * The socket always has an `error` listener, so a socket failure never reaches the process.
 */
import type { Socket } from 'node:net';
import { NproError } from '../core/errors.js';
import type { Connection, ConnectionHandlers, TlsInfo, TransportName } from './types.js';

/** open → (our `end()`) ending → closed; `destroy()`, an error or the socket closing → closed. */
type State = 'open' | 'ending' | 'closed';

export interface SocketConnectionInit {
  transport: TransportName;
  protected: boolean;
  remoteAddress: string;
  localAddress: string;
  tls?: TlsInfo;
  /** Turns a socket error after connect into the error given to the `error` handler. */
  mapError(err: Error): NproError;
}

function warn(what: string, err: unknown): void {
  process.emitWarning(`npro connection ${what} handler threw: ${String(err)}`, { code: 'NPRO_HANDLER_THREW' });
}

export class SocketConnection implements Connection {
  readonly transport: TransportName;
  readonly protected: boolean;
  readonly remoteAddress: string;
  readonly localAddress: string;
  readonly tls: TlsInfo | undefined;

  private readonly socket: Socket;
  private readonly mapError: (err: Error) => NproError;
  private handlers: ConnectionHandlers | null = null;
  private state: State = 'open';
  private destroyedWithError = false;
  private errorSeen = false;
  /** An error and/or close that happened before `setHandlers`, delivered after it. */
  private earlyError: NproError | null = null;
  private earlyClose: boolean | null = null;

  constructor(socket: Socket, init: SocketConnectionInit) {
    this.socket = socket;
    this.transport = init.transport;
    this.protected = init.protected;
    this.remoteAddress = init.remoteAddress;
    this.localAddress = init.localAddress;
    this.tls = init.tls;
    this.mapError = init.mapError;
    socket.on('error', this.onSocketError);
    socket.on('close', this.onSocketClose);
  }

  /** True once the connection is closed or closing for good (used by listeners holding it). */
  get closed(): boolean {
    return this.state === 'closed';
  }

  get writableLength(): number {
    return this.socket.writableLength;
  }

  setHandlers(handlers: ConnectionHandlers): void {
    const first = this.handlers === null;
    this.handlers = handlers;
    if (!first) return;
    const socket = this.socket;
    socket.on('data', this.onSocketData);
    socket.on('end', this.onSocketEnd);
    socket.on('drain', this.onSocketDrain);
    if (this.earlyError !== null || this.earlyClose !== null) {
      queueMicrotask(() => {
        const err = this.earlyError;
        const hadError = this.earlyClose;
        this.earlyError = null;
        this.earlyClose = null;
        if (err !== null) this.deliverError(err);
        if (hadError !== null) this.deliverClose(hadError);
      });
    }
  }

  write(data: Uint8Array): boolean {
    if (this.state === 'open' && !this.socket.destroyed) return this.socket.write(data);
    return this.writeRefused();
  }

  writev(chunks: readonly Uint8Array[]): boolean {
    if (this.state !== 'open' || this.socket.destroyed) return this.writeRefused();
    if (chunks.length === 1) return this.socket.write(chunks[0]!);
    const socket = this.socket;
    socket.cork();
    let ok = true;
    for (const chunk of chunks) ok = socket.write(chunk);
    socket.uncork();
    return ok;
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  end(): void {
    if (this.state !== 'open') return;
    this.state = 'ending';
    this.socket.end();
  }

  destroy(err?: Error): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.destroyedWithError = err !== undefined;
    this.socket.destroy();
  }

  private writeRefused(): boolean {
    if (this.state === 'ending') {
      throw new NproError('INVALID_STATE', `write after end() on the connection with ${this.remoteAddress}`);
    }
    return true;
  }

  private readonly onSocketData = (chunk: Buffer): void => {
    try {
      this.handlers!.data(chunk);
    } catch (err) {
      this.handlerThrew(err);
    }
  };

  private readonly onSocketEnd = (): void => {
    try {
      this.handlers!.end();
    } catch (err) {
      this.handlerThrew(err);
    }
  };

  private readonly onSocketDrain = (): void => {
    try {
      this.handlers!.drain();
    } catch (err) {
      this.handlerThrew(err);
    }
  };

  private readonly onSocketError = (err: Error): void => {
    this.state = 'closed';
    if (this.errorSeen) return;
    this.errorSeen = true;
    const mapped = this.mapError(err);
    if (this.handlers === null) this.earlyError = mapped;
    else this.deliverError(mapped);
    // A TLS alert received after the handshake is emitted without destroying the socket; every
    // error ends the connection here, so that `close` always follows `error`.
    this.socket.destroy();
  };

  private readonly onSocketClose = (hadError: boolean): void => {
    this.state = 'closed';
    const flag = hadError || this.errorSeen || this.destroyedWithError;
    if (this.handlers === null || this.earlyError !== null) this.earlyClose = flag;
    else this.deliverClose(flag);
  };

  /** A data/end/drain handler threw: report it as this connection's error and close. */
  private handlerThrew(thrown: unknown): void {
    if (this.state === 'closed') {
      warn('event', thrown);
      return;
    }
    this.errorSeen = true;
    this.destroy(thrown instanceof Error ? thrown : new Error(String(thrown)));
    this.deliverError(
      new NproError('CONNECTION_CLOSED', `connection with ${this.remoteAddress} closed: its handler threw`, {
        cause: thrown,
        details: { peer: this.remoteAddress, reason: 'handler-threw' },
      }),
    );
  }

  private deliverError(err: NproError): void {
    try {
      this.handlers!.error(err);
    } catch (thrown) {
      warn('error', thrown);
    }
  }

  private deliverClose(hadError: boolean): void {
    try {
      this.handlers!.close(hadError);
    } catch (thrown) {
      warn('close', thrown);
    }
  }
}
