/**
 * The configuration schema (behaviour.md §3): every key of every table with its type, default and
 * per-key validation, as zod schemas. Keys keep their TOML names (snake_case), so a key reads the
 * same in TOML, in the environment (`NETWORK_PROTOCOL_<TABLE>_<KEY>`) and in code
 * (`config.server.max_connections`). Rules that relate two keys live in `validate.ts`.
 *
 * Messages follow the crate's wording where the crate has the rule (network-protocol `config.rs`).
 */
import { existsSync, statSync } from 'node:fs';
import { z } from 'zod';
import { describe, formatDuration, MAX_DURATION_MS, parseDuration } from './duration.js';
import { isHost, isPublicKeyText, parseAddress } from './address.js';
import { utf8Encoder } from '../bytes.js';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const typeError = (what: string) => (issue: { input?: unknown }) => `expected ${what}, got ${describe(issue.input)}`;

const oneOf = (values: readonly string[]) => (issue: { input?: unknown }) =>
  `expected one of ${values.map((v) => `"${v}"`).join(', ')}, got ${describe(issue.input)}`;

/** An integer key: `min`…`max` inclusive, with the crate's messages for each bound. */
function integer(def: number, min: number, max: number, tooSmall: string, tooLarge: string) {
  return z
    .int({ error: typeError('an integer') })
    .min(min, { error: `${tooSmall} (minimum ${min})` })
    .max(max, { error: `${tooLarge} (maximum ${max})` })
    .default(def);
}

/** A duration key (duration.ts) in `min`…`max` milliseconds; `zeroMeansNever` also admits 0. */
function duration(def: number, min: number, max: number, what: string, zeroMeansNever = false) {
  return z
    .union([z.number(), z.string()], { error: typeError('a duration (integer milliseconds or a string like "5s")') })
    .transform((value, ctx) => {
      const r = parseDuration(value);
      if (!r.ok) {
        ctx.addIssue({ code: 'custom', message: r.reason, input: value });
        return z.NEVER;
      }
      return r.ms;
    })
    .pipe(
      z
        .number()
        .refine((ms) => ms >= min || (zeroMeansNever && ms === 0), {
          error: `${what} too short (minimum ${formatDuration(min)}${zeroMeansNever ? ', or 0 for never' : ''})`,
        })
        .refine((ms) => ms <= max, { error: `${what} too long (maximum ${formatDuration(max)})` }),
    )
    .default(def);
}

const boolean = (def: boolean) => z.boolean({ error: typeError('true or false') }).default(def);

/** A string that may be absent (no default). `null` (from an override or an empty variable) means none. */
const optionalString = (what: string) =>
  z
    .string({ error: typeError('a string') })
    .min(1, { error: `${what} cannot be empty (leave the key out for none)` })
    .nullish()
    .transform((v) => v ?? undefined);

/** An optional path that, when set, must name an existing file (checked before anything binds). */
const existingFile = (what: string) =>
  optionalString(what).superRefine((path, ctx) => {
    if (path !== undefined && !(existsSync(path) && statSync(path).isFile())) {
      ctx.addIssue({ code: 'custom', message: `${what} does not exist or is not a file: ${path}`, input: path });
    }
  });

const nonEmptyString = (def: string, what: string) =>
  z.string({ error: typeError('a string') }).min(1, { error: `${what} cannot be empty` }).default(def);

function address(def: string, side: 'server' | 'client') {
  const label = side === 'server' ? 'Server' : 'Client';
  return z
    .string({ error: typeError('an address string') })
    .superRefine((text, ctx) => {
      const r = parseAddress(text, side === 'server');
      if (r.ok) return;
      const message = text === '' ? `${label} address cannot be empty` : `Invalid ${side} address format: ${r.reason}`;
      ctx.addIssue({ code: 'custom', message, input: text });
    })
    .default(def);
}

const keyProblem = (text: string) =>
  `"${text.length > 60 ? `${text.slice(0, 60)}…` : text}" is not a public key (exactly 43 characters of unpadded base64url, 32 bytes)`;

const publicKey = z.string({ error: typeError('a public key string') }).superRefine((text, ctx) => {
  if (!isPublicKeyText(text)) ctx.addIssue({ code: 'custom', message: keyProblem(text), input: text });
});

const ENUMS = {
  compression_algorithm: ['lz4', 'zstd'],
  protocol: ['v2', 'v1', 'v1+v2'],
  trust: ['pinned', 'tofu', 'any'],
  min_version: ['TLSv1.2', 'TLSv1.3'],
} as const;

const enumOf = <T extends readonly [string, ...string[]]>(values: T) => z.enum(values, { error: oneOf(values) });

/** Largest frame payload (protocol.md §2) and the smallest the crate accepts. */
export const MAX_PAYLOAD_LIMIT = 16_777_216;
export const MIN_PAYLOAD_LIMIT = 1024;

export const serverSchema = z.strictObject({
  address: address('127.0.0.1:9000', 'server'),
  backpressure_limit: integer(32, 1, 1_000_000, 'Backpressure limit must be greater than 0', 'Backpressure limit too large'),
  connection_timeout: duration(5000, 100, 300_000, 'Connection timeout'),
  idle_timeout: duration(300_000, 100, MAX_DURATION_MS, 'Idle timeout'),
  heartbeat_interval: duration(15_000, 100, 3_600_000, 'Heartbeat interval'),
  heartbeat_timeout: duration(60_000, 100, MAX_DURATION_MS, 'Heartbeat timeout'),
  shutdown_timeout: duration(30_000, 1000, 60_000, 'Shutdown timeout'),
  max_connections: integer(1000, 1, 100_000, 'Max connections must be greater than 0', 'Max connections very high'),
  max_streams: integer(100, 1, 1_000_000, 'Max streams must be greater than 0', 'Max streams too large'),
  frame_timeout: duration(30_000, 100, 300_000, 'Frame timeout'),
  max_connection_age: duration(3_600_000, 100, MAX_DURATION_MS, 'Max connection age', true),
});

export const clientSchema = z.strictObject({
  address: address('127.0.0.1:9000', 'client'),
  connection_timeout: duration(5000, 100, 300_000, 'Connection timeout'),
  operation_timeout: duration(3000, 10, MAX_DURATION_MS, 'Operation timeout'),
  response_timeout: duration(30_000, 100, MAX_DURATION_MS, 'Response timeout'),
  heartbeat_interval: duration(15_000, 100, 3_600_000, 'Heartbeat interval'),
  auto_reconnect: boolean(true),
  max_reconnect_attempts: integer(3, 0, 1000, 'Max reconnect attempts cannot be negative', 'Max reconnect attempts too large'),
  reconnect_delay: duration(1000, 10, 60_000, 'Reconnect delay'),
});

export const transportSchema = z.strictObject({
  compression_enabled: boolean(false),
  compression_algorithm: enumOf(ENUMS.compression_algorithm).default('lz4'),
  compression_level: integer(6, 1, 22, 'Invalid compression level: Zstd levels are 1–22', 'Invalid compression level: Zstd levels are 1–22'),
  compression_threshold_bytes: integer(512, 0, MAX_PAYLOAD_LIMIT, 'Compression threshold cannot be negative', 'Compression threshold too large'),
  encryption_enabled: z
    .union([z.literal('auto'), z.boolean()], { error: (i) => `expected "auto", true or false, got ${describe(i.input)}` })
    .default('auto'),
  max_payload_size: z
    .int({ error: typeError('an integer') })
    .refine((n) => n !== 0, { error: 'Max payload size cannot be 0' })
    .refine((n) => n === 0 || n >= MIN_PAYLOAD_LIMIT, { error: `Max payload size too small (minimum ${MIN_PAYLOAD_LIMIT})` })
    .refine((n) => n <= MAX_PAYLOAD_LIMIT, { error: `Max payload size too large (maximum ${MAX_PAYLOAD_LIMIT})` })
    .default(MAX_PAYLOAD_LIMIT),
});

export const securitySchema = z.strictObject({
  protocol: enumOf(ENUMS.protocol).default('v2'),
  key_file: nonEmptyString('.npro/server.key', 'Key file path'),
  server_public_key: z
    .union([z.string(), z.array(z.string())], { error: typeError('a public key or a list of public keys') })
    .nullish()
    .superRefine((v, ctx) => {
      if (typeof v === 'string' && !isPublicKeyText(v)) ctx.addIssue({ code: 'custom', message: keyProblem(v), input: v });
      if (!Array.isArray(v)) return;
      if (v.length === 0) {
        ctx.addIssue({ code: 'custom', message: 'an empty list pins no key; leave the key out to use known_hosts', input: v });
      }
      v.forEach((key, i) => {
        if (!isPublicKeyText(key)) ctx.addIssue({ code: 'custom', message: keyProblem(key), input: key, path: [i] });
      });
    })
    .transform((v): string[] | undefined => (v === null || v === undefined ? undefined : typeof v === 'string' ? [v] : v)),
  known_hosts: nonEmptyString('.npro/known_hosts', 'Known hosts path'),
  trust: enumOf(ENUMS.trust)
    .nullish()
    .transform((v) => v ?? undefined),
  authorized_clients: z.array(publicKey, { error: typeError('a list of public keys') }).default([]),
});

export const tlsSchema = z.strictObject({
  cert_file: existingFile('TLS certificate file'),
  key_file: existingFile('TLS key file'),
  ca_file: existingFile('TLS CA file'),
  verify_client: boolean(false),
  server_name: optionalString('TLS server name').superRefine((name, ctx) => {
    if (name !== undefined && !isHost(name)) {
      ctx.addIssue({ code: 'custom', message: `"${name}" is not a host name or IP address`, input: name });
    }
  }),
  min_version: enumOf(ENUMS.min_version).default('TLSv1.2'),
});

export const poolSchema = z.strictObject({
  min_size: integer(0, 0, 10_000, 'Pool min size cannot be negative', 'Pool min size too large'),
  max_size: integer(10, 1, 10_000, 'Pool max size must be greater than 0', 'Pool max size too large'),
  idle_timeout: duration(300_000, 100, MAX_DURATION_MS, 'Pool idle timeout'),
  max_lifetime: duration(3_600_000, 100, MAX_DURATION_MS, 'Pool max lifetime'),
  breaker_failures: integer(5, 1, 1_000_000, 'Breaker failures must be greater than 0', 'Breaker failures too large'),
  breaker_reset: duration(30_000, 100, MAX_DURATION_MS, 'Breaker reset'),
});

export const loggingSchema = z.strictObject({
  app_name: z
    .string({ error: typeError('a string') })
    .refine((s) => s !== '', { error: 'Application name cannot be empty' })
    .refine((s) => utf8Encoder.encode(s).length <= 64, { error: 'Application name too long (at most 64 bytes)' })
    .default('npro'),
  log_level: z
    .string({ error: typeError('a log level string') })
    .transform((s) => s.toLowerCase())
    .pipe(z.enum(LOG_LEVELS, { error: (i) => `Invalid log level: ${describe(i.input)} (use trace, debug, info, warn or error)` }))
    .default('info'),
  log_to_console: boolean(true),
  log_to_file: boolean(false),
  log_file_path: optionalString('log_file_path'),
  json_format: boolean(false),
});

/** The tables in their documented order, each with its schema. */
export const TABLE_SCHEMAS = {
  server: serverSchema,
  client: clientSchema,
  transport: transportSchema,
  security: securitySchema,
  tls: tlsSchema,
  pool: poolSchema,
  logging: loggingSchema,
} as const;

export const networkConfigSchema = z.strictObject(TABLE_SCHEMAS);

export type TableName = keyof typeof TABLE_SCHEMAS;
export const TABLE_NAMES = Object.keys(TABLE_SCHEMAS) as TableName[];

/** The resolved configuration: every key present (optional keys may be `undefined`), durations in ms. */
export type NetworkConfigResolved = z.output<typeof networkConfigSchema>;

/** What a caller may pass as a layer: any subset of tables and keys, durations as ms or strings. */
export type NetworkConfigInput = { [T in TableName]?: Partial<z.input<(typeof TABLE_SCHEMAS)[T]>> };

/** The key names of one table. */
export type KeyOf<T extends TableName> = keyof NetworkConfigResolved[T] & string;

/** The keys of `table` in their documented order. */
export function tableKeys<T extends TableName>(table: T): KeyOf<T>[] {
  return Object.keys(TABLE_SCHEMAS[table].shape) as KeyOf<T>[];
}
