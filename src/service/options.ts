/**
 * Turning what a caller gives `Daemon.start` / `Client.connect` into checked settings, before any
 * socket is opened (behaviour.md §4 Config: invalid values fail start-up before binding, naming each
 * field).
 */
import { NproError } from '../core/errors.js';
import { FEATURES } from '../protocol/handshake-messages.js';
import type { CompressionSettings } from '../protocol/record.js';
import { formatEndpoint, parseEndpoint, type Endpoint, type PemSource, type TlsVersion } from '../transport/index.js';
import { NetworkConfig, encryptsRecords, type NetworkConfigInput } from '../utils/config/index.js';
import { configError } from '../utils/config/validate.js';
import { initCompression, isZstdReady } from '../utils/compression/index.js';
import type { CryptoProvider } from '../utils/crypto/index.js';
import type { Timers } from '../utils/timers.js';
import { immediateScheduler, microtaskScheduler, type Scheduler } from './outbound.js';

/** Test hooks shared by the daemon and the client: injected clock, timers and crypto. */
export interface SessionHooks {
  /** Deadlines, heartbeats and backoff (default: `systemTimers`). */
  timers?: Timers;
  /** Unix ms for handshake timestamps (default `Date.now`); a skewed clock tests `STALE_TIMESTAMP`. */
  clock?: () => number;
  crypto?: CryptoProvider;
  /** Records per key (protocol.md §4; tests lower it, on both sides together). */
  rekeyInterval?: number;
  /** The first record counter of each direction (tests start near 2^48 − 1, on both sides together). */
  recordCounter?: number;
  /** When queued output is flushed outside a batch of input (default `microtask`). */
  flush?: 'microtask' | 'immediate';
}

/** PEM text, PEM bytes, or a path to a PEM file. */
export interface TlsMaterial {
  ca?: PemSource | readonly PemSource[];
  cert?: PemSource;
  key?: PemSource;
}

/** A resolved configuration from what a caller gave (defaults when nothing); checked once per unchanged input object. */
export function resolveConfig(input: NetworkConfigInput | NetworkConfig | undefined): NetworkConfig {
  if (input === undefined) return NetworkConfig.defaults();
  let text: string | undefined;
  try {
    text = JSON.stringify(input);
  } catch {
    text = undefined;
  }
  const hit = text === undefined ? undefined : resolvedConfigs.get(input);
  if (hit !== undefined && hit.text === text) return hit.config;
  const config = NetworkConfig.validateStrict(input);
  if (text !== undefined) resolvedConfigs.set(input, { text, config });
  return config;
}

/**
 * Configurations already checked, by the input object: a service that opens many clients with one
 * `config` object has it validated once. An entry is used only while the input still serialises to
 * the same text, so a changed object is checked again. The resolved object is shared: read-only.
 */
const resolvedConfigs = new WeakMap<object, { text: string; config: NetworkConfig }>();

export function schedulerOf(hooks: SessionHooks | undefined): Scheduler {
  return hooks?.flush === 'immediate' ? immediateScheduler : microtaskScheduler;
}

/** `CONFIG_INVALID` naming `field`. */
export function invalid(field: string, message: string): NproError {
  return configError([{ field, message }]);
}

/** An endpoint URL (or `host:port`), parsed; `CONFIG_INVALID` naming `field` otherwise. */
export function endpointOf(text: string, field: string): Endpoint {
  try {
    return parseEndpoint(text);
  } catch (err) {
    throw invalid(field, NproError.is(err) ? err.message : String(err));
  }
}

/**
 * Whether records on `endpoint` may be plaintext (protocol.md §8): `transport.encryption_enabled`
 * `auto` → plaintext on `tls://` and `unix://`; `true` → never; `false` → always, refused on
 * `tcp://` (`CONFIG_INVALID`). The connection must also be protected (`Connection.protected`).
 */
export function plaintextAllowed(config: NetworkConfig, endpoint: Endpoint, field: string): boolean {
  const url = formatEndpoint(endpoint);
  const setting = config.transport.encryption_enabled;
  const encrypts = encryptsRecords(setting, url);
  if (encrypts === undefined) {
    throw configError([
      { field: 'transport.encryption_enabled', message: `false is refused for ${url} (${field}): records must be encrypted on ${endpoint.transport}://` },
    ]);
  }
  return !encrypts;
}

/** The endpoints a transport can serve today; `ws://`/`wss://` are refused before anything binds. */
export function checkTransport(endpoint: Endpoint, field: string): void {
  if (endpoint.transport === 'ws' || endpoint.transport === 'wss') {
    throw invalid(field, `${formatEndpoint(endpoint)}: the ${endpoint.transport} transport is not available yet`);
  }
}

/** This side's compression settings (protocol.md §4), readying Zstd when it is configured. */
export async function compressionOf(config: NetworkConfig): Promise<CompressionSettings | null> {
  const t = config.transport;
  if (t.compression_algorithm === 'zstd' && t.compression_enabled) await initCompression();
  if (!t.compression_enabled) return null;
  return { algorithm: t.compression_algorithm, threshold: t.compression_threshold_bytes, level: t.compression_level };
}

/** Feature bits this side can decode (protocol.md §3): LZ4 always, Zstd once its module is loaded. */
export function decodableFeatures(): number {
  return FEATURES.LZ4 | (isZstdReady() ? FEATURES.ZSTD : 0);
}

export function tlsVersion(v: string): TlsVersion {
  return v === 'TLSv1.3' ? 'TLSv1.3' : 'TLSv1.2';
}

/** Which protocol versions `security.protocol` allows. */
export function protocolsOf(config: NetworkConfig): { v1: boolean; v2: boolean } {
  const p = config.security.protocol;
  return { v1: p === 'v1' || p === 'v1+v2', v2: p === 'v2' || p === 'v1+v2' };
}

/** A positive finite number of ms, or `INVALID_ARGUMENT`. */
export function checkTimeout(ms: number, what: string): number {
  if (typeof ms !== 'number' || Number.isNaN(ms) || ms <= 0) {
    throw new NproError('INVALID_ARGUMENT', `${what} must be a positive number of milliseconds, got ${String(ms)}`);
  }
  return ms;
}
