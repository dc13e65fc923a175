/**
 * Example: a client of the key-value service (kv-service.ts).
 *
 * Run it after `npm run build`, with the service running:
 *
 *     node dist/examples/kv-client.js [URL] [SERVER_PUBLIC_KEY]
 *
 * URL defaults to tcp://127.0.0.1:9100. With SERVER_PUBLIC_KEY (printed by the service) the
 * server's key is pinned; without it, the key seen on the first connection is recorded in
 * .npro/known_hosts and required from then on (trust on first use).
 */
import { pathToFileURL } from 'node:url';
import { Client, NproError, type ClientOptions } from '../src/service/index.js';

export const DEFAULT_KV_ENDPOINT = 'tcp://127.0.0.1:9100';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The service's commands as typed methods over one npro client. */
export class KvClient {
  constructor(readonly client: Client) {}

  /** Connects to the service; `options.serverPublicKey` pins its key (else trust on first use). */
  static async connect(endpoint = DEFAULT_KV_ENDPOINT, options: ClientOptions = {}): Promise<KvClient> {
    return new KvClient(await Client.connect(endpoint, options));
  }

  private async call(command: string, payload: string | object, timeoutMs?: number): Promise<unknown> {
    const text = typeof payload === 'string' ? payload : JSON.stringify(payload);
    const reply = await this.client.request(command, encoder.encode(text), timeoutMs === undefined ? {} : { timeoutMs });
    return JSON.parse(decoder.decode(reply)) as unknown;
  }

  /** Sets `key`; resolves to its previous value, or `null`. */
  async set(key: string, value: string): Promise<string | null> {
    return (await this.call('SET', { key, value })) as string | null;
  }

  async get(key: string): Promise<string | null> {
    return (await this.call('GET', key)) as string | null;
  }

  /** Deletes `key`; resolves to whether it existed. */
  async del(key: string): Promise<boolean> {
    return (await this.call('DEL', key)) as boolean;
  }

  async keys(prefix = ''): Promise<string[]> {
    return (await this.call('KEYS', prefix)) as string[];
  }

  /**
   * Resolves with the value of `key` once it is set. The service gives up after `serverTimeoutMs`
   * (`DEADLINE_EXCEEDED`); `requestTimeoutMs` is how long this client waits before cancelling.
   */
  async wait(key: string, serverTimeoutMs: number, requestTimeoutMs = serverTimeoutMs + 1000): Promise<string> {
    return (await this.call('WAIT', { key, timeoutMs: serverTimeoutMs }, requestTimeoutMs)) as string;
  }

  close(): Promise<void> {
    return this.client.close();
  }
}

/** What the demo saw, for a reader (and for the example's test). */
export interface DemoResult {
  greeting: string | null;
  missing: string | null;
  keys: string[];
  waited: string;
  cancelledCode: string | undefined;
  malformedCode: string | undefined;
  deleted: [boolean, boolean];
}

/** The error code of a failed call (errors are matched by code, never by message). */
async function codeOf(call: Promise<unknown>): Promise<string | undefined> {
  try {
    await call;
    return undefined;
  } catch (err) {
    if (NproError.is(err)) return err.code;
    throw err;
  }
}

/** A tour of the service: every command, an async wait, a cancelled wait and a refused request. */
export async function runDemo(kv: KvClient, log: (line: string) => void = () => undefined): Promise<DemoResult> {
  await kv.set('greeting', 'hello');
  await kv.set('language', 'TypeScript');
  const greeting = await kv.get('greeting');
  log(`GET greeting → ${JSON.stringify(greeting)}`);
  const missing = await kv.get('no-such-key');
  log(`GET no-such-key → ${JSON.stringify(missing)}`);
  const keys = await kv.keys();
  log(`KEYS → ${JSON.stringify(keys)}`);

  // WAIT is answered later, when another request sets the key: requests are multiplexed.
  const waiting = kv.wait('ready', 5000);
  await kv.set('ready', 'yes');
  const waited = await waiting;
  log(`WAIT ready → ${JSON.stringify(waited)}`);

  // This client stops waiting after 200 ms: the request fails with DEADLINE_EXCEEDED, a Cancel is
  // sent, and the handler's ctx.signal aborts, which removes its waiter in the service.
  const cancelledCode = await codeOf(kv.wait('never', 10_000, 200));
  log(`WAIT never (client deadline 200 ms) → ${cancelledCode}`);

  const malformedCode = await codeOf(kv.set('', 'no key'));
  log(`SET with an empty key → ${malformedCode}`);

  const deleted: [boolean, boolean] = [await kv.del('greeting'), await kv.del('greeting')];
  log(`DEL greeting twice → ${JSON.stringify(deleted)}`);
  return { greeting, missing, keys, waited, cancelledCode, malformedCode, deleted };
}

async function main(): Promise<void> {
  const [endpoint = DEFAULT_KV_ENDPOINT, serverKey] = process.argv.slice(2);
  const kv = await KvClient.connect(endpoint, serverKey === undefined ? {} : { serverPublicKey: serverKey });
  try {
    await runDemo(kv, (line) => console.log(line));
  } finally {
    await kv.close();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(NproError.is(err) ? `error ${err.code}: ${err.message}` : err);
    process.exitCode = 1;
  });
}
