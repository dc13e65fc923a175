/**
 * The key-value store behind the example service, and its handlers. Kept apart from the daemon so
 * the handlers read as plain functions: each takes the request payload and the handler context
 * and returns the reply, or throws an `NproError` whose code the client receives.
 *
 * Commands (payloads are UTF-8; replies are JSON so that `npro call` prints them readably):
 *
 * | command | payload | reply |
 * |---|---|---|
 * | `SET` | `{"key": "k", "value": "v"}` | the previous value, or `null` |
 * | `GET` | the key | the value, or `null` |
 * | `DEL` | the key | `true` if it existed |
 * | `KEYS` | a prefix (may be empty) | the matching keys, sorted |
 * | `WAIT` | `{"key": "k", "timeoutMs": 5000}` | the value once the key is set (async; cancellable) |
 */
import { Dispatcher, NproError, type HandlerContext } from '../src/service/index.js';

/** Longest key, in UTF-8 bytes. */
export const MAX_KEY_BYTES = 256;

const decoder = new TextDecoder('utf-8', { fatal: true });
const json = (value: unknown): string => JSON.stringify(value);

function malformed(message: string): NproError {
  return new NproError('MESSAGE_MALFORMED', message);
}

function keyFrom(text: unknown): string {
  if (typeof text !== 'string' || text === '') throw malformed('a key is a non-empty string');
  if (Buffer.byteLength(text) > MAX_KEY_BYTES) throw malformed(`a key is at most ${MAX_KEY_BYTES} bytes`);
  return text;
}

function textOf(payload: Uint8Array): string {
  try {
    return decoder.decode(payload);
  } catch {
    throw malformed('the payload is not UTF-8 text');
  }
}

function objectOf(payload: Uint8Array, command: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(textOf(payload));
  } catch (err) {
    if (NproError.is(err)) throw err;
    throw malformed(`${command} takes a JSON object`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw malformed(`${command} takes a JSON object`);
  return value as Record<string, unknown>;
}

/** A string → string map with waiters for keys not yet set. */
export class KvStore {
  readonly #values = new Map<string, string>();
  readonly #waiters = new Map<string, Set<(value: string) => void>>();

  constructor(readonly maxKeys = 10_000) {}

  get(key: string): string | undefined {
    return this.#values.get(key);
  }

  set(key: string, value: string): string | undefined {
    const previous = this.#values.get(key);
    if (previous === undefined && this.#values.size >= this.maxKeys) {
      throw new NproError('SERVER_BUSY', `the store is full (${this.maxKeys} keys)`);
    }
    this.#values.set(key, value);
    const waiters = this.#waiters.get(key);
    this.#waiters.delete(key);
    for (const wake of waiters ?? []) wake(value);
    return previous;
  }

  delete(key: string): boolean {
    return this.#values.delete(key);
  }

  keys(prefix = ''): string[] {
    return [...this.#values.keys()].filter((k) => k.startsWith(prefix)).sort();
  }

  /** Handlers waiting in `WAIT` right now (a cancelled wait leaves none behind). */
  get waiting(): number {
    let n = 0;
    for (const set of this.#waiters.values()) n += set.size;
    return n;
  }

  /**
   * The value of `key` once it is set. Rejects with `DEADLINE_EXCEEDED` after `timeoutMs`, and with
   * `CANCELLED` when `signal` aborts (the client cancelled, its connection ended, or the daemon
   * stopped waiting); either way the waiter and its timer are removed.
   */
  waitFor(key: string, timeoutMs: number, signal: AbortSignal): Promise<string> {
    const present = this.#values.get(key);
    if (present !== undefined) return Promise.resolve(present);
    if (signal.aborted) return Promise.reject(new NproError('CANCELLED', `WAIT ${key} was cancelled`));
    return new Promise<string>((resolve, reject) => {
      const settle = (fn: () => void) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        const set = this.#waiters.get(key);
        set?.delete(wake);
        if (set?.size === 0) this.#waiters.delete(key);
        fn();
      };
      const wake = (value: string) => settle(() => resolve(value));
      const onAbort = () => settle(() => reject(new NproError('CANCELLED', `WAIT ${key} was cancelled`)));
      const timer = setTimeout(() => settle(() => reject(new NproError('DEADLINE_EXCEEDED', `${key} was not set within ${timeoutMs} ms`))), timeoutMs);
      timer.unref();
      signal.addEventListener('abort', onAbort, { once: true });
      let set = this.#waiters.get(key);
      if (set === undefined) this.#waiters.set(key, (set = new Set()));
      set.add(wake);
    });
  }
}

/** Longest `WAIT` a client may ask for. */
export const MAX_WAIT_MS = 60_000;

/** A dispatcher serving `store` with the commands above. */
export function createKvDispatcher(store: KvStore): Dispatcher {
  const dispatcher = new Dispatcher();
  dispatcher.register('SET', (payload) => {
    const request = objectOf(payload, 'SET');
    if (typeof request['value'] !== 'string') throw malformed('SET takes {"key": string, "value": string}');
    return json(store.set(keyFrom(request['key']), request['value']) ?? null);
  });
  dispatcher.register('GET', (payload) => json(store.get(keyFrom(textOf(payload))) ?? null));
  dispatcher.register('DEL', (payload) => json(store.delete(keyFrom(textOf(payload)))));
  dispatcher.register('KEYS', (payload) => json(store.keys(textOf(payload))));
  dispatcher.register('WAIT', async (payload, ctx: HandlerContext) => {
    const request = objectOf(payload, 'WAIT');
    const timeoutMs = request['timeoutMs'] ?? 5000;
    if (typeof timeoutMs !== 'number' || !Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_WAIT_MS) {
      throw malformed(`WAIT timeoutMs is an integer from 1 to ${MAX_WAIT_MS}`);
    }
    const key = keyFrom(request['key']);
    ctx.log.debug({ key, timeoutMs }, 'waiting for a key');
    return json(await store.waitFor(key, timeoutMs, ctx.signal));
  });
  return dispatcher;
}
