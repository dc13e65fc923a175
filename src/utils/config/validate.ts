/**
 * Checking a configuration (behaviour.md §3): every key against its schema, unknown tables and keys,
 * and the rules that relate two keys. Every problem is reported at once, each naming its field and,
 * when known, where the value came from (a file and line, an environment variable, the overrides).
 */
import { existsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { NproError } from '../../core/errors.js';
import { formatDuration } from './duration.js';
import { addressScheme, schemeNeedsEncryption } from './address.js';
import { TABLE_NAMES, TABLE_SCHEMAS, tableKeys, type NetworkConfigResolved, type TableName } from './schema.js';

/** One thing wrong with a configuration. */
export interface ConfigProblem {
  /** `table.key` (or `table`, or an environment variable's name, or a file name). */
  field: string;
  message: string;
  /** Where the value came from: `file.toml:12`, `NETWORK_PROTOCOL_…`, `overrides`. */
  source?: string;
}

/** Field → where its value came from. */
export type Sources = ReadonlyMap<string, string>;

export interface CheckResult {
  /** The resolved configuration, present only when there is no problem. */
  config: NetworkConfigResolved | undefined;
  problems: ConfigProblem[];
}

const isTable = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);

/** Checks `input` (a resolved configuration or a layer of input values) and resolves it. */
export function checkConfig(input: unknown, sources: Sources = new Map()): CheckResult {
  const problems: ConfigProblem[] = [];
  const add = (field: string, message: string) => {
    const key = field.replace(/\[.*$/, '');
    const source = sources.get(field) ?? sources.get(key) ?? sources.get(key.split('.')[0]!);
    problems.push(source === undefined ? { field, message } : { field, message, source });
  };
  if (!isTable(input)) {
    add('(root)', 'a configuration is a table of tables');
    return { config: undefined, problems };
  }
  for (const name of Object.keys(input)) {
    if (!(TABLE_NAMES as string[]).includes(name)) add(name, unknownMessage('table', name, TABLE_NAMES));
  }
  const values: Record<string, Record<string, unknown>> = {};
  const valid: Record<string, Set<string>> = {};
  for (const table of TABLE_NAMES) {
    const raw = input[table] ?? {};
    values[table] = {};
    valid[table] = new Set();
    if (!isTable(raw)) {
      add(table, `expected a table ([${table}]), got ${Array.isArray(raw) ? 'an array' : typeof raw}`);
      continue;
    }
    const keys = tableKeys(table);
    for (const key of Object.keys(raw)) {
      if (!(keys as string[]).includes(key)) add(`${table}.${key}`, unknownMessage(`key in [${table}]`, key, keys));
    }
    const shape = TABLE_SCHEMAS[table].shape as Record<string, { safeParse(v: unknown): SafeResult }>;
    for (const key of keys) {
      const r = shape[key]!.safeParse(raw[key]);
      if (r.success) {
        values[table]![key] = r.data;
        valid[table]!.add(key);
        continue;
      }
      for (const issue of r.error?.issues ?? []) add(fieldPath(table, key, issue.path), issue.message);
    }
  }
  crossChecks(values, valid, add);
  return problems.length === 0
    ? { config: values as unknown as NetworkConfigResolved, problems }
    : { config: undefined, problems };
}

interface SafeResult {
  success: boolean;
  data?: unknown;
  error?: { issues: { path: PropertyKey[]; message: string }[] } | undefined;
}

function fieldPath(table: string, key: string, path: readonly PropertyKey[]): string {
  let out = `${table}.${key}`;
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : `.${String(p)}`;
  return out;
}

/** Rules relating two keys (the crate's cross-checks plus npro's). Skipped when a key is itself invalid. */
function crossChecks(
  values: Record<string, Record<string, unknown>>,
  valid: Record<string, Set<string>>,
  add: (field: string, message: string) => void,
): void {
  const has = (table: TableName, ...keys: string[]) => keys.every((k) => valid[table]!.has(k));
  const v = values as unknown as NetworkConfigResolved;
  if (has('server', 'heartbeat_interval', 'heartbeat_timeout') && v.server.heartbeat_timeout <= v.server.heartbeat_interval) {
    add(
      'server.heartbeat_timeout',
      `Heartbeat timeout (${formatDuration(v.server.heartbeat_timeout)}) must be greater than heartbeat_interval (${formatDuration(v.server.heartbeat_interval)})`,
    );
  }
  if (has('client', 'auto_reconnect', 'max_reconnect_attempts') && v.client.auto_reconnect && v.client.max_reconnect_attempts === 0) {
    add('client.max_reconnect_attempts', 'Max reconnect attempts must be greater than 0 when auto_reconnect is true');
  }
  const t = v.transport;
  if (has('transport', 'compression_threshold_bytes', 'max_payload_size') && t.compression_threshold_bytes > t.max_payload_size) {
    add('transport.compression_threshold_bytes', `Compression threshold cannot be larger than max payload size (${t.max_payload_size})`);
  }
  if (has('transport', 'encryption_enabled') && t.encryption_enabled === false) {
    for (const side of ['server', 'client'] as const) {
      if (!has(side, 'address')) continue;
      const scheme = addressScheme(v[side].address);
      if (scheme !== undefined && schemeNeedsEncryption(scheme)) {
        add(
          'transport.encryption_enabled',
          `false is refused: ${side}.address "${v[side].address}" is ${scheme}://, where records must be encrypted ` +
            '(plaintext records are allowed only over tls://, wss:// and unix://; both server.address and client.address are checked)',
        );
      }
    }
  }
  if (has('security', 'trust', 'server_public_key') && v.security.trust === 'pinned' && v.security.server_public_key === undefined) {
    add('security.trust', '"pinned" needs security.server_public_key');
  }
  if (has('tls', 'cert_file', 'key_file') && (v.tls.cert_file === undefined) !== (v.tls.key_file === undefined)) {
    const missing = v.tls.cert_file === undefined ? 'cert_file' : 'key_file';
    add(`tls.${missing}`, 'tls.cert_file and tls.key_file are set together (a certificate needs its key)');
  }
  if (has('pool', 'min_size', 'max_size') && v.pool.min_size > v.pool.max_size) {
    add('pool.min_size', `Pool min size (${v.pool.min_size}) cannot be larger than max size (${v.pool.max_size})`);
  }
  loggingChecks(v.logging, (k) => has('logging', k), add);
}

function loggingChecks(
  l: NetworkConfigResolved['logging'],
  ok: (key: string) => boolean,
  add: (field: string, message: string) => void,
): void {
  if (ok('log_to_console') && ok('log_to_file') && !l.log_to_console && !l.log_to_file) {
    add('logging.log_to_console', 'At least one logging output (console or file) must be enabled');
  }
  if (!ok('log_to_file') || !ok('log_file_path') || !l.log_to_file) return;
  if (l.log_file_path === undefined) {
    add('logging.log_file_path', 'log_file_path must be specified when log_to_file is true');
    return;
  }
  const dir = dirname(l.log_file_path);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) add('logging.log_file_path', `Log file directory does not exist: ${dir}`);
}

function unknownMessage(what: string, name: string, known: readonly string[]): string {
  const near = closest(name, known);
  return `unknown ${what}: "${name}"${near === undefined ? '' : ` (did you mean "${near}"?)`}; known: ${known.join(', ')}`;
}

/** The known name nearest to `name` (a few edits away), for "did you mean" hints. */
export function closest(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.min(3, Math.max(1, Math.floor(name.length / 4))) + 1;
  for (const k of known) {
    const d = editDistance(name.toLowerCase(), k.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length]!;
}

/** The `CONFIG_INVALID` error listing every problem; `details.problems` holds them. */
export function configError(problems: readonly ConfigProblem[], cause?: unknown): NproError {
  const lines = problems.map((p) => {
    const from = p.source === undefined || p.source === p.field ? '' : ` [from ${p.source}]`;
    return `  - ${p.field}: ${p.message}${from}`;
  });
  const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
  return new NproError('CONFIG_INVALID', `Configuration validation failed (${count}):\n${lines.join('\n')}`, {
    cause,
    details: { problems: problems.map((p) => ({ ...p })) },
  });
}

/** Every problem of `config` (empty when valid; the defaults are valid). */
export function validate(config: unknown): ConfigProblem[] {
  return checkConfig(config).problems;
}

/** The resolved configuration, or `CONFIG_INVALID` naming every field that is wrong. */
export function validateStrict(config: unknown, sources?: Sources): NetworkConfigResolved {
  const r = checkConfig(config, sources);
  if (r.config === undefined) throw configError(r.problems);
  return r.config;
}
