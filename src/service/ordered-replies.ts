/**
 * Replies that must leave in arrival order (protocol.md §5): those to `Ping`, `Echo`, `Custom` and
 * `Unknown`, their `Failure{0}` included. A slow asynchronous `Custom` handler holds back the replies
 * queued after it (not `Response`s, which go out as they complete).
 *
 * The common case costs nothing: while no slot is pending, a reply goes straight out. Only an
 * asynchronous handler reserves a {@link ReplySlot}, filled when it settles.
 */
import type { Message } from '../core/message.js';
import type { RequestContext } from './handler-context.js';

/** The place of a reply whose handler has not settled yet. */
export class ReplySlot {
  /** The reply once known; `null` while pending. */
  message: Message | null = null;
  /** True once filled (a filled slot may carry no message: nothing to send). */
  filled = false;

  constructor(readonly context: RequestContext) {}
}

export class OrderedReplies {
  #items: (Message | ReplySlot | undefined)[] = [];
  #head = 0;

  constructor(private readonly out: (message: Message) => void) {}

  /** Replies held (pending slots and the replies waiting behind them). */
  get size(): number {
    return this.#items.length - this.#head;
  }

  /** Sends `message` now, or after the pending slots ahead of it. */
  push(message: Message): void {
    if (this.#items.length === this.#head) this.out(message);
    else this.#items.push(message);
  }

  /** Reserves the place of a reply that will come later. */
  reserve(slot: ReplySlot): void {
    this.#items.push(slot);
  }

  /** Fills `slot` (`null`: nothing to send) and sends every reply that is now first in line. */
  fill(slot: ReplySlot, message: Message | null): void {
    if (slot.filled) return;
    slot.filled = true;
    slot.message = message;
    this.#drain();
  }

  /** The slots still waiting for their handler. */
  pendingSlots(): ReplySlot[] {
    const slots: ReplySlot[] = [];
    for (let i = this.#head; i < this.#items.length; i++) {
      const item = this.#items[i];
      if (item instanceof ReplySlot && !item.filled) slots.push(item);
    }
    return slots;
  }

  /** Forgets everything held (the session ended). */
  clear(): void {
    this.#items = [];
    this.#head = 0;
  }

  #drain(): void {
    const items = this.#items;
    while (this.#head < items.length) {
      const item = items[this.#head]!;
      if (item instanceof ReplySlot) {
        if (!item.filled) break;
        if (item.message !== null) this.out(item.message);
      } else {
        this.out(item);
      }
      items[this.#head++] = undefined;
    }
    if (this.#head === items.length) {
      this.#items = [];
      this.#head = 0;
    }
  }
}
