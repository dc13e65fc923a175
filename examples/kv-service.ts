/**
 * Example: a small key-value service on npro (the store and its handlers are in kv-store.ts).
 *
 * Run it after `npm run build`:
 *
 *     node dist/examples/kv-service.js [URL]        # default tcp://127.0.0.1:9100
 *
 * It prints its endpoint and public key, serves until Ctrl-C (SIGINT) or SIGTERM, then drains and
 * exits. Try it with `node dist/examples/kv-client.js`, or with the `npro` command:
 *
 *     npx npro call tcp://127.0.0.1:9100 SET '{"key":"greeting","value":"hello"}'
 *     npx npro call tcp://127.0.0.1:9100 GET greeting
 */
import { pathToFileURL } from 'node:url';
import { Daemon, type Logger, type NetworkConfig } from '../src/service/index.js';
import { createKvDispatcher, KvStore } from './kv-store.js';

export { KvStore, createKvDispatcher } from './kv-store.js';

export const DEFAULT_KV_ENDPOINT = 'tcp://127.0.0.1:9100';

export interface KvServiceOptions {
  /** Endpoints to listen on (default {@link DEFAULT_KV_ENDPOINT}; port 0 picks a free port). */
  listen?: string[];
  /** The store to serve (a new empty one by default). */
  store?: KvStore;
  /** npro configuration (defaults when left out). */
  config?: NetworkConfig;
  /** The daemon's static secret key (32 bytes); by default the daemon's own key handling applies. */
  staticSecret?: Uint8Array;
  /** Where the daemon logs (by default as the configuration's [logging] says). */
  logger?: Logger;
}

export interface KvService {
  daemon: Daemon;
  store: KvStore;
}

/** Starts the key-value service; resolves once every endpoint is listening. */
export async function startKvService(options: KvServiceOptions = {}): Promise<KvService> {
  const store = options.store ?? new KvStore();
  const daemon = await Daemon.start({
    dispatcher: createKvDispatcher(store),
    listen: options.listen ?? [DEFAULT_KV_ENDPOINT],
    ...(options.config === undefined ? {} : { config: options.config }),
    ...(options.staticSecret === undefined ? {} : { staticSecret: options.staticSecret }),
    ...(options.logger === undefined ? {} : { logger: options.logger }),
  });
  return { daemon, store };
}

async function main(): Promise<void> {
  const { daemon } = await startKvService({ listen: [process.argv[2] ?? DEFAULT_KV_ENDPOINT] });
  for (const address of daemon.addresses) console.log(`kv-service listening on ${address}`);
  console.log(`public key: ${daemon.publicKey}`);
  // Library code installs no signal handlers; a program does, to shut down gracefully.
  const stop = (signal: string) => {
    console.log(`${signal}: shutting down`);
    daemon.shutdown({ timeoutMs: 5000 }).then(
      () => console.log('stopped'),
      (err: unknown) => {
        console.error(err);
        process.exitCode = 1;
      },
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
