/**
 * Helpers of the daemon/client integration tests: short timeouts, silent logs, keys and known_hosts
 * in a temporary directory, and a tracker that closes everything a test opened.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, type ClientOptions } from '../../src/service/client.js';
import { Daemon, type DaemonOptions } from '../../src/service/daemon.js';
import { NproError } from '../../src/core/errors.js';
import type { NetworkConfigInput } from '../../src/utils/config/index.js';
import { generateKeyPair, type KeyPair } from '../../src/utils/keys.js';
import { silentLogger } from '../../src/utils/logger.js';

/** A fresh directory under the system temp dir (short, for Unix socket paths). */
export function tempDir(prefix = 'npro-it-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

type Table = keyof NetworkConfigInput;

/** Deep-merges configuration layers (tables merged key by key). */
export function mergeConfig(...layers: NetworkConfigInput[]): NetworkConfigInput {
  const out: Record<string, Record<string, unknown>> = {};
  for (const layer of layers) {
    for (const [table, values] of Object.entries(layer) as [Table, Record<string, unknown>][]) {
      out[table] = { ...(out[table] ?? {}), ...values };
    }
  }
  return out as NetworkConfigInput;
}

/** Everything a test opened, closed in reverse order by `closeAll()`. */
export class Resources {
  readonly #closers: (() => Promise<unknown> | unknown)[] = [];
  #dir: string | null = null;

  /** This test's directory (made on first use, removed by `closeAll()`). */
  get dir(): string {
    this.#dir ??= tempDir();
    return this.#dir;
  }

  /** A configuration whose files live in this test's directory. */
  config(extra: NetworkConfigInput = {}): NetworkConfigInput {
    return mergeConfig(
      {
        security: { key_file: join(this.dir, 'server.key'), known_hosts: join(this.dir, 'known_hosts') },
        logging: { log_to_console: true },
      },
      extra,
    );
  }

  add(close: () => Promise<unknown> | unknown): void {
    this.#closers.push(close);
  }

  async daemon(options: DaemonOptions = {}): Promise<Daemon> {
    const daemon = await Daemon.start({
      listen: ['tcp://127.0.0.1:0'],
      logger: silentLogger(),
      staticSecret: generateKeyPair().secretKey,
      ...options,
      config: this.config((options.config as NetworkConfigInput | undefined) ?? {}),
    });
    this.add(() => daemon.shutdown({ timeoutMs: 0 }));
    return daemon;
  }

  /** A client pinned to `daemon`'s key (unless options say otherwise), on its first address. */
  async client(daemon: Daemon | string, options: ClientOptions = {}, endpoint?: string): Promise<Client> {
    const url = endpoint ?? (typeof daemon === 'string' ? daemon : daemon.addresses[0]!);
    const pinned = typeof daemon === 'string' || options.trust !== undefined ? {} : { serverPublicKey: daemon.publicKey };
    const client = await Client.connect(url, {
      logger: silentLogger(),
      ...pinned,
      ...options,
      config: this.config((options.config as NetworkConfigInput | undefined) ?? {}),
    });
    this.add(() => client.close());
    return client;
  }

  async closeAll(): Promise<void> {
    for (const close of this.#closers.splice(0).reverse()) {
      try {
        await close();
      } catch {
        // Closing is best effort: a test may already have closed it.
      }
    }
    if (this.#dir !== null) rmSync(this.#dir, { recursive: true, force: true });
    this.#dir = null;
  }
}

/** A key pair for a test client or daemon. */
export function keyPair(): KeyPair {
  return generateKeyPair();
}

/** Resolves with the NproError `promise` rejects with; fails when it resolves or rejects otherwise. */
export async function rejection(promise: Promise<unknown>): Promise<NproError> {
  try {
    await promise;
  } catch (err) {
    if (NproError.is(err)) return err;
    throw err;
  }
  throw new Error('expected a rejection');
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `condition` every 5 ms until true, or fails after `ms`. */
export async function until(condition: () => boolean, ms = 2000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(5);
  }
}

export { within } from '../helpers/async.js';

export const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString('utf8');
