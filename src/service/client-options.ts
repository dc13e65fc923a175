/**
 * What `Client.connect` resolves before it dials (behaviour.md §3, protocol.md §6): the
 * configuration, the endpoint, the trust policy for the server's key, the client's identity and
 * TLS settings. Every problem is reported before any socket is opened.
 *
 * - Trust, in order: `serverPublicKey` / `security.server_public_key` (pinned) → `trust = "any"`
 *   set explicitly (a warning is logged) → over `tls://` with `trust` unset: any, the certificate
 *   authenticates the server → trust on first use in `security.known_hosts`, keyed by the endpoint
 *   URL as given.
 * - Identity: `staticSecret`; else a key file, only when asked for with `keyFile` (a path, or `true`
 *   for `security.key_file`: that key's default names the daemon's file, so a client never picks it
 *   up by accident), created with mode 0600 if absent; else one fresh key per process.
 * - TLS: `tls` options over `tls.ca_file`, `tls.cert_file` / `tls.key_file` (the client certificate,
 *   for mutual TLS), `tls.server_name`, `tls.min_version`.
 * - Protocol: the client speaks v2 only; `security.protocol = "v1"` is refused (`CONFIG_INVALID`),
 *   and with `"v1+v2"` it never falls back to v1 (protocol.md preamble).
 * - Heartbeats: a `Ping` after `client.heartbeat_interval` of silence; the connection is dropped
 *   (`HEARTBEAT_TIMEOUT`) when nothing arrives for `heartbeatTimeoutMs` after it, by default
 *   `server.heartbeat_timeout` of the same configuration (the client table has no such key).
 */
import { NproError } from '../core/errors.js';
import type { Endpoint, PemSource, TlsClientOptions } from '../transport/index.js';
import { formatEndpoint } from '../transport/index.js';
import type { CompressionSettings } from '../protocol/record.js';
import { resolveTrustPolicy, type TrustPolicy } from '../protocol/trust.js';
import type { NetworkConfig, NetworkConfigInput } from '../utils/config/index.js';
import { defaultCrypto, type CryptoProvider } from '../utils/crypto/index.js';
import { generateKeyPair, loadOrCreateKeyFile, type KeyPair } from '../utils/keys.js';
import { createLogger, type Logger } from '../utils/logger.js';
import { systemTimers, wallClock, type Timers } from '../utils/timers.js';
import {
  checkTimeout, checkTransport, compressionOf, decodableFeatures, endpointOf, invalid, plaintextAllowed, resolveConfig,
  schedulerOf, tlsVersion, type SessionHooks,
} from './options.js';
import type { Scheduler } from './outbound.js';

export interface ClientTlsOptions {
  /** CAs trusted for the server certificate (default `tls.ca_file`, else Node's public CAs). */
  ca?: PemSource | readonly PemSource[];
  /** Client certificate and key for mutual TLS (default `tls.cert_file` / `tls.key_file`). */
  cert?: PemSource;
  key?: PemSource;
  /** SNI and certificate name check (default `tls.server_name`, else the host). */
  serverName?: string;
}

export interface ClientOptions {
  /** Configuration input or a resolved configuration (default: every default). */
  config?: NetworkConfigInput | NetworkConfig;
  /** The client's static secret key (32 bytes). */
  staticSecret?: Uint8Array;
  /** Use a key file as identity: a path, or `true` for `security.key_file`. */
  keyFile?: string | true;
  /** Pinned server key(s), base64url (overrides `security.server_public_key`). */
  serverPublicKey?: string | readonly string[];
  /** Overrides `security.trust`. */
  trust?: 'pinned' | 'tofu' | 'any';
  tls?: ClientTlsOptions;
  /** Default: a logger made from `[logging]`, closed by `close()`. */
  logger?: Logger;
  /** Silence after a heartbeat `Ping` before `HEARTBEAT_TIMEOUT` (default `server.heartbeat_timeout`). */
  heartbeatTimeoutMs?: number;
  /**
   * Pushed messages kept for async iteration (default 1024): beyond it, reading pauses while an
   * iterator exists; with none, the oldest are dropped (`stats().droppedMessages`).
   */
  maxBufferedMessages?: number;
  hooks?: SessionHooks;
}

export interface ClientSettings {
  config: NetworkConfig;
  /** The endpoint as given: the known_hosts key. */
  endpointText: string;
  endpoint: Endpoint;
  url: string;
  policy: TrustPolicy;
  staticKey: KeyPair;
  tls: TlsClientOptions | undefined;
  crypto: CryptoProvider;
  timers: Timers;
  clock: () => number;
  log: Logger;
  schedule: Scheduler;
  features: number;
  compression: CompressionSettings | null;
  rekeyInterval: number | undefined;
  recordCounter: number | undefined;
  /** `transport.encryption_enabled` allows plaintext records on this endpoint. */
  plaintextRecords: boolean;
  heartbeatTimeoutMs: number;
  maxBufferedMessages: number;
}

let processKey: KeyPair | null = null;

/** Resolves everything `Client.connect` needs; `ownLogger` is the logger it made (to close). */
export async function resolveClientSettings(
  endpointText: string | undefined,
  options: ClientOptions,
): Promise<{ settings: ClientSettings; ownLogger: Logger | null }> {
  const config = resolveConfig(options.config);
  if (config.security.protocol === 'v1') {
    throw invalid('security.protocol', '"v1" is served by the daemon; Client speaks v2 (with "v1+v2" it never falls back to v1)');
  }
  const text = endpointText ?? config.client.address;
  const field = endpointText === undefined ? 'client.address' : 'endpoint';
  const endpoint = endpointOf(text, field);
  checkTransport(endpoint, field);
  const plaintextRecords = plaintextAllowed(config, endpoint, field);
  const hooks = options.hooks ?? {};
  const crypto = hooks.crypto ?? defaultCrypto;
  const heartbeatTimeoutMs = checkTimeout(options.heartbeatTimeoutMs ?? config.server.heartbeat_timeout, 'heartbeatTimeoutMs');
  const sec = config.security;
  const tlsTransport = endpoint.transport === 'tls' || endpoint.transport === 'wss';
  const { policy, warn } = await resolveTrustPolicy({
    serverPublicKey: options.serverPublicKey ?? sec.server_public_key,
    trust: options.trust ?? sec.trust,
    knownHostsPath: sec.known_hosts,
    endpoint: text,
    transportAuthenticatesServer: tlsTransport,
  });
  const staticKey = await identityOf(options, config, crypto);
  const compression = await compressionOf(config);
  const ownLogger = options.logger === undefined ? createLogger(config.logging) : null;
  const log = (options.logger ?? ownLogger!).child({ component: 'client' });
  if (warn) log.warn({ endpoint: text }, 'security.trust = "any": the server key is not checked; anyone in the middle can read and change the traffic');
  const settings: ClientSettings = {
    config, endpointText: text, endpoint, url: formatEndpoint(endpoint), policy, staticKey,
    tls: tlsTransport ? tlsOptions(config, options.tls) : undefined,
    crypto, timers: hooks.timers ?? systemTimers, clock: hooks.clock ?? wallClock, log, schedule: schedulerOf(hooks),
    features: decodableFeatures(), compression, rekeyInterval: hooks.rekeyInterval, recordCounter: hooks.recordCounter, plaintextRecords, heartbeatTimeoutMs,
    maxBufferedMessages: options.maxBufferedMessages ?? 1024,
  };
  return { settings, ownLogger };
}

async function identityOf(options: ClientOptions, config: NetworkConfig, crypto: CryptoProvider): Promise<KeyPair> {
  if (options.staticSecret !== undefined) {
    if (!(options.staticSecret instanceof Uint8Array) || options.staticSecret.length !== 32) {
      throw new NproError('CONFIG_INVALID', 'staticSecret must be 32 bytes');
    }
    return { secretKey: options.staticSecret, publicKey: crypto.x25519PublicKey(options.staticSecret) };
  }
  if (options.keyFile !== undefined) {
    const path = options.keyFile === true ? config.security.key_file : options.keyFile;
    const { secretKey, publicKey } = await loadOrCreateKeyFile(path, crypto);
    return { secretKey, publicKey };
  }
  processKey ??= generateKeyPair(crypto);
  return processKey;
}

function tlsOptions(config: NetworkConfig, given: ClientTlsOptions | undefined): TlsClientOptions {
  const t = config.tls;
  const out: TlsClientOptions = { minVersion: tlsVersion(t.min_version) };
  const ca = given?.ca ?? t.ca_file;
  const cert = given?.cert ?? t.cert_file;
  const key = given?.key ?? t.key_file;
  const servername = given?.serverName ?? t.server_name;
  if (ca !== undefined) out.ca = ca;
  if (cert !== undefined && key !== undefined) {
    out.cert = cert;
    out.key = key;
  }
  if (servername !== undefined) out.servername = servername;
  return out;
}
