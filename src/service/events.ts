/**
 * A typed `EventEmitter` for the daemon and the client. Event names are fixed per class, and none of
 * them is `'error'`: Node throws an `'error'` event that nobody listens to, and a library must never
 * crash its process for a failure of one connection (behaviour.md §4).
 */
import { EventEmitter } from 'node:events';

/** `E` maps each event name to the type of its one argument. */
export class TypedEmitter<E extends object> {
  readonly #emitter = new EventEmitter();

  constructor() {
    // Many sessions may wait on one client or daemon; this is not a leak.
    this.#emitter.setMaxListeners(0);
  }

  on<K extends keyof E & string>(event: K, listener: (arg: E[K]) => void): this {
    this.#emitter.on(event, listener as (arg: unknown) => void);
    return this;
  }

  once<K extends keyof E & string>(event: K, listener: (arg: E[K]) => void): this {
    this.#emitter.once(event, listener as (arg: unknown) => void);
    return this;
  }

  off<K extends keyof E & string>(event: K, listener: (arg: E[K]) => void): this {
    this.#emitter.off(event, listener as (arg: unknown) => void);
    return this;
  }

  listenerCount<K extends keyof E & string>(event: K): number {
    return this.#emitter.listenerCount(event);
  }

  /**
   * Calls the listeners of `event`. A listener that throws does not reach the caller (a session
   * driver); the exception is re-thrown on a later tick so that it stays visible, as Node does for
   * an exception in any other callback.
   */
  protected emit<K extends keyof E & string>(event: K, arg: E[K]): void {
    if (this.#emitter.listenerCount(event) === 0) return;
    try {
      this.#emitter.emit(event, arg);
    } catch (err) {
      queueMicrotask(() => {
        throw err;
      });
    }
  }
}
