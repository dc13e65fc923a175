import type { PipelineOptions } from './system.js';

/**
 * Helpers for `ClientConn` implementations. Requests waiting for their replies, in send order. Echo peers (raw framing, WebSocket, a gRPC
 * stream) answer in order, so the oldest waiter takes the next reply.
 */

/** One outstanding request. */
export interface Waiter {
  resolve(reply: Buffer): void;
  reject(error: Error): void;
}

/** A FIFO of waiters: an array with a moving head, compacted when half of it is consumed. */
export class ReplyQueue {
  private items: (Waiter | undefined)[] = [];
  private head = 0;

  get size(): number {
    return this.items.length - this.head;
  }

  push(waiter: Waiter): void {
    this.items.push(waiter);
  }

  /** Hands `reply` to the oldest waiter; a reply nobody waits for is an error of the peer. */
  settle(reply: Buffer): void {
    const waiter = this.items[this.head];
    if (waiter === undefined) throw new Error('echo peer sent a reply nobody asked for');
    this.items[this.head++] = undefined;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    waiter.resolve(reply);
  }

  /** Fails every waiter (the connection closed or broke). */
  failAll(error: Error): void {
    const pending = this.items.slice(this.head);
    this.items = [];
    this.head = 0;
    for (const waiter of pending) waiter?.reject(error);
  }
}

/** Rejects with `message` when `promise` has not settled within `ms`; the timer never keeps the process alive. */
export function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(message)), ms);
    timer.unref();
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

/**
 * `ClientConn.pipeline` for a system that only has a request API: keeps `opts.window` calls of
 * `call()` in flight until `opts.count` calls or the deadline, and resolves with the completions.
 */
export function pipelineWithCalls(call: () => Promise<unknown>, opts: PipelineOptions): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    let sent = 0;
    let done = 0;
    let failed = false;
    const refill = (): void => {
      if (failed) return;
      while (sent - done < opts.window && sent < opts.count && performance.now() < opts.deadline) {
        sent++;
        call().then(
          () => {
            done++;
            refill();
          },
          (e: unknown) => {
            failed = true;
            reject(e instanceof Error ? e : new Error(String(e)));
          },
        );
      }
      if (done === sent) resolve(done);
    };
    refill();
  });
}
