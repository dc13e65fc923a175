/**
 * Which `Ping` each `Pong` answers, on one client connection. A server answers `Ping`s (and
 * `Custom{"PING"}`) in arrival order (protocol.md §5), so the Pongs come back in the order the pings
 * left: a FIFO of owners — the heartbeat, a `ping()` caller waiting for its round trip, or the
 * application (a `Ping` it pushed with `send()`, whose `Pong` it receives like any pushed message).
 */
import { NproError } from '../core/errors.js';
import type { TimerHandle, Timers } from '../utils/timers.js';

interface PingWaiter {
  start: number;
  done: boolean;
  resolve(ms: number): void;
  reject(error: NproError): void;
  timer: TimerHandle | null;
}

const HEARTBEAT = 'heartbeat';
const PUSHED = 'pushed';
type PongOwner = PingWaiter | typeof HEARTBEAT | typeof PUSHED;

export class PongQueue {
  #owners: PongOwner[] = [];

  constructor(private readonly timers: Timers) {}

  /** A heartbeat `Ping` left: its `Pong` is swallowed. */
  heartbeat(): void {
    this.#owners.push(HEARTBEAT);
  }

  /** The application sent a `Ping`: its `Pong` is delivered to it. */
  pushed(): void {
    this.#owners.push(PUSHED);
  }

  /** A `ping()` caller: resolves with the round-trip time in ms, or `DEADLINE_EXCEEDED` after `timeoutMs`. */
  wait(timeoutMs: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const waiter: PingWaiter = { start: this.timers.now(), done: false, resolve, reject, timer: null };
      waiter.timer = this.timers.setTimeout(() => {
        waiter.done = true;
        reject(new NproError('DEADLINE_EXCEEDED', `no Pong within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#owners.push(waiter);
    });
  }

  /** A `Pong` arrived: true when it belongs to the application (deliver it). */
  pong(): boolean {
    const owner = this.#owners.shift();
    if (owner === undefined || owner === HEARTBEAT) return false;
    if (owner === PUSHED) return true;
    if (!owner.done) {
      owner.done = true;
      owner.timer?.cancel();
      owner.resolve(this.timers.now() - owner.start);
    }
    return false;
  }

  /** The connection ended: every `ping()` caller fails with `error`. */
  fail(error: NproError): void {
    for (const owner of this.#owners.splice(0)) {
      if (typeof owner === 'object' && !owner.done) {
        owner.done = true;
        owner.timer?.cancel();
        owner.reject(error);
      }
    }
  }
}
