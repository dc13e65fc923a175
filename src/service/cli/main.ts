/**
 * The `npro` command (behaviour.md §2): `main(argv, io)` runs one command and resolves to its exit
 * code (0 ok, 1 runtime error, 2 bad usage or configuration). Everything it touches outside itself
 * comes through `io` (io.ts), so tests run it in-process; `bin/npro.js` calls {@link run}.
 *
 * The commands that talk to a daemon are loaded on demand, so `npro keygen` or `npro config`
 * does not load the session and transport code.
 */
import { benchCommand } from './bench.js';
import { certCommand } from './cert.js';
import { configCommand } from './config-cmd.js';
import { COMMAND_USAGE, COMMANDS, GENERAL_USAGE, showHelp } from './help.js';
import { EXIT, packageVersion, println, processIo, reportError, UsageError, type CliIo } from './io.js';
import { keygenCommand } from './keygen.js';

type Command = (args: readonly string[], io: CliIo) => number | Promise<number>;

const HANDLERS: Record<string, Command> = {
  daemon: async (args, io) => (await import('./daemon.js')).daemonCommand(args, io),
  call: async (args, io) => (await import('./call.js')).callCommand(args, io),
  ping: async (args, io) => (await import('./call.js')).pingCommand(args, io),
  keygen: keygenCommand,
  cert: certCommand,
  config: configCommand,
  bench: benchCommand,
  help: helpCommand,
};

/**
 * Runs the command `argv` names (`argv` without the node and script paths). Fields of `io` left
 * out are the real process's.
 */
export async function main(argv: readonly string[], io: Partial<CliIo> = {}): Promise<number> {
  const full: CliIo = { ...processIo(), ...io };
  const [first, ...rest] = argv;
  try {
    if (first === undefined) throw new UsageError('missing command');
    if (first === '--help' || first === '-h') {
      println(full.stdout, GENERAL_USAGE);
      return EXIT.OK;
    }
    if (first === '--version' || first === '-v') {
      println(full.stdout, packageVersion());
      return EXIT.OK;
    }
    const handler = HANDLERS[first];
    if (handler === undefined) {
      throw new UsageError(first.startsWith('-') ? `unknown option ${first}` : `unknown command ${JSON.stringify(first)}`);
    }
    return await handler(rest, full);
  } catch (err) {
    if (err instanceof UsageError) {
      println(full.stderr, `npro: ${err.message}`);
      println(full.stderr);
      println(full.stderr, err.command === undefined ? GENERAL_USAGE : (COMMAND_USAGE[err.command] ?? GENERAL_USAGE));
      return EXIT.USAGE;
    }
    return reportError(full, err);
  }
}

/** `npro help [COMMAND]`. */
function helpCommand(args: readonly string[], io: CliIo): number {
  if (args.length === 0) {
    println(io.stdout, GENERAL_USAGE);
    return EXIT.OK;
  }
  const [command, ...extra] = args;
  if (extra.length > 0) throw new UsageError(`help: unexpected argument ${JSON.stringify(extra[0])}`, 'help');
  if (!COMMANDS.includes(command!)) throw new UsageError(`help: unknown command ${JSON.stringify(command)}`);
  return showHelp(io, command!);
}

/** Entry point of `bin/npro.js`: runs `process.argv` and sets the process's exit code. */
export async function run(): Promise<void> {
  process.exitCode = await main(process.argv.slice(2));
}
