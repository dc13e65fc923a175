/**
 * The daemon (behaviour.md §1): listeners on endpoint URLs, one `ServerSession` per accepted
 * connection, statistics, events and a graceful shutdown.
 *
 * ```ts
 * const daemon = await Daemon.start({ listen: ['tcp://127.0.0.1:0'], dispatcher });
 * daemon.addresses;            // ['tcp://127.0.0.1:41234']
 * await daemon.shutdown();     // GoAway, drain until server.shutdown_timeout, close
 * ```
 *
 * - `start` checks the configuration, the endpoints and the key before anything binds
 *   (`CONFIG_INVALID` naming each field), then binds every endpoint (`ADDRESS_IN_USE`, …): it
 *   resolves once all are bound, or rejects having released the ones already bound.
 * - At `server.max_connections` a new connection gets REJECT `SERVER_BUSY` right after accept and is
 *   closed; accepting resumes as soon as the count is below the limit.
 * - Events never use the name `'error'`, so that nobody has to listen for the process to survive:
 *   `connection`, `connection-closed`, `session-error`.
 * - Library code installs no signal handlers; the `npro` command does.
 */
import { NproError } from '../core/errors.js';
import { encodeRejectFrame } from '../protocol/handshake-messages.js';
import { Dispatcher } from '../protocol/dispatcher.js';
import { formatEndpoint, listen, type Connection, type Listener, type ListenOptions } from '../transport/index.js';
import type { NetworkConfig, NetworkConfigInput } from '../utils/config/index.js';
import { defaultCrypto } from '../utils/crypto/index.js';
import { encodePublicKey, loadOrCreateKeyFile, parsePublicKey, type KeyPair } from '../utils/keys.js';
import { createLogger, type Logger } from '../utils/logger.js';
import { systemTimers, wallClock, type TimerHandle } from '../utils/timers.js';
import { TypedEmitter } from './events.js';
import {
  checkTransport, compressionOf, decodableFeatures, endpointOf, invalid, plaintextAllowed, protocolsOf, resolveConfig,
  schedulerOf, tlsVersion, type SessionHooks, type TlsMaterial,
} from './options.js';
import { ServerSession, type ListenerSettings, type ServerSettings, type SessionEnd } from './server-session.js';
import { LINGER_MS } from './session-core.js';
import { StatsCollector, type DaemonStats } from './stats.js';

export interface DaemonOptions {
  /** Configuration input or a resolved configuration (default: every default). */
  config?: NetworkConfigInput | NetworkConfig;
  /** Handlers (default: one with the built-in `PING` and `ECHO` only). */
  dispatcher?: Dispatcher;
  /** Endpoint URLs to listen on (default: `[server.address]`); port 0 asks for a free port. */
  listen?: readonly string[];
  /** Default: a logger made from `[logging]`, closed by `shutdown()`. */
  logger?: Logger;
  /** The static secret key (32 bytes); else `security.key_file`, created with mode 0600 if absent. */
  staticSecret?: Uint8Array;
  /** TLS certificate, key and client CA, overriding `tls.cert_file`, `tls.key_file`, `tls.ca_file`. */
  tls?: TlsMaterial;
  hooks?: SessionHooks;
}

/** The `connection` event: a session completed its handshake. */
export interface ConnectionEvent {
  sessionId: string;
  /** The client's static public key (base64url); for v1, its ephemeral key (v1 has no identity). */
  peerPublicKey: string;
  address: string;
  protocol: 'v1' | 'v2';
  /** The listener's URL. */
  endpoint: string;
}

/** The `connection-closed` event. `code` is null for an ordinary ending. */
export interface ConnectionClosedEvent {
  sessionId: string;
  address: string;
  code: string | null;
  reason: string;
}

/** The `session-error` event: a handshake, session or listener failure (the daemon keeps running). */
export interface SessionErrorEvent {
  code: string;
  error: NproError;
  address: string;
  /** Empty before the handshake completed. */
  sessionId: string;
}

export interface DaemonEvents {
  connection: ConnectionEvent;
  'connection-closed': ConnectionClosedEvent;
  'session-error': SessionErrorEvent;
}

interface Bind {
  url: string;
  options: ListenOptions;
  listener: ListenerSettings;
}

export class Daemon extends TypedEmitter<DaemonEvents> {
  /** The bound endpoint URLs, with the real ports. */
  readonly addresses: string[] = [];
  /** The daemon's static public key (base64url, 43 characters). */
  readonly publicKey: string;
  readonly config: NetworkConfig;
  readonly #settings: ServerSettings;
  readonly #listeners: Listener[] = [];
  readonly #sessions = new Set<ServerSession>();
  readonly #refused = new Set<Connection>();
  readonly #ownLogger: Logger | null;
  readonly #log: Logger;
  #stopping: Promise<void> | null = null;
  #stopDeadline = Infinity;

  private constructor(config: NetworkConfig, settings: Omit<ServerSettings, 'events'>, ownLogger: Logger | null) {
    super();
    this.config = config;
    this.publicKey = encodePublicKey(settings.staticKey.publicKey);
    this.#ownLogger = ownLogger;
    this.#log = settings.log.child({ component: 'daemon' });
    this.#settings = {
      ...settings,
      events: {
        established: (s) => this.#established(s),
        failed: (s, error) => this.emit('session-error', { code: error.code, error, address: s.peer.address, sessionId: s.sessionId }),
        closed: (s, end) => this.#closed(s, end),
      },
    };
  }

  /** Checks everything, binds every endpoint, and resolves with the running daemon. */
  static async start(options: DaemonOptions = {}): Promise<Daemon> {
    const config = resolveConfig(options.config);
    const binds = planListeners(config, options);
    const hooks = options.hooks ?? {};
    const crypto = hooks.crypto ?? defaultCrypto;
    const staticKey: KeyPair =
      options.staticSecret !== undefined
        ? { secretKey: checkSecret(options.staticSecret), publicKey: crypto.x25519PublicKey(options.staticSecret) }
        : await loadOrCreateKeyFile(config.security.key_file, crypto);
    const authorized = config.security.authorized_clients.map(parsePublicKey);
    const compression = await compressionOf(config);
    const protocols = protocolsOf(config);
    const ownLogger = options.logger === undefined ? createLogger(config.logging) : null;
    const root = options.logger ?? ownLogger!;
    const log = root.child({ component: 'daemon' });
    if (protocols.v1) log.warn('security.protocol allows v1: v1 authenticates nobody (no server or client identity)');
    const daemon = new Daemon(
      config,
      {
        config, dispatcher: options.dispatcher ?? new Dispatcher(), staticKey, authorized, crypto, log: root,
        timers: hooks.timers ?? systemTimers, clock: hooks.clock ?? wallClock, stats: new StatsCollector(),
        allowV1: protocols.v1, allowV2: protocols.v2, features: decodableFeatures(), compression,
        rekeyInterval: hooks.rekeyInterval, recordCounter: hooks.recordCounter, schedule: schedulerOf(hooks),
      },
      ownLogger,
    );
    try {
      for (const bind of binds) await daemon.#bind(bind);
    } catch (err) {
      await Promise.all(daemon.#listeners.map((l) => l.close()));
      await ownLogger?.close();
      throw err;
    }
    log.info({ addresses: daemon.addresses, publicKey: daemon.publicKey }, 'listening');
    return daemon;
  }

  /** A snapshot of the counters. */
  stats(): DaemonStats {
    let queued = 0;
    for (const s of this.#sessions) queued += s.queuedBytes;
    return this.#settings.stats.snapshot(queued);
  }

  /** Sessions open now (for tests and tools). */
  get sessionCount(): number {
    return this.#sessions.size;
  }

  /**
   * Stops accepting (listeners closed, Unix socket files removed), sends `GoAway` on every session,
   * lets in-flight requests finish until `timeoutMs` (default `server.shutdown_timeout`; 0 = now),
   * then aborts the rest (handlers' signals, `Failure{id, "DEADLINE_EXCEEDED"}`), sends `Disconnect`
   * and closes. Resolves once every connection is closed. A second call with an earlier deadline
   * brings the forced end forward.
   */
  shutdown(options: { timeoutMs?: number } = {}): Promise<void> {
    const timeoutMs = Math.max(0, options.timeoutMs ?? this.config.server.shutdown_timeout);
    const timers = this.#settings.timers;
    if (this.#stopping !== null) {
      if (timers.now() + timeoutMs < this.#stopDeadline) {
        this.#stopDeadline = timers.now() + timeoutMs;
        if (timeoutMs === 0) for (const s of this.#sessions) s.forceClose();
        else for (const s of this.#sessions) s.goAway('the daemon is shutting down', timeoutMs);
      }
      return this.#stopping;
    }
    this.#stopDeadline = timers.now() + timeoutMs;
    this.#stopping = this.#stop(timeoutMs);
    return this.#stopping;
  }

  async #stop(timeoutMs: number): Promise<void> {
    const log = this.#log;
    log.info({ timeoutMs }, 'shutting down');
    await Promise.all(this.#listeners.map((l) => l.close()));
    for (const s of this.#sessions) {
      s.goAway('the daemon is shutting down', timeoutMs);
      if (timeoutMs === 0) s.forceClose();
    }
    await Promise.all([...this.#sessions].map((s) => s.closed));
    for (const c of this.#refused) c.destroy();
    log.info('stopped');
    await this.#ownLogger?.close();
  }

  async #bind(bind: Bind): Promise<void> {
    const listener = await listen(bind.url, bind.options);
    this.#listeners.push(listener);
    const settings: ListenerSettings = { ...bind.listener, url: listener.url };
    this.addresses.push(listener.url);
    listener.onConnection((c) => this.#accept(c, settings));
    listener.onError((error) => {
      this.#settings.stats.error(error.code);
      this.emit('session-error', { code: error.code, error, address: listener.url, sessionId: '' });
    });
  }

  #accept(connection: Connection, listener: ListenerSettings): void {
    const s = this.#settings;
    s.stats.connectionsTotal++;
    if (this.#stopping !== null) {
      connection.destroy();
      return;
    }
    if (this.#sessions.size >= this.config.server.max_connections) {
      this.#refuse(connection);
      return;
    }
    const session = new ServerSession(connection, s, listener);
    this.#sessions.add(session);
    s.stats.connectionsCurrent++;
    session.start();
  }

  /** REJECT `SERVER_BUSY` before reading anything, then close as protocol.md §8 says. */
  #refuse(connection: Connection): void {
    const stats = this.#settings.stats;
    stats.connectionsRefused++;
    stats.error('SERVER_BUSY');
    this.#refused.add(connection);
    let linger: TimerHandle | null = null;
    connection.setHandlers({
      data: () => undefined,
      end: () => undefined,
      error: () => undefined,
      drain: () => undefined,
      close: () => {
        linger?.cancel();
        this.#refused.delete(connection);
      },
    });
    const frame = encodeRejectFrame('SERVER_BUSY', `max_connections (${this.config.server.max_connections}) reached`);
    stats.bytesOut += frame.length;
    connection.write(frame);
    connection.end();
    linger = this.#settings.timers.setTimeout(() => connection.destroy(), LINGER_MS);
  }

  #established(session: ServerSession): void {
    this.#log.debug({ sessionId: session.sessionId, address: session.peer.address, protocol: session.version }, 'session open');
    this.emit('connection', {
      sessionId: session.sessionId,
      peerPublicKey: session.peer.publicKeyText,
      address: session.peer.address,
      protocol: session.version ?? 'v2',
      endpoint: session.listener.url,
    });
  }

  #closed(session: ServerSession, end: SessionEnd): void {
    if (!this.#sessions.delete(session)) return;
    this.#settings.stats.connectionsCurrent--;
    if (!session.established) return;
    this.#log.debug({ sessionId: session.sessionId, code: end.code, reason: end.reason }, 'session closed');
    this.emit('connection-closed', { sessionId: session.sessionId, address: session.peer.address, code: end.code, reason: end.reason });
  }
}

function checkSecret(secret: Uint8Array): Uint8Array {
  if (!(secret instanceof Uint8Array) || secret.length !== 32) {
    throw new NproError('CONFIG_INVALID', 'staticSecret must be 32 bytes');
  }
  return secret;
}

/** Every endpoint checked (and its TLS material present) before the first bind. */
function planListeners(config: NetworkConfig, options: DaemonOptions): Bind[] {
  const field = options.listen === undefined ? 'server.address' : 'listen';
  const urls = options.listen ?? [config.server.address];
  if (urls.length === 0) throw invalid('listen', 'at least one endpoint is needed');
  const t = config.tls;
  const cert = options.tls?.cert ?? t.cert_file;
  const key = options.tls?.key ?? t.key_file;
  const ca = options.tls?.ca ?? t.ca_file;
  return urls.map((text) => {
    const endpoint = endpointOf(text, field);
    checkTransport(endpoint, field);
    const plaintextRecords = plaintextAllowed(config, endpoint, field);
    const url = formatEndpoint(endpoint);
    const listenOptions: ListenOptions = {};
    if (endpoint.transport === 'tls') {
      if (cert === undefined || key === undefined) throw invalid('tls.cert_file', `${url} needs tls.cert_file and tls.key_file`);
      if (t.verify_client && ca === undefined) throw invalid('tls.ca_file', 'tls.verify_client needs tls.ca_file (the CA of client certificates)');
      listenOptions.tls = {
        cert, key, verifyClient: t.verify_client, minVersion: tlsVersion(t.min_version),
        handshakeTimeoutMs: config.server.connection_timeout, ...(ca === undefined ? {} : { ca }),
      };
    }
    return { url, options: listenOptions, listener: { url, plaintextRecords } };
  });
}
