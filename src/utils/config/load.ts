/**
 * Loading a configuration (behaviour.md §1, §3): defaults < TOML file < environment < overrides,
 * merged key by key, then checked once, so a key that one layer leaves invalid may be fixed by a
 * later one, and every remaining problem is reported together with where its value came from.
 */
import { readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { readEnv } from './env.js';
import { parseTomlLayer, toToml } from './toml.js';
import { checkConfig, configError, validateStrict, type ConfigProblem } from './validate.js';
import type { NetworkConfigInput, NetworkConfigResolved } from './schema.js';

/** One layer of values and, per field, where each came from. */
export interface Layer {
  input: NetworkConfigInput;
  sources: ReadonlyMap<string, string>;
}

export interface LoadOptions {
  /** A TOML file to read (a missing or unreadable file is an error). */
  file?: string;
  /** Environment variables; `process.env` when left out. Pass `{}` to read none. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Values given in code, applied last. */
  overrides?: NetworkConfigInput;
}

const isTable = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);

/**
 * Merges layers in order: a later layer's key replaces an earlier one's (lists are replaced, not
 * concatenated); `undefined` leaves the earlier value; `null` sets "none".
 */
export function mergeLayers(layers: readonly Layer[]): Layer {
  const input: Record<string, unknown> = {};
  const sources = new Map<string, string>();
  for (const layer of layers) {
    for (const [table, value] of Object.entries(layer.input as Record<string, unknown>)) {
      if (value === undefined) continue;
      const into = input[table];
      const tableSource = layer.sources.get(table);
      if (tableSource !== undefined) sources.set(table, tableSource);
      if (!isTable(value) || !isTable(into)) {
        input[table] = isTable(value) ? { ...value } : value;
        if (isTable(value)) copySources(layer.sources, sources, table, Object.keys(value));
        continue;
      }
      const defined = Object.keys(value).filter((k) => value[k] !== undefined);
      for (const key of defined) into[key] = value[key];
      copySources(layer.sources, sources, table, defined);
    }
  }
  return { input: input as NetworkConfigInput, sources };
}

function copySources(from: ReadonlyMap<string, string>, to: Map<string, string>, table: string, keys: string[]): void {
  for (const key of keys) {
    const field = `${table}.${key}`;
    const source = from.get(field) ?? from.get(table);
    if (source !== undefined) to.set(field, source);
  }
}

/** Source label for every field an `overrides` object sets. */
function labelled(input: NetworkConfigInput | undefined, label: string): Layer {
  const sources = new Map<string, string>();
  for (const [table, value] of Object.entries(input ?? {})) {
    sources.set(table, label);
    if (isTable(value)) for (const key of Object.keys(value)) sources.set(`${table}.${key}`, label);
  }
  return { input: input ?? {}, sources };
}

/** Checks merged layers; `CONFIG_INVALID` lists `earlier` problems and every problem found. */
function resolve(layers: readonly Layer[], earlier: readonly ConfigProblem[] = []): NetworkConfigResolved {
  const merged = mergeLayers(layers);
  const r = checkConfig(merged.input, merged.sources);
  const problems = [...earlier, ...r.problems];
  if (problems.length > 0 || r.config === undefined) throw configError(problems);
  return r.config;
}

/** A fresh copy of every default (behaviour.md §3). */
export function defaultConfig(): NetworkConfigResolved {
  return validateStrict({});
}

/** Defaults < the TOML document `text`; `name` labels messages (a file name). */
export function fromToml(text: string, name = '<toml>'): NetworkConfigResolved {
  return resolve([parseTomlLayer(text, name)]);
}

function readConfigFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? String(err);
    throw configError([{ field: path, message: `Failed to read config file: ${reason}` }], err);
  }
}

/** Defaults < the TOML file at `path` (read synchronously). */
export function fromFile(path: string): NetworkConfigResolved {
  return resolve([parseTomlLayer(readConfigFile(path), path)]);
}

/** Defaults < the `NETWORK_PROTOCOL_*` variables of `env` (env.ts). */
export function fromEnv(env: Readonly<Record<string, string | undefined>> = process.env): NetworkConfigResolved {
  const layer = readEnv(env);
  return resolve([layer], layer.problems);
}

/**
 * Defaults < `file` < `env` (default `process.env`) < `overrides`, checked once after merging.
 * Every problem (a TOML syntax error, an unparsable or unknown variable, an invalid value) →
 * `CONFIG_INVALID` naming the field and where its value came from.
 */
export function load(options: LoadOptions = {}): NetworkConfigResolved {
  const layers: Layer[] = [];
  if (options.file !== undefined) layers.push(parseTomlLayer(readConfigFile(options.file), options.file));
  const envLayer = readEnv(options.env ?? process.env);
  layers.push(envLayer, labelled(options.overrides, 'overrides'));
  return resolve(layers, envLayer.problems);
}

/**
 * Writes `config` as TOML to `path` (toml.ts `toToml`) after checking it; the file is replaced
 * atomically (written beside it, then renamed).
 */
export function saveToFile(config: NetworkConfigResolved | NetworkConfigInput, path: string): void {
  const resolved = validateStrict(config);
  const temp = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(temp, toToml(resolved), { mode: 0o644 });
    renameSync(temp, path);
  } catch (err) {
    try {
      unlinkSync(temp);
    } catch {
      // The temporary file was never created.
    }
    const reason = (err as NodeJS.ErrnoException).code ?? String(err);
    throw configError([{ field: path, message: `Failed to write config file: ${reason}` }], err);
  }
}
