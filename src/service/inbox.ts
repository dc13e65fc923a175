/**
 * Messages a server pushes to a client (protocol.md §5: "delivered to the application and never
 * answered"), read through async iteration (`for await (const m of client)`).
 *
 * Bounded: up to `limit` messages wait. While someone iterates, a full inbox pauses reading (nothing
 * is lost; memory stays bounded) until half of it is consumed; while nobody iterates, the oldest
 * messages beyond the limit are dropped and counted.
 */
import type { Message } from '../core/message.js';

export class Inbox {
  readonly #messages: Message[] = [];
  readonly #readers: ((r: IteratorResult<Message>) => void)[] = [];
  #iterating = false;
  #full = false;
  #ended = false;
  /** Messages dropped because nobody iterates. */
  dropped = 0;

  /** `onFull(true)`: pause reading; `onFull(false)`: resume. */
  constructor(
    private readonly limit: number,
    private readonly onFull: (full: boolean) => void,
  ) {}

  /** True while reading is paused for this inbox. */
  get full(): boolean {
    return this.#full;
  }

  deliver(message: Message): void {
    const reader = this.#readers.shift();
    if (reader !== undefined) {
      reader({ value: message, done: false });
      return;
    }
    const messages = this.#messages;
    messages.push(message);
    if (messages.length < this.limit) return;
    if (!this.#iterating) {
      messages.shift();
      this.dropped++;
    } else if (!this.#full) {
      this.#full = true;
      this.onFull(true);
    }
  }

  iterator(): AsyncIterator<Message> {
    this.#iterating = true;
    return {
      next: () => this.#next(),
      return: () => Promise.resolve({ value: undefined, done: true }),
    };
  }

  /** No more messages will come: waiting readers finish, later ones get what is left, then done. */
  end(): void {
    this.#ended = true;
    for (const reader of this.#readers.splice(0)) reader({ value: undefined, done: true });
  }

  #next(): Promise<IteratorResult<Message>> {
    const m = this.#messages.shift();
    if (m !== undefined) {
      if (this.#full && this.#messages.length <= this.limit >> 1) {
        this.#full = false;
        this.onFull(false);
      }
      return Promise.resolve({ value: m, done: false });
    }
    if (this.#ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => this.#readers.push(resolve));
  }
}
