/**
 * `npro config print|check|example` (behaviour.md §2, §3) and the configuration loading every
 * command shares: defaults < `--config FILE` < `NETWORK_PROTOCOL_*` variables, checked once, with
 * the relative paths it holds resolved against the working directory.
 */
import { NetworkConfig, type NetworkConfigInput } from '../../utils/config/index.js';
import { parseCommand } from './args.js';
import { showHelp } from './help.js';
import { EXIT, println, resolvePath, UsageError, type CliIo, type ExitCode } from './io.js';

/**
 * The effective configuration: defaults < `file` < the environment of `io` < `overrides`. Invalid
 * → `CONFIG_INVALID` naming every problem (exit 2). `security.key_file`, `security.known_hosts`
 * and `logging.log_file_path` come back absolute, resolved against `io.cwd`.
 */
export function loadCliConfig(io: CliIo, file?: string, overrides?: NetworkConfigInput): NetworkConfig {
  const options: Parameters<typeof NetworkConfig.load>[0] = { env: io.env };
  if (file !== undefined) options.file = resolvePath(io, file);
  if (overrides !== undefined) options.overrides = overrides;
  const config = NetworkConfig.load(options);
  config.security.key_file = resolvePath(io, config.security.key_file);
  config.security.known_hosts = resolvePath(io, config.security.known_hosts);
  if (config.logging.log_file_path !== undefined) config.logging.log_file_path = resolvePath(io, config.logging.log_file_path);
  return config;
}

const SUBCOMMANDS = ['print', 'check', 'example'] as const;

export function configCommand(args: readonly string[], io: CliIo): ExitCode {
  const [sub, ...rest] = args;
  if (sub === undefined) throw new UsageError('config: missing subcommand (print, check or example)', 'config');
  if (sub === '--help' || sub === '-h') return showHelp(io, 'config');
  switch (sub) {
    case 'print': {
      const { values } = parseCommand('config print', rest, { config: { type: 'string', short: 'c' } }, { min: 0, max: 0 });
      if (values.help === true) return showHelp(io, 'config');
      io.stdout.write(NetworkConfig.toToml(NetworkConfig.load(loadOptions(io, values.config))));
      return EXIT.OK;
    }
    case 'check': {
      const { values, positionals } = parseCommand('config check', rest, { config: { type: 'string', short: 'c' } }, { min: 0, max: 1, names: 'FILE' });
      if (values.help === true) return showHelp(io, 'config');
      if (positionals[0] !== undefined && values.config !== undefined) {
        throw new UsageError('config check: give the file once (FILE or --config FILE)', 'config');
      }
      const file = positionals[0] ?? values.config;
      // Throws CONFIG_INVALID listing every problem: reported by main(), exit 2.
      NetworkConfig.load(loadOptions(io, file));
      println(io.stdout, file === undefined ? 'ok (defaults and environment)' : `ok ${file}`);
      return EXIT.OK;
    }
    case 'example': {
      const { values } = parseCommand('config example', rest, {}, { min: 0, max: 0 });
      if (values.help === true) return showHelp(io, 'config');
      io.stdout.write(NetworkConfig.exampleToml());
      return EXIT.OK;
    }
    default:
      throw new UsageError(`config: unknown subcommand ${JSON.stringify(sub)} (use ${SUBCOMMANDS.join(', ')})`, 'config');
  }
}

function loadOptions(io: CliIo, file: string | undefined): Parameters<typeof NetworkConfig.load>[0] {
  return file === undefined ? { env: io.env } : { env: io.env, file: resolvePath(io, file) };
}
