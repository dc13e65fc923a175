/**
 * `npro daemon [--config FILE] [--listen URL…]` (behaviour.md §2): loads the configuration
 * (defaults < file < environment; invalid → every problem on stderr, exit 2), reads or creates the
 * static key at `security.key_file` (mode 0600, protocol.md §6), starts the daemon, prints its
 * endpoints and public key, and runs until SIGINT or SIGTERM. The command installs the signal
 * handlers (the library installs none): the first signal drains gracefully within
 * `server.shutdown_timeout` and exits 0; a second one stops waiting and closes at once.
 *
 * `--workers N` (default: the cores available, `os.availableParallelism()`) runs N worker processes
 * behind the same endpoints, supervised by this one (src/service/workers.ts): the key is loaded
 * here once and the endpoints and key are printed once. `--workers 1` serves in this process, with
 * no supervisor. Workers that crash-loop stop the daemon with exit 1.
 */
import { NproError } from '../../core/errors.js';
import { loadOrCreateKeyFile } from '../../utils/keys.js';
import { createLogger } from '../../utils/logger.js';
import { Daemon } from '../daemon.js';
import { defaultWorkerCount, MAX_WORKERS, startWorkers, type WorkerGroup } from '../workers.js';
import { endpointArg, list, parseCommand, positiveInt } from './args.js';
import { loadCliConfig } from './config-cmd.js';
import { showHelp } from './help.js';
import { EXIT, println, STOP_SIGNALS, type CliIo, type ExitCode, type StopSignal } from './io.js';

const OPTIONS = {
  config: { type: 'string', short: 'c' },
  listen: { type: 'string', short: 'l', multiple: true },
  workers: { type: 'string', short: 'w' },
} as const;

/**
 * Resolves `first` with the first stop signal; every later one calls the function given to
 * `onRepeat` (at once for one that came before it was given). `dispose` removes the handlers.
 */
function stopSignals(io: CliIo): { first: Promise<StopSignal>; onRepeat: (fn: (s: StopSignal) => void) => void; dispose: () => void } {
  let received: StopSignal | undefined;
  const early: StopSignal[] = [];
  let repeat: ((s: StopSignal) => void) | undefined;
  let resolveFirst!: (s: StopSignal) => void;
  const first = new Promise<StopSignal>((resolve) => (resolveFirst = resolve));
  const handlers = STOP_SIGNALS.map((signal) => {
    const handler = () => {
      if (received === undefined) {
        received = signal;
        resolveFirst(signal);
      } else if (repeat === undefined) {
        early.push(signal);
      } else {
        repeat(signal);
      }
    };
    io.signals.on(signal, handler);
    return [signal, handler] as const;
  });
  return {
    first,
    onRepeat: (fn) => {
      repeat = fn;
      for (const s of early.splice(0)) fn(s);
    },
    dispose: () => {
      for (const [signal, handler] of handlers) io.signals.off(signal, handler);
    },
  };
}

export async function daemonCommand(args: readonly string[], io: CliIo): Promise<ExitCode> {
  const { values } = parseCommand('daemon', args, OPTIONS, { min: 0, max: 0 });
  if (values.help === true) return showHelp(io, 'daemon');
  const listen = list(values.listen).map((url) => endpointArg('daemon', url, true));
  const workers = positiveInt('daemon', 'workers', values.workers, defaultWorkerCount(), MAX_WORKERS);
  const config = loadCliConfig(io, values.config);

  const signals = stopSignals(io);
  const logger = createLogger(config.logging, { destination: io.stdout });
  const log = logger.child({ component: 'cli' });
  try {
    let key: Awaited<ReturnType<typeof loadOrCreateKeyFile>>;
    try {
      key = await loadOrCreateKeyFile(config.security.key_file);
    } catch (err) {
      // An unsafe or unreadable key file is a configuration problem: exit 2 (behaviour.md §4 Config).
      if (NproError.is(err, 'KEY_FILE_INSECURE')) throw new NproError('CONFIG_INVALID', err.message, { cause: err });
      throw err;
    }
    if (key.created) println(io.stdout, `generated a new static key in ${config.security.key_file} (mode 0600)`);
    const options = { config, logger, staticSecret: key.secretKey, ...(listen.length > 0 ? { listen } : {}) };
    const server: Daemon | WorkerGroup = workers === 1 ? await Daemon.start(options) : await startWorkers({ ...options, workers });
    for (const address of server.addresses) println(io.stdout, `npro daemon listening on ${address}`);
    println(io.stdout, `public key: ${server.publicKey}`);

    // A worker group may also end by itself (its workers crash-looped): that is a runtime error.
    const ended = server instanceof Daemon ? new Promise<never>(() => undefined) : server.closed;
    const signal = await Promise.race([signals.first, ended]);
    if (typeof signal !== 'string') throw signal ?? new NproError('INVALID_STATE', 'the workers stopped');
    log.info({ signal }, `${signal} received: shutting down (a second signal closes at once)`);
    signals.onRepeat((again) => {
      log.warn({ signal: again }, `${again} received again: closing every connection now`);
      void server.shutdown({ timeoutMs: 0 }).catch(() => undefined);
    });
    await server.shutdown({ timeoutMs: config.server.shutdown_timeout });
    log.info('daemon stopped');
    return EXIT.OK;
  } finally {
    signals.dispose();
    await logger.close();
  }
}
