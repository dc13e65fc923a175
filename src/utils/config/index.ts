/**
 * npro configuration (behaviour.md §1, §3). `NetworkConfig` is both the type of a resolved
 * configuration and the object holding its functions:
 *
 * ```ts
 * const config: NetworkConfig = NetworkConfig.load({ file: 'npro.toml' });
 * config.server.max_connections; // keys keep their TOML names
 * ```
 *
 * Loading and writing files is synchronous: configuration is read once, at start-up.
 */
import { load, defaultConfig, fromEnv, fromFile, fromToml, saveToFile, type LoadOptions } from './load.js';
import { exampleToml as exampleFrom, toToml } from './toml.js';
import { validate, validateStrict, type ConfigProblem } from './validate.js';
import type { NetworkConfigInput, NetworkConfigResolved } from './schema.js';

/** A resolved configuration: every table and key present, durations in milliseconds. */
export type NetworkConfig = NetworkConfigResolved;

/** The commented example file: every key with its default (config.example.toml is this text). */
export function exampleToml(): string {
  return exampleFrom(defaultConfig());
}

/** The configuration functions, under the name of the type they produce. */
export const NetworkConfig = {
  /** A fresh copy of every default. */
  defaults: defaultConfig,
  /** Defaults < a TOML document; `name` (a file name) labels messages. */
  fromToml: fromToml as (text: string, name?: string) => NetworkConfig,
  /** Defaults < a TOML file. */
  fromFile: fromFile as (path: string) => NetworkConfig,
  /** Defaults < `NETWORK_PROTOCOL_*` variables (`process.env` when left out). */
  fromEnv: fromEnv as (env?: Readonly<Record<string, string | undefined>>) => NetworkConfig,
  /** Defaults < file < env < overrides, checked once. */
  load: load as (options?: LoadOptions) => NetworkConfig,
  /** Every problem of a configuration (empty = valid). */
  validate: validate as (config: NetworkConfig | NetworkConfigInput) => ConfigProblem[],
  /** The resolved configuration, or `CONFIG_INVALID` naming every field. */
  validateStrict: validateStrict as (config: NetworkConfig | NetworkConfigInput) => NetworkConfig,
  exampleToml,
  toToml: toToml as (config: NetworkConfig | NetworkConfigInput) => string,
  saveToFile: saveToFile as (config: NetworkConfig | NetworkConfigInput, path: string) => void,
} as const;

export { defaultConfig, fromEnv, fromFile, fromToml, load, saveToFile, toToml, validate, validateStrict };
export type { ConfigProblem, LoadOptions, NetworkConfigInput };
export type { LogLevel, TableName } from './schema.js';
export { LOG_LEVELS, MAX_PAYLOAD_LIMIT, MIN_PAYLOAD_LIMIT, TABLE_NAMES, tableKeys } from './schema.js';
export { MAX_DURATION_MS, formatDuration, parseDuration, type DurationResult } from './duration.js';
export {
  addressScheme,
  encryptsRecords,
  isPublicKeyText,
  MAX_UNIX_PATH_BYTES,
  parseAddress,
  SCHEMES,
  type ParsedAddress,
  type Scheme,
  type TrustPolicy,
} from './address.js';
export { ENV_PREFIX, envName, KEY_INFO, LEGACY_ENV, TABLE_DOCS, type EnvKind, type KeyInfo } from './keys.js';
export { ENV_VARIABLES } from './env.js';
