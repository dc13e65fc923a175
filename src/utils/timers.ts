/**
 * Injectable clock and timers (style habit 10): production code uses `systemTimers`, tests drive a
 * `ManualTimers` instance. Every timer made through `systemTimers` is `unref()`'d so that npro never
 * keeps a process alive on its own.
 */

export interface TimerHandle {
  cancel(): void;
}

export interface Timers {
  /** Milliseconds, monotonic within a process (not wall-clock). */
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
}

export const systemTimers: Timers = {
  now: () => performance.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref();
    return { cancel: () => clearTimeout(t) };
  },
};

/** Unix time in milliseconds (the handshake's clock; injectable where it is used). */
export const wallClock = (): number => Date.now();

/** A clock that moves only when told to, for deterministic tests of timeouts and heartbeats. */
export class ManualTimers implements Timers {
  private current = 0;
  private seq = 0;
  private readonly pending = new Map<number, { at: number; fn: () => void }>();

  now(): number {
    return this.current;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = ++this.seq;
    this.pending.set(id, { at: this.current + Math.max(0, ms), fn });
    return { cancel: () => this.pending.delete(id) };
  }

  /** Number of timers not yet fired or cancelled. */
  get size(): number {
    return this.pending.size;
  }

  /** Moves the clock forward by `ms`, firing due timers in time order (timers they set fire too). */
  advance(ms: number): void {
    const target = this.current + ms;
    for (;;) {
      let nextId = -1;
      let nextAt = Infinity;
      for (const [id, t] of this.pending) {
        if (t.at <= target && (t.at < nextAt || (t.at === nextAt && id < nextId))) {
          nextAt = t.at;
          nextId = id;
        }
      }
      if (nextId < 0) break;
      const t = this.pending.get(nextId)!;
      this.pending.delete(nextId);
      this.current = Math.max(this.current, t.at);
      t.fn();
    }
    this.current = target;
  }
}
