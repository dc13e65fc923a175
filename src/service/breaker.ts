/**
 * The circuit breaker of one pool endpoint (behaviour.md §3 `pool.breaker_failures`,
 * `pool.breaker_reset`; §4 Pool). A state machine without I/O: the pool reports what happened, the
 * breaker says whether the endpoint may be used, and its one timer runs on injected `Timers`.
 *
 * ```text
 *   closed ── breaker_failures consecutive failures ──▶ open
 *     ▲                                                  │ breaker_reset
 *     └──────── the probe succeeds ◀── half-open ◀───────┘
 *                                       │ the probe fails ──▶ open (another breaker_reset)
 * ```
 *
 * - `closed`: any success resets the count of consecutive failures.
 * - `open`: the endpoint takes no calls; results still arriving from before (a connection that was
 *   draining, a connect attempt already under way) change nothing.
 * - `half-open`: exactly one probe is admitted (`beginProbe()` is true once); only its result
 *   counts. Unlike the crate's breaker (which reset to closed and admitted unlimited traffic), one
 *   failed probe re-opens the breaker at once.
 */
import type { TimerHandle, Timers } from '../utils/timers.js';

/** The states of a breaker, as `stats()` reports them. */
export const BREAKER_STATES = ['closed', 'open', 'half-open'] as const;
export type BreakerState = (typeof BREAKER_STATES)[number];

export interface BreakerOptions {
  /** `pool.breaker_failures`: consecutive failures that open the breaker (≥ 1). */
  failures: number;
  /** `pool.breaker_reset`: how long it stays open before the probe, in ms. */
  resetMs: number;
  timers: Timers;
  /** Called when the breaker opens (the owner stops using the endpoint). */
  onOpen?: () => void;
  /** Called when the open period ends: the owner starts the one probe (`beginProbe()`). */
  onHalfOpen?: () => void;
  /** Called when the breaker closes again after a successful probe. */
  onClose?: () => void;
}

export class CircuitBreaker {
  readonly #options: BreakerOptions;
  #state: BreakerState = 'closed';
  #failures = 0;
  #probing = false;
  #timer: TimerHandle | null = null;
  #retryAt = 0;
  #opens = 0;
  #stopped = false;

  constructor(options: BreakerOptions) {
    this.#options = options;
  }

  get state(): BreakerState {
    return this.#state;
  }

  /** Consecutive failures counted (kept while open, 0 once closed again). */
  get failures(): number {
    return this.#failures;
  }

  /** True while the probe of a half-open breaker is under way. */
  get probing(): boolean {
    return this.#probing;
  }

  /** When an open breaker turns half-open (`Timers` clock); 0 when not open. */
  get retryAt(): number {
    return this.#state === 'open' ? this.#retryAt : 0;
  }

  /** How many times the breaker has opened. */
  get opens(): number {
    return this.#opens;
  }

  /** True when calls may use the endpoint. */
  get allows(): boolean {
    return this.#state === 'closed';
  }

  /** A call, connect, or health check succeeded; `probe` marks the result of the half-open probe. */
  success(probe = false): void {
    if (this.#stopped) return;
    if (this.#state === 'closed') {
      this.#failures = 0;
      return;
    }
    if (this.#state === 'half-open' && probe && this.#probing) {
      this.#probing = false;
      this.#state = 'closed';
      this.#failures = 0;
      this.#options.onClose?.();
    }
  }

  /** A connect, connection or health check failed; `probe` marks the result of the half-open probe. */
  failure(probe = false): void {
    if (this.#stopped) return;
    if (this.#state === 'closed') {
      this.#failures++;
      if (this.#failures >= this.#options.failures) this.#open();
      return;
    }
    if (this.#state === 'half-open' && probe && this.#probing) {
      this.#probing = false;
      this.#failures++;
      this.#open();
    }
  }

  /** Half-open and no probe yet: the caller becomes the probe (true, once per half-open period). */
  beginProbe(): boolean {
    if (this.#stopped || this.#state !== 'half-open' || this.#probing) return false;
    this.#probing = true;
    return true;
  }

  /** Cancels the timer for good (the pool is closing); later reports are ignored. */
  stop(): void {
    this.#stopped = true;
    this.#timer?.cancel();
    this.#timer = null;
  }

  #open(): void {
    const { timers, resetMs } = this.#options;
    this.#state = 'open';
    this.#opens++;
    this.#retryAt = timers.now() + resetMs;
    this.#timer?.cancel();
    this.#timer = timers.setTimeout(() => {
      this.#timer = null;
      if (this.#stopped || this.#state !== 'open') return;
      this.#state = 'half-open';
      this.#options.onHalfOpen?.();
    }, resetMs);
    this.#options.onOpen?.();
  }
}
