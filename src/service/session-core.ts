/**
 * What every connection driver shares, server or client (protocol.md §1, §8): the frame decoder fed
 * from the socket, the frame deadline, pausing the input, and the way a side closes.
 *
 * - Input: each socket chunk goes into the `FrameDecoder`; whole frames are handed out one at a time
 *   (`onFrame`), so that the limit in force can change between two frames (protocol.md §1). Output
 *   made while a chunk is processed is flushed once, at its end (`beforeInput` / `afterInput`).
 * - `frame_timeout` runs from a frame's first byte to its last: one timer, armed when a frame is left
 *   incomplete and re-armed for the time remaining, never reset per chunk (`FRAME_TIMEOUT`).
 * - Pausing: a bit set of reasons (inbound backpressure, a blocked write); while any is set, no frame
 *   is taken from the decoder and the socket is paused.
 * - Closing (protocol.md §8): after its last frame a side shuts down its write direction, reads and
 *   discards until the peer closes or {@link LINGER_MS} passes, then closes. It never resets on its
 *   own initiative.
 */
import { NproError } from '../core/errors.js';
import type { DecodedFrame, FrameDecoder } from '../core/frame-decoder.js';
import type { Connection, ConnectionHandlers } from '../transport/index.js';
import type { TimerHandle, Timers } from '../utils/timers.js';

/** How long a closing side keeps reading before it closes (protocol.md §8). */
export const LINGER_MS = 1000;

/** Why input is paused (bits). */
export const PAUSE = {
  /** More inbound messages queued or being handled than `backpressure_limit`. */
  BACKPRESSURE: 1,
  /** The connection refused more output (waiting for `drain`). */
  WRITE: 2,
} as const;

export type CoreState = 'open' | 'closing' | 'closed';

export interface SessionCoreOptions {
  timers: Timers;
  /** `frame_timeout` in ms. */
  frameTimeoutMs: number;
  /** Counts bytes received (the daemon's statistics), called once per chunk. */
  countIn?: (bytes: number) => void;
}

export abstract class SessionCore {
  readonly connection: Connection;
  protected readonly decoder: FrameDecoder;
  readonly timers: Timers;
  /** True once the peer's FIN or the end of the connection was seen. */
  protected peerEnded = false;
  #state: CoreState = 'open';
  #pauseMask = 0;
  #pumping = false;
  readonly #frameTimeoutMs: number;
  #frameStart = -1;
  #frameTimer: TimerHandle | null = null;
  #linger: TimerHandle | null = null;
  #transportError: NproError | null = null;
  readonly #countIn: ((bytes: number) => void) | undefined;

  constructor(connection: Connection, decoder: FrameDecoder, options: SessionCoreOptions) {
    this.connection = connection;
    this.decoder = decoder;
    this.timers = options.timers;
    this.#frameTimeoutMs = options.frameTimeoutMs;
    this.#countIn = options.countIn;
  }

  get state(): CoreState {
    return this.#state;
  }

  /** Installs the connection handlers; input starts flowing. */
  protected attach(): void {
    const handlers: ConnectionHandlers = {
      data: (chunk) => this.#onData(chunk),
      end: () => this.#onEnd(),
      close: () => this.#onClose(),
      error: (err) => {
        this.#transportError ??= err;
      },
      drain: () => this.onDrain(),
    };
    this.connection.setHandlers(handlers);
  }

  /** A whole frame, in order. */
  protected abstract onFrame(frame: DecodedFrame): void;
  /** The decoder failed (`BAD_MAGIC`, `VERSION_UNSUPPORTED`, `FRAME_TOO_LARGE`). */
  protected abstract onDecodeError(err: NproError): void;
  /** A frame stayed incomplete for `frame_timeout`. */
  protected abstract onFrameTimeout(): void;
  /** The peer shut down its write direction while this side was open. */
  protected abstract onPeerEnd(): void;
  /** The connection is closed; `transportError` is the socket error, if one caused it. */
  protected abstract onClosed(transportError: NproError | null): void;
  /** This side starts closing: stop every timer of the subclass. */
  protected abstract onClosing(): void;
  /** The connection drained its write buffer. */
  protected abstract onDrain(): void;
  /** Called before and after a batch of frames (one socket chunk, or a resume). */
  protected beforeInput(): void {}
  protected afterInput(): void {}

  /** Stops taking frames (and reading the socket) for `reason` until `resume(reason)`. */
  protected pause(reason: number): void {
    if (this.#pauseMask === 0 && this.#state === 'open') this.connection.pause();
    this.#pauseMask |= reason;
  }

  protected resume(reason: number): void {
    if ((this.#pauseMask & reason) === 0) return;
    this.#pauseMask &= ~reason;
    if (this.#pauseMask !== 0 || this.#state !== 'open') return;
    this.connection.resume();
    // Frames may be waiting in the decoder; an outer pump (if any) picks them up by itself.
    if (!this.#pumping) this.#pump();
  }

  protected isPaused(reason: number): boolean {
    return (this.#pauseMask & reason) !== 0;
  }

  /**
   * Writes `frames` (this side's last), shuts down the write direction and lingers (protocol.md §8).
   * Does nothing unless open.
   */
  protected finish(frames: readonly Uint8Array[] = []): void {
    if (this.#state !== 'open') return;
    this.#state = 'closing';
    this.#clearFrameTimer();
    this.onClosing();
    try {
      if (frames.length > 0) this.connection.writev(frames);
      this.connection.end();
    } catch {
      // The connection is already closed: its `close` handler reports the end.
    }
    // Read and discard until the peer closes: a paused socket would never see its FIN.
    this.#pauseMask = 0;
    this.connection.resume();
    this.#linger = this.timers.setTimeout(() => {
      this.#linger = null;
      this.connection.destroy();
    }, LINGER_MS);
  }

  /** Closes at once, writing nothing (the connection failed or is being torn down). */
  protected destroyNow(): void {
    if (this.#state === 'closed') return;
    if (this.#state === 'open') {
      this.#state = 'closing';
      this.#clearFrameTimer();
      this.onClosing();
    }
    this.connection.destroy();
  }

  #onData(chunk: Uint8Array): void {
    this.#countIn?.(chunk.length);
    if (this.#state !== 'open') return;
    this.decoder.push(chunk);
    this.#pump();
  }

  /** Takes whole frames out of the decoder while open and not paused. */
  #pump(): void {
    this.#pumping = true;
    this.beforeInput();
    let frames = 0;
    try {
      while (this.#state === 'open' && this.#pauseMask === 0) {
        let frame: DecodedFrame | null;
        try {
          frame = this.decoder.next();
        } catch (err) {
          this.onDecodeError(NproError.is(err) ? err : new NproError('PROTOCOL_ERROR', 'frame decoding failed', { cause: err }));
          break;
        }
        if (frame === null) break;
        frames++;
        this.onFrame(frame);
      }
    } finally {
      this.#pumping = false;
      this.afterInput();
    }
    if (this.#state === 'open') this.#trackFrame(frames > 0);
  }

  /** Arms the frame deadline when a frame was left incomplete. */
  #trackFrame(framesTaken: boolean): void {
    if (!this.decoder.inFrame) {
      this.#frameStart = -1;
      return;
    }
    // A frame that began in the chunk just read (after whole frames, or after none in progress).
    if (this.#frameStart < 0 || framesTaken) this.#frameStart = this.timers.now();
    if (this.#frameTimer === null) this.#frameTimer = this.timers.setTimeout(this.#onFrameTimer, this.#frameTimeoutMs);
  }

  readonly #onFrameTimer = (): void => {
    this.#frameTimer = null;
    if (this.#state !== 'open' || this.#frameStart < 0) return;
    const now = this.timers.now();
    if (this.#pauseMask !== 0) {
      // This side stopped reading: the frame cannot complete, and that is not the peer's fault.
      this.#frameStart = now;
    } else if (now - this.#frameStart >= this.#frameTimeoutMs - 1) {
      this.onFrameTimeout();
      return;
    }
    this.#frameTimer = this.timers.setTimeout(this.#onFrameTimer, Math.max(1, this.#frameStart + this.#frameTimeoutMs - now));
  };

  #clearFrameTimer(): void {
    this.#frameTimer?.cancel();
    this.#frameTimer = null;
    this.#frameStart = -1;
  }

  #onEnd(): void {
    this.peerEnded = true;
    if (this.#state === 'open') this.onPeerEnd();
    // While closing, the socket closes itself once our own end has been sent (both directions done).
  }

  #onClose(): void {
    if (this.#state === 'closed') return;
    const wasOpen = this.#state === 'open';
    this.#state = 'closed';
    this.peerEnded = true;
    if (wasOpen) {
      this.#clearFrameTimer();
      this.onClosing();
    }
    this.#linger?.cancel();
    this.#linger = null;
    this.onClosed(this.#transportError);
  }
}
