/**
 * Argument parsing for the `npro` command on `node:util` `parseArgs` (strict: an unknown option or a
 * missing value is a {@link UsageError}, exit 2), plus the small value checks the commands share.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { parseAddress } from '../../utils/config/index.js';
import { UsageError } from './io.js';

type OptionsConfig = NonNullable<ParseArgsConfig['options']>;

/** Every command takes `--help`/`-h`. */
const HELP_OPTION = { help: { type: 'boolean', short: 'h' } } as const;

/** The value of one option as parsed: a string or a boolean, a list of them when `multiple`. */
type ValueOf<T> = T extends { type: 'boolean' }
  ? T extends { multiple: true } ? boolean[] : boolean
  : T extends { multiple: true } ? string[] : string;

export interface Parsed<O extends OptionsConfig> {
  values: { [K in keyof O]?: ValueOf<O[K]> } & { help?: boolean };
  positionals: string[];
}

/** A public key as text: 43 characters of unpadded base64url, which may begin with `-`. */
const KEY_TEXT = /^[A-Za-z0-9_-]{43}$/;

/**
 * `-k KEY` / `--server-key KEY` where KEY begins with `-` (a base64url key may): joined into
 * `--server-key=KEY` so that the parser does not take KEY for an option.
 */
export function joinKeyValues(args: readonly string[], names: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const next = args[i + 1];
    if (names.includes(arg) && next !== undefined && next.startsWith('-') && KEY_TEXT.test(next)) {
      // `--name=VALUE` for a long option, `-xVALUE` for a short one.
      out.push(arg.startsWith('--') ? `${arg}=${next}` : `${arg}${next}`);
      i++;
    } else {
      out.push(arg);
    }
  }
  return out;
}

/**
 * Parses the arguments of `command` with `options` (and `--help`). Positionals are counted against
 * `min`…`max` unless `--help` is given.
 */
export function parseCommand<O extends OptionsConfig>(
  command: string,
  args: readonly string[],
  options: O,
  positionals: { min: number; max: number; names?: string },
): Parsed<O> {
  let parsed: Parsed<O>;
  try {
    parsed = parseArgs({
      args: [...args],
      options: { ...options, ...HELP_OPTION },
      allowPositionals: true,
      strict: true,
    }) as Parsed<O>;
  } catch (err) {
    throw new UsageError(`${command}: ${describeParseError(err)}`, command);
  }
  if (parsed.values.help !== true) {
    const n = parsed.positionals.length;
    const names = positionals.names === undefined ? '' : ` (${positionals.names})`;
    if (n < positionals.min) throw new UsageError(`${command}: missing argument${names}`, command);
    if (n > positionals.max) {
      throw new UsageError(`${command}: unexpected argument ${JSON.stringify(parsed.positionals[positionals.max])}`, command);
    }
  }
  return parsed;
}

function describeParseError(err: unknown): string {
  const message = typeof (err as { message?: unknown } | null)?.message === 'string' ? (err as Error).message : String(err);
  // parseArgs suggests "--" for positionals that start with a dash; keep the first sentence only.
  return message.split('. To specify a positional argument')[0]!.replace(/\.$/, '');
}

/**
 * A positive integer option (`--count`, `--days`, `--timeout`, `--workers`), at most `max` when
 * given, or a usage error naming it.
 */
export function positiveInt(command: string, name: string, text: string | undefined, fallback: number, max?: number): number {
  if (text === undefined) return fallback;
  if (!/^[0-9]+$/.test(text) || Number(text) < 1 || !Number.isSafeInteger(Number(text))) {
    throw new UsageError(`${command}: --${name} takes a positive integer, got ${JSON.stringify(text)}`, command);
  }
  if (max !== undefined && Number(text) > max) {
    throw new UsageError(`${command}: --${name} takes a positive integer up to ${max}, got ${text}`, command);
  }
  return Number(text);
}

/** An endpoint URL (behaviour.md §1) as given on the command line; `listening` admits port 0. */
export function endpointArg(command: string, text: string, listening: boolean): string {
  const r = parseAddress(text, listening);
  if (!r.ok) throw new UsageError(`${command}: invalid endpoint ${JSON.stringify(text)}: ${r.reason}`, command);
  return text;
}

/** The option's values as a list (a `multiple` option given zero, one or more times). */
export function list(value: string | string[] | boolean | boolean[] | undefined): string[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).filter((v): v is string => typeof v === 'string');
}
