/**
 * Heartbeats and the idle timer of a v2 connection (protocol.md §5 "Heartbeats"), without I/O.
 *
 * Traffic means a complete, authenticated record. After `intervalMs` with nothing received the
 * heartbeat asks for a `Ping`; if nothing then arrives for `timeoutMs`, it reports a timeout
 * (`HEARTBEAT_TIMEOUT`). Recording traffic costs one clock read: the single timer re-arms itself
 * for the remaining time instead of being reset on every record.
 */
import type { TimerHandle, Timers } from '../utils/timers.js';
import { systemTimers } from '../utils/timers.js';

export interface HeartbeatOptions {
  intervalMs: number;
  timeoutMs: number;
  /** Called when a `Ping` should be sent. */
  sendPing(): void;
  /** Called once when nothing arrived for `timeoutMs` after a `Ping`. */
  onTimeout(): void;
  timers?: Timers;
}

/**
 * One timer that re-arms itself: what `Heartbeat` and `IdleTimer` share. `check()` runs when it fires
 * (the timer is already cleared); `stop()` is final.
 */
abstract class SelfArmingTimer {
  protected readonly timers: Timers;
  protected timer: TimerHandle | null = null;
  protected stopped = false;

  constructor(timers: Timers | undefined) {
    this.timers = timers ?? systemTimers;
  }

  stop(): void {
    this.stopped = true;
    this.disarm();
  }

  protected arm(ms: number): void {
    this.timer = this.timers.setTimeout(() => {
      this.timer = null;
      this.check();
    }, ms);
  }

  protected disarm(): void {
    this.timer?.cancel();
    this.timer = null;
  }

  protected abstract check(): void;
}

export class Heartbeat extends SelfArmingTimer {
  private lastReceived: number;
  private pingSentAt: number | null = null;

  constructor(private readonly opts: HeartbeatOptions) {
    super(opts.timers);
    this.lastReceived = this.timers.now();
  }

  start(): void {
    if (this.stopped || this.timer) return;
    if (this.opts.intervalMs > 0) this.arm(this.opts.intervalMs);
  }

  /** Records inbound traffic (any authenticated record, `Pong` included). */
  traffic(): void {
    this.lastReceived = this.timers.now();
    if (this.pingSentAt !== null) {
      // The answer to our Ping: the timer was waiting for the timeout, re-arm it for the interval.
      this.pingSentAt = null;
      this.disarm();
      if (!this.stopped) this.arm(this.opts.intervalMs);
    }
  }

  protected check(): void {
    if (this.stopped) return;
    const now = this.timers.now();
    if (this.pingSentAt !== null) {
      const waited = now - this.pingSentAt;
      if (waited >= this.opts.timeoutMs) {
        this.stop();
        this.opts.onTimeout();
        return;
      }
      this.arm(this.opts.timeoutMs - waited);
      return;
    }
    const silence = now - this.lastReceived;
    if (silence >= this.opts.intervalMs) {
      this.pingSentAt = now;
      this.opts.sendPing();
      if (!this.stopped) this.arm(this.opts.timeoutMs);
      return;
    }
    this.arm(this.opts.intervalMs - silence);
  }
}

export interface IdleTimerOptions {
  idleMs: number;
  /** Called once when the connection was idle for `idleMs` with nothing in flight. */
  onIdle(): void;
  timers?: Timers;
}

/**
 * `idle_timeout` (protocol.md §5): counts only records holding something other than `Ping`/`Pong`,
 * and runs only while no request is in flight. `idleMs` 0 disables it.
 */
export class IdleTimer extends SelfArmingTimer {
  private lastActivity: number;
  private inFlight = 0;

  constructor(private readonly opts: IdleTimerOptions) {
    super(opts.timers);
    this.lastActivity = this.timers.now();
  }

  start(): void {
    if (!this.stopped && this.opts.idleMs > 0 && !this.timer && this.inFlight === 0) this.arm(this.opts.idleMs);
  }

  /** A record with application traffic (anything but `Ping`/`Pong`). */
  activity(): void {
    this.lastActivity = this.timers.now();
  }

  /** A request started (client: sent; server: received). */
  requestStarted(): void {
    this.inFlight++;
    this.disarm();
  }

  /** A request settled; the idle clock restarts from now when none is left. */
  requestSettled(): void {
    if (this.inFlight > 0) this.inFlight--;
    if (this.inFlight === 0) {
      this.lastActivity = this.timers.now();
      this.start();
    }
  }

  protected check(): void {
    if (this.stopped || this.inFlight > 0) return;
    const idle = this.timers.now() - this.lastActivity;
    if (idle >= this.opts.idleMs) {
      this.stop();
      this.opts.onIdle();
      return;
    }
    this.arm(this.opts.idleMs - idle);
  }
}
