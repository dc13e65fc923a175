/**
 * Endpoint URLs (behaviour.md §1): switching transport is one string.
 *
 * - `tcp://host:port`, or bare `host:port` (TCP); IPv6 hosts in brackets: `[::1]:9000`
 * - `tls://host:port`
 * - `unix:///absolute/path`, or `unix://@name` for a Linux abstract socket name
 * - `ws://host[:port][/path]`, `wss://…` (parsed; not dialled yet)
 *
 * Host names are allowed (`localhost:9000`). A Unix path is taken literally (no percent-decoding).
 * Paths and abstract names longer than 107 bytes are refused rather than silently truncated by the
 * kernel's 108-byte `sun_path` (behaviour.md §4 Daemon).
 */
import { isIP } from 'node:net';
import { NproError } from '../core/errors.js';

/** Longest Unix socket path, in bytes, that fits `sun_path` with its terminating NUL. */
export const MAX_UNIX_PATH_BYTES = 107;

export interface TcpEndpoint {
  readonly transport: 'tcp';
  /** A host name, an IPv4 address, or an IPv6 address without brackets. */
  readonly host: string;
  readonly port: number;
}

export interface TlsEndpoint {
  readonly transport: 'tls';
  readonly host: string;
  readonly port: number;
}

export interface UnixEndpoint {
  readonly transport: 'unix';
  /** The absolute path, or for an abstract socket the name without `@`. */
  readonly path: string;
  readonly abstract: boolean;
}

export interface WebSocketEndpoint {
  readonly transport: 'ws' | 'wss';
  readonly host: string;
  readonly port: number;
  /** The request path, `/` when the URL has none. */
  readonly path: string;
}

export type Endpoint = TcpEndpoint | TlsEndpoint | UnixEndpoint | WebSocketEndpoint;

const HOST_LABEL = /^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;

function invalid(input: string, why: string): NproError {
  return new NproError('CONFIG_INVALID', `invalid endpoint ${JSON.stringify(input)}: ${why}`, {
    details: { endpoint: input },
  });
}

function parseHost(input: string, host: string): string {
  if (host.startsWith('[')) {
    const inner = host.slice(1, -1);
    if (!host.endsWith(']') || isIP(inner) !== 6) throw invalid(input, `bad IPv6 address ${host}`);
    return inner;
  }
  if (host === '') throw invalid(input, 'missing host');
  if (isIP(host) === 4) return host;
  const name = host.endsWith('.') ? host.slice(0, -1) : host;
  if (name.length > 253 || !name.split('.').every((label) => HOST_LABEL.test(label))) {
    throw invalid(input, `bad host ${JSON.stringify(host)}`);
  }
  return host;
}

function parsePort(input: string, port: string): number {
  if (!/^[0-9]{1,5}$/.test(port) || Number(port) > 65535) throw invalid(input, `bad port ${JSON.stringify(port)}`);
  return Number(port);
}

/** Splits `host:port` (`[v6]:port`); `defaultPort` makes the port optional. */
function parseHostPort(input: string, authority: string, defaultPort?: number): { host: string; port: number } {
  const close = authority.lastIndexOf(']');
  const colon = authority.lastIndexOf(':');
  if (colon <= close) {
    if (defaultPort === undefined) throw invalid(input, 'missing port');
    return { host: parseHost(input, authority), port: defaultPort };
  }
  return { host: parseHost(input, authority.slice(0, colon)), port: parsePort(input, authority.slice(colon + 1)) };
}

function parseUnix(input: string, rest: string): UnixEndpoint {
  let path: string;
  let abstract: boolean;
  if (rest.startsWith('@')) {
    path = rest.slice(1);
    abstract = true;
    if (path === '') throw invalid(input, 'empty abstract socket name');
  } else if (rest.startsWith('/')) {
    path = rest;
    abstract = false;
  } else {
    throw invalid(input, 'a unix endpoint needs an absolute path (unix:///path) or an abstract name (unix://@name)');
  }
  if (path.includes('\0')) throw invalid(input, 'NUL byte in socket path');
  const bytes = Buffer.byteLength(path, 'utf8');
  if (bytes > MAX_UNIX_PATH_BYTES) {
    throw invalid(input, `socket path is ${bytes} bytes, longer than the ${MAX_UNIX_PATH_BYTES}-byte limit`);
  }
  return { transport: 'unix', path, abstract };
}

/**
 * Parses an endpoint URL; throws `CONFIG_INVALID` naming the input when it is not one.
 * Port 0 is accepted (listen on any free port).
 */
export function parseEndpoint(input: string): Endpoint {
  const sep = input.indexOf('://');
  if (sep < 0) {
    if (input.includes('/')) throw invalid(input, 'not host:port nor a URL');
    return { transport: 'tcp', ...parseHostPort(input, input) };
  }
  const scheme = input.slice(0, sep).toLowerCase();
  const rest = input.slice(sep + 3);
  switch (scheme) {
    case 'tcp':
    case 'tls':
      if (rest.includes('/')) throw invalid(input, `a ${scheme} endpoint takes no path`);
      return { transport: scheme, ...parseHostPort(input, rest) };
    case 'unix':
      return parseUnix(input, rest);
    case 'ws':
    case 'wss': {
      const slash = rest.indexOf('/');
      const authority = slash < 0 ? rest : rest.slice(0, slash);
      const path = slash < 0 ? '/' : rest.slice(slash);
      if (/[\s#]/.test(path)) throw invalid(input, 'bad characters in path');
      return { transport: scheme, ...parseHostPort(input, authority, scheme === 'ws' ? 80 : 443), path };
    }
    default:
      throw invalid(input, `unknown scheme ${JSON.stringify(scheme)} (tcp, tls, unix, ws, wss)`);
  }
}

function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** `host:port` with IPv6 hosts in brackets (the address form used in logs). */
export function formatHostPort(host: string, port: number): string {
  return `${formatHost(host)}:${port}`;
}

/** The canonical URL of an endpoint; `parseEndpoint(formatEndpoint(e))` equals `e`. */
export function formatEndpoint(e: Endpoint): string {
  switch (e.transport) {
    case 'unix':
      return e.abstract ? `unix://@${e.path}` : `unix://${e.path}`;
    case 'ws':
    case 'wss':
      return `${e.transport}://${formatHostPort(e.host, e.port)}${e.path}`;
    default:
      return `${e.transport}://${formatHostPort(e.host, e.port)}`;
  }
}
