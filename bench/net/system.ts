/**
 * The contract every measured network system implements: raw `node:net`/`node:tls` echo, `ws`,
 * `@grpc/grpc-js`, and npro itself. The harness runs the same scenarios against each one.
 *
 * ## Adding a system
 *
 * npro's own entries (`npro-tcp`, `npro-unix`, `npro-tls`) live in `bench/net/npro-system.ts`, which
 * is the worked example. To add more:
 *
 * 1. Write a module exporting `systems: System[]` and name it in `OPTIONAL_MODULES` in
 *    `systems.ts` (or add the objects to `BUILTIN_SYSTEMS`). An optional module that is absent is
 *    logged and skipped, so the suite runs while a system is still being built.
 * 2. Each entry implements this interface:
 *    - `startServer(ctx)` runs inside the server child process (`dist/bench/net/server-main.js`).
 *      Start the server on 127.0.0.1 port 0, or on a socket path under `ctx.socketDir`, answer every
 *      request by echoing its payload, and return its endpoint URL (`tcp://127.0.0.1:PORT`,
 *      `unix:///path`, `tls://127.0.0.1:PORT`), a connection counter and `close()`. The URL is all
 *      the client learns about the server: npro appends the daemon's public key as the fragment
 *      (`#<key>`), which its `connect` pins. TLS servers take `ctx.tls.certPem`/`keyPem`.
 *    - `connect(url, ctx)` runs inside the client child process and resolves once the connection
 *      and its handshake are complete. TLS clients trust `ctx.tls.caPem`. `request(payload)` sends
 *      one request and resolves with the echo; `pipeline()` streams messages with a window
 *      (`pipelineWithCalls` in `reply-queue.ts` builds it from `request()`); `close()` ends it.
 *    - `kind`: `'subject'` for npro (compared with the raw TCP ceiling and the best peer),
 *      `'peer'` for an alternative a user would choose, `'ceiling'` for a raw transport.
 * 3. Nothing else changes: `npm run bench -- rpc`, `npm run bench -- connections` (also
 *    `--systems npro-tcp,tcp`), `npm run perf -- --system NAME` (default `npro-tcp`, or `tcp` when
 *    npro's entries are absent) and the smoke test `tests/bench/bench-smoke.test.ts` include the
 *    new entries.
 *
 * Only the control messages (ready, address, RSS, stop) cross the IPC channel between the bench
 * and its children; every measured byte goes over loopback or a Unix socket.
 */

/** How a system is compared: ceilings are raw transports, peers are the alternatives a user would pick. */
export const SYSTEM_KINDS = { ceiling: 'ceiling', peer: 'peer', subject: 'subject' } as const;
export type SystemKind = (typeof SYSTEM_KINDS)[keyof typeof SYSTEM_KINDS];

/** PEM material for TLS systems: a CA, and a leaf for 127.0.0.1 / localhost signed by it. */
export interface TlsMaterial {
  caPem: string;
  certPem: string;
  keyPem: string;
}

/** What a server or client of a system gets from the harness (the same in both processes). */
export interface SystemContext {
  tls: TlsMaterial;
  /** Directory for Unix socket files (under `os.tmpdir()`), removed by the harness at the end. */
  socketDir: string;
}

/** A server started inside the server child process. */
export interface RunningServer {
  /** Endpoint URL that `connect()` understands. */
  readonly url: string;
  /** Connections the server holds open now, or `undefined` if the library does not expose it. */
  connections(): number | undefined;
  close(): Promise<void>;
}

/** Options of `ClientConn.pipeline`. */
export interface PipelineOptions {
  /** Messages to send at most. */
  count: number;
  /** Payload bytes per message. */
  size: number;
  /** Messages sent but not yet answered, at most. */
  window: number;
  /** `performance.now()` value after which no new message is sent. */
  deadline: number;
}

/** One client connection, opened by `System.connect`. */
export interface ClientConn {
  /** Sends one request and resolves with the echoed reply; many requests may be outstanding. */
  request(payload: Uint8Array): Promise<Uint8Array>;
  /**
   * Streams up to `count` messages with at most `window` unanswered, the way the system sends many
   * small messages best, and resolves with the number of replies received once every sent message
   * is answered. Not mixed with `request()` calls on the same connection.
   */
  pipeline(opts: PipelineOptions): Promise<number>;
  /** Closes the connection; resolves once it is closed on this side. */
  close(): Promise<void>;
}

/** One measured system. */
export interface System {
  /** Short name used on the command line, in results and file names (`tcp`, `grpc-unary`, `npro-tls`). */
  readonly name: string;
  /** One line for the report: what it is and how it is configured. */
  readonly label: string;
  readonly kind: SystemKind;
  /**
   * Name of another system this one shares its connections with (gRPC unary and streaming use the
   * same HTTP/2 channel): connection scenarios measure only that other one.
   */
  readonly sameConnectionAs?: string;
  /** npm packages whose versions the report records. */
  readonly packages: readonly string[];
  startServer(ctx: SystemContext): Promise<RunningServer>;
  connect(url: string, ctx: SystemContext): Promise<ClientConn>;
}
