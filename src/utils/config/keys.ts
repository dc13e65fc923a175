/**
 * What each configuration key means (behaviour.md §3), how an environment variable spells its value,
 * and what the example file and the documentation say about it. The mapped type makes the compiler
 * check that every key of the schema is described here, and nothing else.
 */
import type { KeyOf, TableName } from './schema.js';

/**
 * How an environment variable's text becomes a value: `string` as is; `optional` as is, empty =
 * none; `integer` decimal digits; `duration` as in duration.ts; `boolean` true/false/1/0/yes/no;
 * `enum` as is (checked by the schema); `encryption` auto or a boolean word; `keys` a
 * comma-separated list (empty = []); `key-or-keys` one key or a comma-separated list (empty = none).
 */
export type EnvKind = 'string' | 'optional' | 'integer' | 'duration' | 'boolean' | 'enum' | 'encryption' | 'keys' | 'key-or-keys';

export interface KeyInfo {
  kind: EnvKind;
  /** One sentence: what the key does. */
  doc: string;
  /** The accepted values, as documented (ranges, choices). */
  accepts: string;
  /** For a key without a default: a sample value shown commented out in the example file. */
  example?: string | string[];
}

type KeyTable = { [T in TableName]: { [K in KeyOf<T>]: KeyInfo } };

const ms = (range: string) => `duration, ${range}`;

export const KEY_INFO: KeyTable = {
  server: {
    address: { kind: 'string', doc: 'Listen endpoint of the daemon.', accepts: 'host:port (hostnames allowed, IPv6 in brackets, port 0 = any free port) or a tcp://, tls://, ws://, wss://, unix:// URL' },
    backpressure_limit: { kind: 'integer', doc: 'Inbound messages queued per connection before reads pause.', accepts: '1 … 1000000' },
    connection_timeout: { kind: 'duration', doc: 'Accept → completed handshake.', accepts: ms('100ms … 300s') },
    idle_timeout: { kind: 'duration', doc: 'No request traffic (Ping/Pong do not count) while nothing is in flight → Disconnect and close.', accepts: ms('100ms … 24.8 days') },
    heartbeat_interval: { kind: 'duration', doc: 'Send a Ping after this much silence.', accepts: ms('100ms … 1h') },
    heartbeat_timeout: { kind: 'duration', doc: 'Nothing received this long after a Ping → HEARTBEAT_TIMEOUT.', accepts: ms('greater than heartbeat_interval, at most 24.8 days') },
    shutdown_timeout: { kind: 'duration', doc: 'Drain deadline on shutdown, then force-close.', accepts: ms('1s … 60s') },
    max_connections: { kind: 'integer', doc: 'Beyond this many connections: REJECT SERVER_BUSY and close; accepting resumes below it.', accepts: '1 … 100000' },
    max_streams: { kind: 'integer', doc: 'Requests in flight per connection.', accepts: '1 … 1000000' },
    frame_timeout: { kind: 'duration', doc: "A frame's first byte → its last byte.", accepts: ms('100ms … 300s') },
    max_connection_age: { kind: 'duration', doc: 'A connection this old is sent GoAway and drained.', accepts: ms('0 (never) or 100ms … 24.8 days') },
  },
  client: {
    address: { kind: 'string', doc: 'Default endpoint of the client.', accepts: 'host:port (hostnames allowed, IPv6 in brackets) or a tcp://, tls://, ws://, wss://, unix:// URL' },
    connection_timeout: { kind: 'duration', doc: 'Connect + handshake.', accepts: ms('100ms … 300s') },
    operation_timeout: { kind: 'duration', doc: 'One send/write.', accepts: ms('10ms … 24.8 days') },
    response_timeout: { kind: 'duration', doc: 'Default request deadline.', accepts: ms('100ms … 24.8 days') },
    heartbeat_interval: { kind: 'duration', doc: 'Send a Ping after this much silence.', accepts: ms('100ms … 1h') },
    auto_reconnect: { kind: 'boolean', doc: 'Reconnect with backoff: reconnect_delay × 1.6 per attempt, ±20 % jitter, capped at 30 s.', accepts: 'true or false; true needs max_reconnect_attempts ≥ 1' },
    max_reconnect_attempts: { kind: 'integer', doc: 'Reconnect attempts before CONNECT_FAILED.', accepts: '0 … 1000 (≥ 1 when auto_reconnect)' },
    reconnect_delay: { kind: 'duration', doc: 'Delay before the first reconnect attempt.', accepts: ms('10ms … 60s') },
  },
  transport: {
    compression_enabled: { kind: 'boolean', doc: 'Offer and use payload compression.', accepts: 'true or false' },
    compression_algorithm: { kind: 'enum', doc: 'Preferred compression algorithm.', accepts: '"lz4" or "zstd"' },
    compression_level: { kind: 'integer', doc: 'Zstd compression level.', accepts: '1 … 22' },
    compression_threshold_bytes: { kind: 'integer', doc: 'Payloads smaller than this are sent uncompressed.', accepts: '0 … max_payload_size' },
    encryption_enabled: { kind: 'encryption', doc: '"auto": encrypted records on tcp:// and ws://, plaintext records on tls://, wss://, unix://; true always encrypts; false never (refused on tcp:// and ws://).', accepts: '"auto", true or false' },
    max_payload_size: { kind: 'integer', doc: 'Largest frame payload accepted, in bytes.', accepts: '1024 … 16777216' },
  },
  security: {
    protocol: { kind: 'enum', doc: 'Handshake protocol: v2 (Noise XX), v1 (crate-compatible, unauthenticated) or v1+v2 (the daemon serves both).', accepts: '"v2", "v1" or "v1+v2"' },
    key_file: { kind: 'string', doc: 'Static key file; the daemon creates it (mode 0600) on first start.', accepts: 'a non-empty path' },
    server_public_key: { kind: 'key-or-keys', doc: 'Pinned server key(s); a server presenting another key → SERVER_KEY_MISMATCH.', accepts: 'one public key or a list (43 characters of unpadded base64url each)', example: 'TdlXIYhIJKxMIWoRZXKISIHqkMMgKZk1T9xWHURdFRU' },
    known_hosts: { kind: 'string', doc: 'Trust-on-first-use store, keyed by endpoint URL.', accepts: 'a non-empty path' },
    trust: { kind: 'optional', doc: 'Trust policy for the server key; unset = pinned when server_public_key is set, any over tls:// and wss://, else tofu.', accepts: '"pinned", "tofu" or "any"; "pinned" needs server_public_key', example: 'tofu' },
    authorized_clients: { kind: 'keys', doc: 'Client public keys the daemon accepts; empty = any client.', accepts: 'a list of public keys (43 characters of unpadded base64url each)' },
  },
  tls: {
    cert_file: { kind: 'optional', doc: 'PEM certificate chain (the daemon on tls:// and wss://; a client for mTLS).', accepts: 'an existing file; set together with tls.key_file', example: 'certs/server.pem' },
    key_file: { kind: 'optional', doc: 'PEM private key of cert_file.', accepts: 'an existing file; set together with tls.cert_file', example: 'certs/server-key.pem' },
    ca_file: { kind: 'optional', doc: 'PEM CA certificates to trust instead of the system store.', accepts: 'an existing file', example: 'certs/ca.pem' },
    verify_client: { kind: 'boolean', doc: 'Require and verify client certificates (mTLS).', accepts: 'true or false' },
    server_name: { kind: 'optional', doc: 'Host name to check in the server certificate (default: the endpoint host).', accepts: 'a host name or IP address', example: 'localhost' },
    min_version: { kind: 'enum', doc: 'Lowest TLS version accepted.', accepts: '"TLSv1.2" or "TLSv1.3"' },
  },
  pool: {
    min_size: { kind: 'integer', doc: 'Connections kept open per endpoint.', accepts: '0 … max_size' },
    max_size: { kind: 'integer', doc: 'Most connections per endpoint.', accepts: '1 … 10000' },
    idle_timeout: { kind: 'duration', doc: 'Close a connection unused this long (above min_size).', accepts: ms('100ms … 24.8 days') },
    max_lifetime: { kind: 'duration', doc: 'Replace a connection this old.', accepts: ms('100ms … 24.8 days') },
    breaker_failures: { kind: 'integer', doc: 'Consecutive failures that open the circuit breaker.', accepts: '1 … 1000000' },
    breaker_reset: { kind: 'duration', doc: 'Open time before exactly one probe.', accepts: ms('100ms … 24.8 days') },
  },
  logging: {
    app_name: { kind: 'string', doc: 'Value of the "app" field on every log line.', accepts: '1 … 64 bytes' },
    log_level: { kind: 'enum', doc: 'Lowest level written.', accepts: 'trace, debug, info, warn, error (any case)' },
    log_to_console: { kind: 'boolean', doc: 'Write logs to standard output.', accepts: 'true or false; at least one output on' },
    log_to_file: { kind: 'boolean', doc: 'Append logs to log_file_path.', accepts: 'true or false; true needs log_file_path' },
    log_file_path: { kind: 'optional', doc: 'Log file, appended to; its directory must exist.', accepts: 'a path in an existing directory', example: 'logs/npro.log' },
    json_format: { kind: 'boolean', doc: 'JSON lines instead of human-readable lines.', accepts: 'true or false' },
  },
};

/** Prefix of every configuration environment variable. */
export const ENV_PREFIX = 'NETWORK_PROTOCOL_';

/** The environment variable of a key: `NETWORK_PROTOCOL_<TABLE>_<KEY>`, upper case. */
export function envName(table: TableName, key: string): string {
  return `${ENV_PREFIX}${table}_${key}`.toUpperCase();
}

/**
 * The crate's four variables (network-protocol `from_env`), kept for compatibility. When a legacy
 * variable and the `<TABLE>_<KEY>` variable both set a key, the `<TABLE>_<KEY>` variable wins.
 */
export const LEGACY_ENV: Readonly<Record<string, readonly { table: TableName; key: string }[]>> = {
  NETWORK_PROTOCOL_SERVER_ADDRESS: [{ table: 'server', key: 'address' }],
  NETWORK_PROTOCOL_BACKPRESSURE_LIMIT: [{ table: 'server', key: 'backpressure_limit' }],
  NETWORK_PROTOCOL_CONNECTION_TIMEOUT_MS: [
    { table: 'server', key: 'connection_timeout' },
    { table: 'client', key: 'connection_timeout' },
  ],
  NETWORK_PROTOCOL_HEARTBEAT_INTERVAL_MS: [{ table: 'server', key: 'heartbeat_interval' }],
};

/** One line per table for the example file and the documentation. */
export const TABLE_DOCS: Readonly<Record<TableName, string>> = {
  server: 'The daemon: where it listens, its limits and deadlines.',
  client: 'Clients: default endpoint, deadlines, reconnection.',
  transport: 'Payload size, compression and record encryption.',
  security: 'Handshake protocol, keys and trust.',
  tls: 'Certificates for tls:// and wss:// (PEM files).',
  pool: 'Connection pools: size per endpoint, lifetimes, circuit breaker.',
  logging: 'Structured logs: level, outputs, format.',
};
