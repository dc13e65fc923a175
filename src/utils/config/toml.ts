/**
 * Configuration as TOML (behaviour.md §3): reading a document into a layer (with the line of each
 * key, for messages), writing a configuration back, and the commented example file that lists every
 * key with its default.
 */
import { parse, TomlError } from 'smol-toml';
import { formatDuration } from './duration.js';
import { envName, KEY_INFO, type KeyInfo, TABLE_DOCS } from './keys.js';
import { TABLE_NAMES, tableKeys, type NetworkConfigInput, type NetworkConfigResolved, type TableName } from './schema.js';
import { configError } from './validate.js';

export interface TomlLayer {
  input: NetworkConfigInput;
  /** `table.key` (and `table`) → `name:line` where it is written, or `name`. */
  sources: Map<string, string>;
}

/**
 * Parses a TOML document. A syntax error → `CONFIG_INVALID` naming `name` and the line and column.
 * Types and unknown keys are checked later, on the merged layers (validate.ts).
 */
export function parseTomlLayer(text: string, name: string): TomlLayer {
  let doc: Record<string, unknown>;
  try {
    doc = parse(text) as Record<string, unknown>;
  } catch (err) {
    if (!(err instanceof TomlError)) throw err;
    const reason = err.message.split('\n')[0]!.replace(/^Invalid TOML document: /, '');
    throw configError(
      [{ field: name, message: `invalid TOML at line ${err.line}, column ${err.column}: ${reason}`, source: `${name}:${err.line}:${err.column}` }],
      err,
    );
  }
  const lines = locateKeys(text);
  const sources = new Map<string, string>();
  const where = (field: string) => {
    const line = lines.get(field);
    return line === undefined ? name : `${name}:${line}`;
  };
  for (const [table, value] of Object.entries(doc)) {
    sources.set(table, where(table));
    if (typeof value !== 'object' || value === null || Array.isArray(value)) continue;
    for (const key of Object.keys(value)) sources.set(`${table}.${key}`, where(`${table}.${key}`));
  }
  return { input: doc as NetworkConfigInput, sources };
}

const BARE = '[A-Za-z0-9_-]+';
const HEADER = new RegExp(`^\\s*\\[\\s*(${BARE})\\s*\\]`);
const KEY = new RegExp(`^\\s*(${BARE})\\s*(?:\\.\\s*(${BARE})\\s*)?=`);

/**
 * The line (1-based) where each `table` header and `table.key` is written. Only plain `[table]`
 * headers, `key = …` lines and top-level `table.key = …` lines are recognised: enough to point a
 * message at a line; a key found nowhere is reported with the file name alone.
 */
export function locateKeys(text: string): Map<string, number> {
  const found = new Map<string, number>();
  let table: string | undefined;
  text.split(/\r?\n/).forEach((line, i) => {
    const header = HEADER.exec(line);
    if (header !== null) {
      table = header[1]!;
      if (!found.has(table)) found.set(table, i + 1);
      return;
    }
    const key = KEY.exec(line);
    if (key === null) return;
    const field = table === undefined ? (key[2] === undefined ? key[1]! : `${key[1]}.${key[2]}`) : `${table}.${key[1]}`;
    if (!found.has(field)) found.set(field, i + 1);
    if (table === undefined && key[2] !== undefined && !found.has(key[1]!)) found.set(key[1]!, i + 1);
  });
  return found;
}

/** A value written as TOML (strings, integers, booleans, arrays of these). */
export function tomlValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return value.length === 0 ? '[]' : `[${value.map(tomlValue).join(', ')}]`;
  throw new TypeError(`cannot write ${typeof value} as a TOML value`);
}

/**
 * A configuration as TOML: every table in documented order, every key that has a value (keys set
 * to none are left out), durations as integer milliseconds. Reading it back gives the same
 * configuration.
 */
export function toToml(config: NetworkConfigResolved | NetworkConfigInput): string {
  const out: string[] = ['# npro configuration (see docs/configuration.md)'];
  for (const table of TABLE_NAMES) {
    const values = (config as Record<string, Record<string, unknown> | undefined>)[table];
    if (values === undefined) continue;
    out.push('', `[${table}]`);
    for (const key of tableKeys(table)) {
      const value = values[key];
      if (value === undefined || value === null) continue;
      out.push(`${key} = ${tomlValue(value)}`);
    }
  }
  return `${out.join('\n')}\n`;
}

const HEADER_TEXT = [
  '# npro configuration: every key with its default.',
  '#',
  '# A missing table or key takes its default; an unknown table or key is refused (CONFIG_INVALID).',
  '# Durations are integer milliseconds or strings such as "150ms", "5s", "2m", "1h", "1.5s", "1h30m".',
  '# Every key can also be set by an environment variable NETWORK_PROTOCOL_<TABLE>_<KEY>.',
  '# Layering: defaults < this file < environment variables < overrides given in code.',
  '# Lines starting with "# key =" are keys without a default, shown with a sample value.',
  '# Reference: docs/configuration.md',
];

function describeKey(info: KeyInfo, table: TableName, key: string, defaultValue: unknown): string[] {
  const lines = [`# ${info.doc}`];
  const shownDefault =
    info.kind === 'duration' && typeof defaultValue === 'number' ? ` Default ${formatDuration(defaultValue)}.` : '';
  lines.push(`# Accepts: ${info.accepts}.${shownDefault} Env: ${envName(table, key)}`);
  if (defaultValue === undefined) {
    lines.push(`# ${key} = ${tomlValue(info.example ?? '')}`);
  } else {
    lines.push(`${key} = ${tomlValue(defaultValue)}`);
  }
  return lines;
}

/**
 * The commented example file (config.example.toml): every table and key in documented order with
 * its meaning, accepted values, environment variable and default; keys without a default are
 * commented out with a sample value. Parsing it gives exactly the defaults.
 */
export function exampleToml(defaults: NetworkConfigResolved): string {
  const out = [...HEADER_TEXT];
  for (const table of TABLE_NAMES) {
    out.push('', `# ${TABLE_DOCS[table]}`, `[${table}]`);
    const info = KEY_INFO[table] as Record<string, KeyInfo>;
    const values = defaults[table] as Record<string, unknown>;
    for (const key of tableKeys(table)) {
      out.push('', ...describeKey(info[key]!, table, key, values[key]));
    }
  }
  return `${out.join('\n')}\n`;
}
