/**
 * Request deadlines of a client with one timer, whatever the number of requests in flight.
 *
 * Entries live in one of two queues: a FIFO for deadlines that do not decrease in the order they
 * are added (the common case: every request with the same timeout, O(1) per request), and a binary
 * min-heap for the others. A single timer is armed for the earliest deadline of both.
 *
 * Settling does not search either queue: the entry is marked settled and dropped when it reaches a
 * front; should settled entries pile up behind a long-lived one, the queues are compacted. With
 * requests of equal timeout the timer is armed once per deadline period, not per request, even when
 * one request at a time is in flight (the timer is not cancelled when the queue empties).
 */
import type { TimerHandle, Timers } from '../utils/timers.js';

/** Something with a deadline (on the `Timers` clock, ms) that settles once. */
export interface Deadlined {
  readonly deadline: number;
  readonly settled: boolean;
}

/** A timer may fire up to this much before its time (ms granularity of Node timers). */
const EARLY_MS = 1;

export class DeadlineQueue<T extends Deadlined> {
  #fifo: (T | undefined)[] = [];
  #head = 0;
  #heap: T[] = [];
  #live = 0;
  #timer: TimerHandle | null = null;
  #armedFor = Infinity;

  constructor(
    private readonly timers: Timers,
    private readonly expired: (item: T) => void,
  ) {}

  /** Entries not yet settled (as far as the queue was told). */
  get size(): number {
    return this.#live;
  }

  /** Tracks `item`; an infinite deadline is never tracked. */
  add(item: T): void {
    if (!Number.isFinite(item.deadline)) return;
    this.#live++;
    const fifo = this.#fifo;
    if (fifo.length === this.#head || fifo[fifo.length - 1]!.deadline <= item.deadline) fifo.push(item);
    else this.#heapPush(item);
    if (item.deadline < this.#armedFor) this.#arm(item.deadline);
  }

  /** `item` settled (call once, after marking it settled; not for items handed to `expired`). */
  settled(item: T): void {
    if (!Number.isFinite(item.deadline)) return;
    this.#live--;
    this.#prune();
    if (this.#fifo.length - this.#head + this.#heap.length > 2 * this.#live + 64) this.#compact();
    if (this.#live === 0) {
      // The timer stays armed (it never keeps the process alive): when it fires with nothing due it
      // is not re-armed, and a request added meanwhile with a later deadline costs no timer call.
      this.#fifo = [];
      this.#head = 0;
      this.#heap = [];
    }
  }

  /** Drops every entry and the timer. */
  clear(): void {
    this.#fifo = [];
    this.#head = 0;
    this.#heap = [];
    this.#live = 0;
    this.#disarm();
  }

  /** The earliest unsettled entry's deadline after dropping settled fronts, or Infinity. */
  #earliest(): number {
    this.#prune();
    const f = this.#head < this.#fifo.length ? this.#fifo[this.#head]!.deadline : Infinity;
    const h = this.#heap.length > 0 ? this.#heap[0]!.deadline : Infinity;
    return f < h ? f : h;
  }

  #prune(): void {
    const fifo = this.#fifo;
    while (this.#head < fifo.length && fifo[this.#head]!.settled) fifo[this.#head++] = undefined;
    if (this.#head === fifo.length && this.#head > 0) {
      this.#fifo = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > fifo.length) {
      this.#fifo = fifo.slice(this.#head);
      this.#head = 0;
    }
    const heap = this.#heap;
    while (heap.length > 0 && heap[0]!.settled) this.#heapPop();
  }

  readonly #fire = (): void => {
    this.#timer = null;
    this.#armedFor = Infinity;
    const limit = this.timers.now() + EARLY_MS;
    for (;;) {
      const next = this.#earliest();
      if (next > limit) break;
      const fromFifo = this.#head < this.#fifo.length && this.#fifo[this.#head]!.deadline === next;
      let item: T;
      if (fromFifo) {
        item = this.#fifo[this.#head]!;
        this.#fifo[this.#head++] = undefined;
      } else {
        item = this.#heapPop();
      }
      this.#live--;
      this.expired(item);
    }
    const next = this.#earliest();
    if (next !== Infinity && this.#timer === null) this.#arm(next);
  };

  #arm(deadline: number): void {
    this.#timer?.cancel();
    this.#armedFor = deadline;
    this.#timer = this.timers.setTimeout(this.#fire, Math.max(0, deadline - this.timers.now()));
  }

  #disarm(): void {
    this.#timer?.cancel();
    this.#timer = null;
    this.#armedFor = Infinity;
  }

  #compact(): void {
    const live = this.#fifo.slice(this.#head).filter((item) => item !== undefined && !item.settled) as T[];
    this.#fifo = live;
    this.#head = 0;
    const heap = this.#heap.filter((item) => !item.settled);
    this.#heap = heap;
    for (let i = (heap.length >> 1) - 1; i >= 0; i--) this.#down(i);
  }

  #heapPush(item: T): void {
    const heap = this.#heap;
    let i = heap.length;
    heap.push(item);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent]!.deadline <= item.deadline) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = item;
  }

  #heapPop(): T {
    const heap = this.#heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      this.#down(0);
    }
    return top;
  }

  #down(i: number): void {
    const heap = this.#heap;
    const n = heap.length;
    const item = heap[i]!;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && heap[child + 1]!.deadline < heap[child]!.deadline) child++;
      if (heap[child]!.deadline >= item.deadline) break;
      heap[i] = heap[child]!;
      i = child;
    }
    heap[i] = item;
  }
}
