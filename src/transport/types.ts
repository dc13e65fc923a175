/**
 * The one contract every npro transport implements (protocol.md §8): a byte stream with
 * backpressure and half-close, and a listener that hands such streams out.
 *
 * The contract is callback-based on purpose: a connection calls exactly one set of handlers
 * given by its owner (the session driver), with no EventEmitter re-emission per chunk, so the
 * hot path from the socket to the frame decoder is one function call. Chunks are the socket's own
 * buffers (a `Buffer` is a `Uint8Array`), never copied.
 */
import type { X509Certificate } from 'node:crypto';
import type { NproError } from '../core/errors.js';
import type { Endpoint } from './endpoint.js';

/** The transports that exist today (`ws`/`wss` parse but cannot be dialled yet). */
export type TransportName = 'tcp' | 'unix' | 'tls';

/**
 * What a connection tells its owner. Each handler is called on the event loop, never
 * re-entrantly from a method of the connection. A handler that throws destroys the connection;
 * the throw is reported to `error` as `CONNECTION_CLOSED` (with the thrown value as `cause`), never
 * to the process.
 */
export interface ConnectionHandlers {
  /** Bytes from the peer, in order. The chunk is the socket's buffer: keep it or copy it, as needed. */
  data(chunk: Uint8Array): void;
  /** The peer shut down its write direction (FIN). Ours stays open until `end()` or `destroy()`. */
  end(): void;
  /** The connection is fully closed; called exactly once, last. `hadError` is true after `error`. */
  close(hadError: boolean): void;
  /**
   * A socket error after connect: `CONNECTION_CLOSED` (the `cause` holds the system error, e.g.
   * ECONNRESET), or `TLS_ERROR` for a TLS failure (e.g. a server that refuses our certificate
   * after the TLS 1.3 handshake). `close` follows.
   */
  error(err: NproError): void;
  /** The write buffer fell below the high-water mark after a `write()` returned false. */
  drain(): void;
}

/** The state of a TLS connection, read when the handshake completed. */
export interface TlsInfo {
  /** True when the peer's certificate was verified against the trusted CAs (and host name, on a client). */
  readonly authorized: boolean;
  /** Why verification failed (an OpenSSL code such as `UNABLE_TO_VERIFY_LEAF_SIGNATURE`), if it did. */
  readonly authorizationError: string | undefined;
  /** The negotiated protocol, e.g. `TLSv1.3`. */
  readonly protocol: string;
  /** The peer's certificate, when it presented one (parsed on first access). */
  readonly peerCertificate: X509Certificate | undefined;
}

/**
 * A bidirectional byte stream to a peer.
 *
 * Backpressure (style habit 7): `write()` returns false once the write buffer is above the
 * high-water mark; stop writing and wait for `drain`. On the read side, `pause()` stops `data`
 * callbacks and, once the socket's read buffer is full, reading from the kernel.
 *
 * Ending (style habit 8, protocol.md §8): `end()` shuts down our write direction after the buffered
 * bytes are sent and keeps reading; `destroy()` closes at once, discarding buffered output. Neither
 * resets the connection.
 */
export interface Connection {
  readonly transport: TransportName;
  /**
   * True when the channel itself is already confidential and authenticated, so the session layer
   * may use plaintext records (protocol.md §8): a Unix socket (kernel-local), an accepted TLS
   * connection, and a TLS client connection whose server certificate was verified. False for TCP
   * and for a TLS client that did not verify the server.
   */
  readonly protected: boolean;
  /** The peer, for logs: `127.0.0.1:53412`, `[::1]:53412`; for a Unix socket its path or `@name`. */
  readonly remoteAddress: string;
  /** Our side, in the same form as `remoteAddress`. */
  readonly localAddress: string;
  /** Present on TLS connections only. */
  readonly tls: TlsInfo | undefined;
  /** Bytes accepted by `write()` and not yet handed to the kernel. */
  readonly writableLength: number;
  /**
   * Queues bytes for the peer; false when the write buffer is above the high-water mark (wait for
   * `drain`). After the connection closed the bytes are discarded and true is returned: the
   * `close` handler reports the end. Throws `INVALID_STATE` after our own `end()`.
   */
  write(data: Uint8Array): boolean;
  /** Writes several chunks with one system call where possible; same result as `write()`. */
  writev(chunks: readonly Uint8Array[]): boolean;
  /** Stops `data` callbacks until `resume()`. */
  pause(): void;
  resume(): void;
  /** Half-close: sends what is buffered, then shuts down our write direction. Reading goes on. */
  end(): void;
  /** Closes now, discarding buffered output. `err` only marks the close as `hadError`. */
  destroy(err?: Error): void;
  /**
   * Installs the handlers and starts delivering data; call it once, right after getting the
   * connection (a later call replaces the handlers). Nothing is read before the first call; an
   * error or close that happened before it is delivered just after it, on a microtask.
   */
  setHandlers(handlers: ConnectionHandlers): void;
}

/** A bound endpoint that hands out connections. */
export interface Listener {
  /** The endpoint actually bound, as a URL (the real port when port 0 was asked for). */
  readonly url: string;
  readonly endpoint: Endpoint;
  /** Sets the callback for accepted connections (for TLS: after a successful handshake). */
  onConnection(cb: (connection: Connection) => void): void;
  /**
   * Sets the callback for failures that produce no connection: a TLS handshake that failed
   * (`TLS_ERROR` with `details.reason`) or an accept error. Without one they are dropped.
   */
  onError(cb: (err: NproError) => void): void;
  /**
   * Stops handing out connections. The address stays bound; connections that arrive meanwhile wait
   * (unread, like the kernel backlog) up to the listen backlog, and any beyond that are closed.
   */
  pause(): void;
  /** Hands out the connections that waited, in arrival order, and new ones again. */
  resume(): void;
  /**
   * Stops accepting and releases the address (a Unix socket file is removed). Connections already
   * handed out are left to their owners; ones still waiting from `pause()` are destroyed.
   * Resolves once the address is free. Idempotent.
   */
  close(): Promise<void>;
}

/** TLS protocol versions npro accepts as a minimum or maximum. */
export type TlsVersion = 'TLSv1.2' | 'TLSv1.3';

/**
 * PEM input: PEM text (a string containing `-----BEGIN`), PEM bytes, or a path to a PEM file
 * (any other string). Files are read on each `listen()`/`connect()`.
 */
export type PemSource = string | Uint8Array;

/** Server side of `tls://` (behaviour.md §3 `[tls]`). */
export interface TlsServerOptions {
  cert: PemSource;
  key: PemSource;
  /** CAs trusted for client certificates (mutual TLS). */
  ca?: PemSource | readonly PemSource[];
  /** Require a client certificate signed by `ca` (`tls.verify_client`). Default false. */
  verifyClient?: boolean;
  /** Default `TLSv1.2` (`tls.min_version`). */
  minVersion?: TlsVersion;
  maxVersion?: TlsVersion;
  /** Accept → completed TLS handshake, in ms (default 10000). */
  handshakeTimeoutMs?: number;
}

/** Client side of `tls://`. */
export interface TlsClientOptions {
  /** CAs trusted for the server certificate (default: Node's bundled public CAs). */
  ca?: PemSource | readonly PemSource[];
  /** Client certificate and key, for mutual TLS. */
  cert?: PemSource;
  key?: PemSource;
  /** Name sent as SNI and checked against the certificate (default: the host, when it is a name). */
  servername?: string;
  /** Default `TLSv1.2`. */
  minVersion?: TlsVersion;
  maxVersion?: TlsVersion;
  /** Verify the server certificate (default true). False makes the connection unprotected. */
  rejectUnauthorized?: boolean;
}

export interface ListenOptions {
  /** Required for `tls://`. */
  tls?: TlsServerOptions;
  /** Kernel accept queue length, also the bound of connections held by `pause()` (default 511). */
  backlog?: number;
  /** File mode of a Unix socket path (default 0o600). Abstract names have no permissions. */
  unixMode?: number;
}

export interface ConnectOptions {
  /** Deadline for connect (and the TLS handshake), in ms; default 5000 (`client.connection_timeout`). */
  timeoutMs?: number;
  /** Aborting gives `CONNECT_FAILED` with `details.reason` 'aborted'. */
  signal?: AbortSignal;
  /** Options for `tls://`. */
  tls?: TlsClientOptions;
}
