/**
 * Configuration from environment variables (behaviour.md §3). Every key is
 * `NETWORK_PROTOCOL_<TABLE>_<KEY>` in upper case; the crate's four legacy names are read too, and
 * lose to the `<TABLE>_<KEY>` name when both set a key. A value that does not parse, or a
 * `NETWORK_PROTOCOL_*` variable that names no key, is a problem naming the variable: a typo is never
 * silently ignored (the crate ignored both).
 */
import { describe, parseDuration } from './duration.js';
import { ENV_PREFIX, envName, KEY_INFO, LEGACY_ENV, type EnvKind } from './keys.js';
import { TABLE_NAMES, tableKeys, type NetworkConfigInput, type TableName } from './schema.js';
import { closest, type ConfigProblem } from './validate.js';

export interface EnvLayer {
  /** The values read, by table and key (`null` = an explicit "none"). */
  input: NetworkConfigInput;
  /** `table.key` → the variable that set it. */
  sources: Map<string, string>;
  problems: ConfigProblem[];
}

/** Every variable that names a key, with the table and key it sets. */
function knownVariables(): Map<string, { table: TableName; key: string }> {
  const known = new Map<string, { table: TableName; key: string }>();
  for (const table of TABLE_NAMES) for (const key of tableKeys(table)) known.set(envName(table, key), { table, key });
  return known;
}

const KNOWN = knownVariables();

/** All accepted variable names (the `<TABLE>_<KEY>` names, then the legacy ones not among them). */
export const ENV_VARIABLES: readonly string[] = [...KNOWN.keys(), ...Object.keys(LEGACY_ENV).filter((n) => !KNOWN.has(n))];

const BOOLEAN_WORDS: Readonly<Record<string, boolean>> = { true: true, false: false, 1: true, 0: false, yes: true, no: false };

type Parsed = { ok: true; value: unknown } | { ok: false; reason: string };

/** Converts a variable's text to a value of `kind` (keys.ts `EnvKind`). */
export function parseEnvValue(kind: EnvKind, text: string): Parsed {
  const trimmed = text.trim();
  switch (kind) {
    case 'string':
    case 'enum':
      return { ok: true, value: text };
    case 'optional':
      return { ok: true, value: trimmed === '' ? null : text };
    case 'integer': {
      if (!/^[+-]?\d+$/.test(trimmed)) return { ok: false, reason: `${describe(text)} is not an integer` };
      const n = Number(trimmed);
      return Number.isSafeInteger(n) ? { ok: true, value: n } : { ok: false, reason: `${trimmed} is too large` };
    }
    case 'duration': {
      const r = parseDuration(text);
      return r.ok ? { ok: true, value: r.ms } : { ok: false, reason: r.reason };
    }
    case 'boolean': {
      const b = BOOLEAN_WORDS[trimmed.toLowerCase()];
      return b === undefined ? { ok: false, reason: `${describe(text)} is not a boolean (true/false/1/0/yes/no)` } : { ok: true, value: b };
    }
    case 'encryption': {
      if (trimmed.toLowerCase() === 'auto') return { ok: true, value: 'auto' };
      const b = BOOLEAN_WORDS[trimmed.toLowerCase()];
      return b === undefined ? { ok: false, reason: `${describe(text)} is not "auto" or a boolean (true/false/1/0/yes/no)` } : { ok: true, value: b };
    }
    case 'keys':
      return { ok: true, value: splitList(trimmed) };
    case 'key-or-keys': {
      const list = splitList(trimmed);
      return { ok: true, value: list.length === 0 ? null : list.length === 1 ? list[0] : list };
    }
  }
}

function splitList(text: string): string[] {
  return text === '' ? [] : text.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

/** Reads every `NETWORK_PROTOCOL_*` variable of `env` into a configuration layer. */
export function readEnv(env: Readonly<Record<string, string | undefined>>): EnvLayer {
  const input: Record<string, Record<string, unknown>> = {};
  const sources = new Map<string, string>();
  const problems: ConfigProblem[] = [];
  const set = (variable: string, targets: readonly { table: TableName; key: string }[], text: string) => {
    const { table, key } = targets[0]!;
    const kind = (KEY_INFO[table] as Record<string, { kind: EnvKind }>)[key]!.kind;
    const r = parseEnvValue(kind, text);
    const fields = targets.map((t) => `${t.table}.${t.key}`);
    if (!r.ok) {
      problems.push({ field: variable, message: `cannot set ${fields.join(' and ')}: ${r.reason}`, source: variable });
      return;
    }
    for (const t of targets) {
      (input[t.table] ??= {})[t.key] = r.value;
      sources.set(`${t.table}.${t.key}`, variable);
    }
  };
  const names = Object.keys(env).filter((n) => n.startsWith(ENV_PREFIX) && env[n] !== undefined).sort();
  // Legacy names first, so a <TABLE>_<KEY> variable setting the same key overrides them.
  for (const name of names) {
    const targets = LEGACY_ENV[name];
    if (targets === undefined || KNOWN.has(name)) continue;
    set(name, targets, env[name]!);
  }
  for (const name of names) {
    const target = KNOWN.get(name);
    if (target !== undefined) {
      set(name, [target], env[name]!);
    } else if (LEGACY_ENV[name] === undefined) {
      const near = closest(name, ENV_VARIABLES);
      problems.push({
        field: name,
        message: `unknown configuration variable${near === undefined ? '' : ` (did you mean ${near}?)`}; see docs/configuration.md for the names`,
        source: name,
      });
    }
  }
  return { input: input as NetworkConfigInput, sources, problems };
}
