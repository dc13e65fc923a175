/**
 * From configured endpoint URLs to the addresses a pool dials (behaviour.md §1 `ConnectionPool`).
 *
 * - A `tcp://` or `tls://` host name is resolved once, when the pool starts, with `dns.lookup(host,
 *   { all: true })`. A name with several addresses (`localhost` → 127.0.0.1 and ::1) becomes one
 *   endpoint per address, each with its own connections, limits and breaker; a name with one address
 *   stays one endpoint dialled by name. IP literals and `unix://` paths are used as given.
 * - The server is still identified by the configured URL, not by the address dialled: trust on
 *   first use (protocol.md §6) keys `known_hosts` by the configured URL. For a name with several
 *   addresses, a key already in `known_hosts` for that URL is pinned on every address; without one,
 *   the first connection that needs it makes a first contact by name (a connection keyed by the
 *   configured URL, which records the key once a `Ping` round trip proves the session, then closes),
 *   and every address is then pinned to that key. Over `tls://` the certificate is checked against
 *   the configured host name (`tls.server_name` when set), not the address.
 * - Pinned keys (`serverPublicKey`, `security.server_public_key`) and `trust = "any"` apply as they
 *   are, whatever the address.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { NproError } from '../core/errors.js';
import { resolveTrustPolicy } from '../protocol/trust.js';
import { formatEndpoint, type Endpoint } from '../transport/index.js';
import { toBase64Url } from '../utils/bytes.js';
import type { NetworkConfig } from '../utils/config/index.js';
import type { ClientOptions } from './client.js';
import { checkTransport, endpointOf } from './options.js';
import type { LookupAddress, PoolConnection, PoolTarget } from './pool-options.js';

/** `dns.lookup(host, { all: true })`. */
export const systemLookup = (host: string): Promise<LookupAddress[]> => dnsLookup(host, { all: true });

/** The endpoints of one configured URL, sharing how their server is trusted. */
export class TargetGroup<C extends PoolConnection> {
  readonly configuredUrl: string;
  readonly urls: readonly string[];
  #options: ClientOptions;
  #firstContact: Promise<ClientOptions> | null = null;
  #needsFirstContact: boolean;
  readonly #connect: (target: PoolTarget) => Promise<C>;
  readonly #pingTimeoutMs: number;

  constructor(
    configuredUrl: string,
    urls: readonly string[],
    options: ClientOptions,
    needsFirstContact: boolean,
    connect: (target: PoolTarget) => Promise<C>,
    pingTimeoutMs: number,
  ) {
    this.configuredUrl = configuredUrl;
    this.urls = urls;
    this.#options = options;
    this.#needsFirstContact = needsFirstContact;
    this.#connect = connect;
    this.#pingTimeoutMs = pingTimeoutMs;
  }

  /** The options as configured (before any first contact pins a key). */
  get initialOptions(): ClientOptions {
    return this.#options;
  }

  /** The client options for a connection of this group (after the first contact, when one is due). */
  async options(): Promise<ClientOptions> {
    if (!this.#needsFirstContact) return this.#options;
    this.#firstContact ??= this.#contact().then(
      (options) => {
        this.#options = options;
        this.#needsFirstContact = false;
        return options;
      },
      (err: unknown) => {
        this.#firstContact = null;
        throw err;
      },
    );
    return this.#firstContact;
  }

  /** Opens a connection to `url` (one of `urls`). */
  async connect(url: string): Promise<C> {
    const options = await this.options();
    return this.#connect({ url, configuredUrl: this.configuredUrl, options });
  }

  /** Trust on first use by name: the client keyed by the configured URL records the key. */
  async #contact(): Promise<ClientOptions> {
    const client = await this.#connect({ url: this.configuredUrl, configuredUrl: this.configuredUrl, options: this.#options });
    let key: string | undefined;
    try {
      await client.ping({ timeoutMs: this.#pingTimeoutMs });
      key = client.serverPublicKey;
    } finally {
      await client.close();
    }
    if (key === undefined || key === '') throw new NproError('HANDSHAKE_FAILED', `the first contact with ${this.configuredUrl} gave no server key`);
    return { ...this.#options, serverPublicKey: key };
  }
}

export interface ResolveTargetsOptions<C extends PoolConnection> {
  config: NetworkConfig;
  options: ClientOptions;
  lookup: (host: string) => Promise<LookupAddress[]>;
  connect: (target: PoolTarget) => Promise<C>;
  pingTimeoutMs: number;
}

/** Parses, checks and resolves every configured endpoint (`CONFIG_INVALID` / `CONNECT_FAILED` otherwise). */
export async function resolveTargets<C extends PoolConnection>(texts: readonly string[], o: ResolveTargetsOptions<C>): Promise<TargetGroup<C>[]> {
  if (texts.length === 0) throw new NproError('CONFIG_INVALID', 'a pool needs at least one endpoint');
  const groups: TargetGroup<C>[] = [];
  const seen = new Set<string>();
  for (const text of texts) {
    const endpoint = endpointOf(text, 'endpoints');
    checkTransport(endpoint, 'endpoints');
    const addresses = await addressesOf(endpoint, o.lookup);
    const urls = addresses === null ? [text] : addresses.map((address) => formatEndpoint({ ...endpoint, host: address } as Endpoint));
    const fresh = urls.filter((u) => !seen.has(u));
    if (fresh.length === 0) continue;
    for (const u of fresh) seen.add(u);
    if (addresses === null) {
      groups.push(new TargetGroup(text, fresh, o.options, false, o.connect, o.pingTimeoutMs));
      continue;
    }
    const { options, firstContact } = await expandedTrust(text, endpoint, o);
    groups.push(new TargetGroup(text, fresh, options, firstContact, o.connect, o.pingTimeoutMs));
  }
  return groups;
}

/** The addresses of a host name with more than one; null when the endpoint is dialled as given. */
async function addressesOf(endpoint: Endpoint, lookup: (host: string) => Promise<LookupAddress[]>): Promise<string[] | null> {
  if (endpoint.transport !== 'tcp' && endpoint.transport !== 'tls') return null;
  if (isIP(endpoint.host) !== 0) return null;
  let found: LookupAddress[];
  try {
    found = await lookup(endpoint.host);
  } catch (cause) {
    throw new NproError('CONNECT_FAILED', `cannot resolve ${endpoint.host}`, { cause, retryable: true, details: { host: endpoint.host } });
  }
  const unique = [...new Set(found.map((a) => a.address))];
  if (unique.length === 0) throw new NproError('CONNECT_FAILED', `${endpoint.host} has no address`, { details: { host: endpoint.host } });
  return unique.length > 1 ? unique : null;
}

/** How the addresses of `configuredUrl` trust their server (see the module comment). */
async function expandedTrust<C extends PoolConnection>(
  configuredUrl: string,
  endpoint: Endpoint,
  o: ResolveTargetsOptions<C>,
): Promise<{ options: ClientOptions; firstContact: boolean }> {
  const sec = o.config.security;
  const tls = endpoint.transport === 'tls' || endpoint.transport === 'wss';
  let options = o.options;
  if (endpoint.transport === 'tls') {
    const serverName = options.tls?.serverName ?? o.config.tls.server_name ?? endpoint.host;
    options = { ...options, tls: { ...options.tls, serverName } };
  }
  const { policy } = await resolveTrustPolicy({
    serverPublicKey: options.serverPublicKey ?? sec.server_public_key,
    trust: options.trust ?? sec.trust,
    knownHostsPath: sec.known_hosts,
    endpoint: configuredUrl,
    transportAuthenticatesServer: tls,
  });
  if (policy.kind !== 'tofu') return { options, firstContact: false };
  const known = policy.store.lookup(configuredUrl);
  if (known !== undefined) return { options: { ...options, serverPublicKey: toBase64Url(known) }, firstContact: false };
  return { options, firstContact: true };
}
