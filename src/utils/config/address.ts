/**
 * Addresses and public keys as configuration values, and the two policies that depend on the
 * endpoint's scheme: whether records are encrypted (protocol.md §8) and which trust policy a client
 * applies to the server's key (protocol.md §6).
 *
 * An address is either `host:port` (meaning `tcp://host:port`; hostnames allowed, IPv6 in
 * brackets) or an endpoint URL (behaviour.md §1): `tcp://host:port`, `tls://host:port`,
 * `ws://host[:port][/path]`, `wss://host[:port][/path]`, `unix:///absolute/path` or `unix://@abstract`.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { fromBase64Url, utf8Encoder } from '../bytes.js';

export const SCHEMES = ['tcp', 'tls', 'ws', 'wss', 'unix'] as const;
export type Scheme = (typeof SCHEMES)[number];

/** The longest Unix socket path accepted: 107 bytes (sun_path minus its terminating NUL). */
export const MAX_UNIX_PATH_BYTES = 107;

/** A parsed address. `host` keeps IPv6 brackets off (`::1`); `path` is set for `unix` and `ws(s)`. */
export interface ParsedAddress {
  scheme: Scheme;
  host?: string;
  port?: number;
  path?: string;
}

export type AddressResult = { ok: true; address: ParsedAddress } | { ok: false; reason: string };

/**
 * Reads an address. `allowPortZero` admits port 0 (a listener asking the system for a free port);
 * a client address needs a real port.
 */
export function parseAddress(text: string, allowPortZero = false): AddressResult {
  if (text === '') return { ok: false, reason: 'cannot be empty' };
  const sep = text.indexOf('://');
  if (sep < 0) return parseHostPort(text, 'tcp', true, allowPortZero);
  const scheme = text.slice(0, sep).toLowerCase();
  const rest = text.slice(sep + 3);
  if (!(SCHEMES as readonly string[]).includes(scheme)) {
    return { ok: false, reason: `unknown scheme "${scheme}://" (use tcp://, unix://, tls://, ws:// or wss://)` };
  }
  if (scheme === 'unix') return parseUnix(rest);
  const slash = rest.indexOf('/');
  const authority = slash < 0 ? rest : rest.slice(0, slash);
  const path = slash < 0 ? '' : rest.slice(slash);
  const web = scheme === 'ws' || scheme === 'wss';
  if (!web && path !== '' && path !== '/') return { ok: false, reason: `a ${scheme}:// address takes no path` };
  const result = parseHostPort(authority, scheme as Scheme, !web, allowPortZero);
  if (result.ok && web) result.address.path = path === '' ? '/' : path;
  return result;
}

function parseUnix(rest: string): AddressResult {
  if (rest.startsWith('@')) {
    const name = rest.slice(1);
    if (name === '') return { ok: false, reason: 'an abstract Unix socket needs a name after "@"' };
    return checkUnixLength(rest);
  }
  if (!rest.startsWith('/') || rest.length === 1) {
    return { ok: false, reason: 'a unix:// address is unix:///absolute/path or unix://@abstract-name' };
  }
  return checkUnixLength(rest);
}

function checkUnixLength(path: string): AddressResult {
  const bytes = utf8Encoder.encode(path).length;
  if (bytes > MAX_UNIX_PATH_BYTES) {
    return { ok: false, reason: `Unix socket path is ${bytes} bytes; the limit is ${MAX_UNIX_PATH_BYTES}` };
  }
  return { ok: true, address: { scheme: 'unix', path } };
}

/** A DNS label; underscores are admitted because container and service names use them. */
const LABEL = /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;

function isHostname(host: string): boolean {
  return host.length <= 253 && host.split('.').every((label) => LABEL.test(label));
}

/** True for a DNS host name, an IPv4 address or an IPv6 address (without brackets). */
export function isHost(host: string): boolean {
  return isIPv4(host) || isIPv6(host) || isHostname(host);
}

function parseHostPort(text: string, scheme: Scheme, portRequired: boolean, allowPortZero: boolean): AddressResult {
  if (text.includes('@')) return { ok: false, reason: 'an address takes no user name ("@")' };
  let host: string;
  let portText: string | undefined;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) return { ok: false, reason: 'an IPv6 address in brackets is missing its "]"' };
    host = text.slice(1, close);
    const after = text.slice(close + 1);
    if (after !== '' && !after.startsWith(':')) return { ok: false, reason: 'expected ":port" after the IPv6 address' };
    portText = after === '' ? undefined : after.slice(1);
    if (!isIPv6(host)) return { ok: false, reason: `"${host}" is not an IPv6 address` };
  } else {
    const colon = text.lastIndexOf(':');
    if (colon >= 0 && text.indexOf(':') !== colon) {
      return { ok: false, reason: 'an IPv6 address must be written in brackets, e.g. [::1]:9000' };
    }
    host = colon < 0 ? text : text.slice(0, colon);
    portText = colon < 0 ? undefined : text.slice(colon + 1);
    if (host === '') return { ok: false, reason: 'the host is missing (expected host:port)' };
    if (!isIPv4(host) && !isHostname(host)) return { ok: false, reason: `"${host}" is not a valid host name or IP address` };
  }
  if (portText === undefined) {
    if (portRequired) return { ok: false, reason: 'the port is missing (expected host:port)' };
    return { ok: true, address: { scheme, host } };
  }
  if (!/^\d{1,5}$/.test(portText)) return { ok: false, reason: `"${portText}" is not a port number` };
  const port = Number(portText);
  if (port > 65535) return { ok: false, reason: `port ${port} is above 65535` };
  if (port === 0 && !allowPortZero) return { ok: false, reason: 'port 0 is only meaningful for a listener' };
  return { ok: true, address: { scheme, host, port } };
}

/** The scheme of a valid address (`host:port` is `tcp`); `undefined` when it does not parse. */
export function addressScheme(text: string): Scheme | undefined {
  const r = parseAddress(text, true);
  return r.ok ? r.address.scheme : undefined;
}

/** True for exactly 43 characters of unpadded base64url that decode to 32 bytes (protocol.md §6). */
export function isPublicKeyText(text: string): boolean {
  if (text.length !== 43) return false;
  const bytes = fromBase64Url(text);
  return bytes !== null && bytes.length === 32;
}

/** Schemes whose channel is not protected by the transport itself: records must be encrypted. */
export function schemeNeedsEncryption(scheme: Scheme): boolean {
  return scheme === 'tcp' || scheme === 'ws';
}

/**
 * Whether records on `address` are encrypted, given `transport.encryption_enabled` (behaviour.md §3):
 * `auto` encrypts on `tcp://` and `ws://` and uses plaintext records on `tls://`, `wss://` and
 * `unix://`; `true` always encrypts; `false` never does. Returns `undefined` when the setting is
 * not allowed for the address (`false` over `tcp://` or `ws://`) or the address does not parse.
 */
export function encryptsRecords(setting: 'auto' | boolean, address: string): boolean | undefined {
  const scheme = addressScheme(address);
  if (scheme === undefined) return undefined;
  if (setting === true) return true;
  if (setting === false) return schemeNeedsEncryption(scheme) ? undefined : false;
  return schemeNeedsEncryption(scheme);
}

export type TrustPolicy = 'pinned' | 'tofu' | 'any';
