/**
 * The worker process of a `WorkerGroup` (src/service/workers.ts), started by `cluster.fork()`:
 * it says `npro:ready`, starts a {@link Daemon} with what `npro:start` brings (configuration,
 * endpoints, static key, TLS material, dispatcher module), reports `npro:listening` or
 * `npro:failed`, and drains on `npro:stop` or its own SIGTERM, then exits. It ignores SIGINT: a
 * terminal sends that to the whole process group, and the primary decides. It exits at once when
 * the primary's channel closes (cluster's own rule), so no worker outlives its primary.
 */
import cluster from 'node:cluster';
import { fileURLToPath } from 'node:url';
import { NproError } from '../core/errors.js';
import type { Dispatcher } from '../protocol/dispatcher.js';
import type { NetworkConfig } from '../utils/config/index.js';
import { createLogger, type Logger } from '../utils/logger.js';
import { Daemon } from './daemon.js';
import type { TlsMaterial } from './options.js';

/** Primary → worker. */
export type ToWorker =
  | { type: 'npro:start'; id: number; config: NetworkConfig; listen: string[]; secret: Uint8Array; tls?: TlsMaterial; dispatcherModule?: string }
  | { type: 'npro:stop'; timeoutMs: number };
export type StartMessage = Extract<ToWorker, { type: 'npro:start' }>;
/** Worker → primary. */
export type FromWorker =
  | { type: 'npro:ready' }
  | { type: 'npro:listening'; addresses: string[]; publicKey: string }
  | { type: 'npro:failed'; code: string; message: string };
export type ListeningMessage = Extract<FromWorker, { type: 'npro:listening' }>;

/**
 * Imports `url` and returns what its `createDispatcher()` gives. A module without that function is
 * `CONFIG_INVALID`.
 */
export async function loadDispatcher(url: string): Promise<Dispatcher> {
  const mod = (await import(url)) as { createDispatcher?: () => Dispatcher | Promise<Dispatcher> };
  if (typeof mod.createDispatcher !== 'function') throw new NproError('CONFIG_INVALID', `${url} exports no createDispatcher() function`);
  return mod.createDispatcher();
}

function toPrimary(message: FromWorker): Promise<void> {
  return new Promise((done) => process.send!(message, undefined, {}, () => done()));
}

/** The worker's side: start on `npro:start`, drain on `npro:stop` or its own SIGTERM, then exit. */
function runWorker(): void {
  let daemon: Daemon | null = null;
  let logger: Logger | null = null;
  let stopping: Promise<void> | null = null;
  const stop = (timeoutMs?: number): void => {
    if (daemon === null) process.exit(0);
    const d = daemon;
    const drained = d.shutdown(timeoutMs === undefined ? {} : { timeoutMs });
    stopping ??= drained.then(async () => {
      await logger?.close();
      process.exit(0);
    });
  };
  const start = async (m: StartMessage): Promise<void> => {
    logger = createLogger(m.config.logging);
    const dispatcher = m.dispatcherModule === undefined ? undefined : await loadDispatcher(m.dispatcherModule);
    daemon = await Daemon.start({
      config: m.config,
      listen: m.listen,
      staticSecret: m.secret,
      logger: logger.child({ worker: m.id }),
      ...(m.tls === undefined ? {} : { tls: m.tls }),
      ...(dispatcher === undefined ? {} : { dispatcher }),
    });
    await toPrimary({ type: 'npro:listening', addresses: daemon.addresses, publicKey: daemon.publicKey });
  };
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', () => stop());
  process.on('message', (m: ToWorker) => {
    if (m.type === 'npro:stop') stop(m.timeoutMs);
    else if (m.type === 'npro:start') {
      start(m).catch(async (err: unknown) => {
        const e = NproError.is(err) ? err : new NproError('INVALID_STATE', err instanceof Error ? err.message : String(err), { cause: err });
        await toPrimary({ type: 'npro:failed', code: e.code, message: e.message });
        await logger?.close();
        process.exit(1);
      });
    }
  });
  void toPrimary({ type: 'npro:ready' });
}

if (cluster.isWorker && process.argv[1] === fileURLToPath(import.meta.url)) runWorker();
