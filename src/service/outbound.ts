/**
 * The coalescing write queue of a session (protocol.md §4: "a sender coalesces what it has queued
 * into one record, TLS-record style, up to the peer's max_frame").
 *
 * Messages are queued as they are produced; a flush seals everything queued into as few records as
 * the peer's `max_frame` allows and hands the frames to the connection in one `writev`. A flush runs:
 * - at the end of a batch of input (`cork()` … `uncork()` around the processing of one socket chunk),
 *   so every reply to that chunk shares its records, with no added latency;
 * - otherwise once per turn, through the injected `schedule` (a microtask by default), so that the
 *   calls made in one synchronous run (e.g. 256 `request()` calls in a loop) become one record.
 *
 * Backpressure (style habit 7): when the connection's `write` returns false the queue stops flushing
 * and tells its owner (who pauses reading, so a slow reader cannot grow memory without bound); the
 * owner calls `drained()` on the connection's `drain`.
 */
import { NproError } from '../core/errors.js';
import type { Message } from '../core/message.js';
import type { Connection } from '../transport/index.js';

/** Turns messages into frames (v2 records, v1 records, or v1 plaintext frames). */
export interface FrameWriter {
  /**
   * Seals `messages` in order; returns the chunks of whole frames, for one `writev` (a large payload
   * may be a chunk of its own). On a message that cannot be sent it throws an `NproError` whose
   * `details.index` names it, sealing nothing; any other throw is fatal for the session.
   */
  seal(messages: readonly Message[], final: boolean): Uint8Array[];
}

/** What the queue asks of its session. */
export interface OutboundHost {
  /** What to send instead of a message that cannot be sent (too large, not encodable), or null to drop it. */
  replaceUnsendable(message: Message, error: NproError): Message | null;
  /** `write` returned false: stop producing (pause reading) until `drained()`. */
  writeBlocked(): void;
  /** Sealing failed for the session as a whole (e.g. `KEY_EXHAUSTED`). */
  sealFailed(error: NproError): void;
  /** Bytes handed to the connection. */
  wrote(bytes: number): void;
}

export type Scheduler = (task: () => void) => void;

/** The default: flush at the end of the current synchronous run. */
export const microtaskScheduler: Scheduler = queueMicrotask;
/** Flush after pending I/O callbacks: more coalescing, one event-loop turn of latency. */
export const immediateScheduler: Scheduler = (task) => void setImmediate(task);

export class Outbound {
  #queue: Message[] = [];
  #corked = 0;
  #scheduled = false;
  #blocked = false;
  #closed = false;
  readonly #flushTask = (): void => {
    this.#scheduled = false;
    if (this.#corked === 0) this.flush();
  };

  constructor(
    private readonly connection: Connection,
    private readonly writer: FrameWriter,
    private readonly host: OutboundHost,
    private readonly schedule: Scheduler = microtaskScheduler,
  ) {}

  /** Messages waiting to be sealed. */
  get length(): number {
    return this.#queue.length;
  }

  /** True while the connection refused more (waiting for `drain`). */
  get blocked(): boolean {
    return this.#blocked;
  }

  push(message: Message): void {
    if (this.#closed) return;
    this.#queue.push(message);
    if (this.#corked === 0 && !this.#scheduled && !this.#blocked) {
      this.#scheduled = true;
      this.schedule(this.#flushTask);
    }
  }

  /** Holds flushes until the matching `uncork()` (one batch of input). */
  cork(): void {
    this.#corked++;
  }

  uncork(): void {
    if (this.#corked > 0 && --this.#corked === 0) this.flush();
  }

  /** Seals and writes everything queued, unless the connection is blocked. */
  flush(): void {
    if (this.#blocked || this.#closed || this.#queue.length === 0) return;
    const frames = this.#sealQueue(false);
    if (frames.length === 0) return;
    let bytes = 0;
    for (let i = 0; i < frames.length; i++) bytes += frames[i]!.length;
    this.host.wrote(bytes);
    if (!this.connection.writev(frames)) {
      this.#blocked = true;
      this.host.writeBlocked();
    }
  }

  /** The connection drained: write what accumulated meanwhile. */
  drained(): void {
    if (!this.#blocked) return;
    this.#blocked = false;
    this.flush();
  }

  /**
   * The last frames of the session: everything queued (that `keep` accepts), then `last`, sealed as
   * the final records (protocol.md §4: only they may use the last counter). Should the queue not fit what is left,
   * `last` alone is sealed; should even that fail, nothing. The queue accepts nothing afterwards.
   */
  close(last: readonly Message[], keep?: (queued: Message) => boolean): Uint8Array[] {
    if (this.#closed) return [];
    if (keep !== undefined) this.#queue = this.#queue.filter(keep);
    for (const m of last) this.#queue.push(m);
    let frames: Uint8Array[];
    try {
      frames = this.#sealQueue(true);
    } catch {
      try {
        frames = this.writer.seal(last, true);
      } catch {
        frames = [];
      }
    }
    this.#closed = true;
    this.#queue = [];
    let bytes = 0;
    for (const f of frames) bytes += f.length;
    this.host.wrote(bytes);
    return frames;
  }

  /** Removes the queued messages `test` selects (not written yet). */
  drop(test: (queued: Message) => boolean): void {
    if (this.#queue.length > 0) this.#queue = this.#queue.filter((m) => !test(m));
  }

  /** Drops everything queued and accepts nothing more (the session ended without a last record). */
  discard(): void {
    this.#closed = true;
    this.#queue = [];
  }

  /**
   * Seals the queue, replacing or dropping messages that cannot be sent. Throws only from a final
   * seal; other session-wide failures go to `host.sealFailed`.
   */
  #sealQueue(final: boolean): Uint8Array[] {
    const messages = this.#queue;
    this.#queue = [];
    for (let attempts = 0; messages.length > 0; attempts++) {
      try {
        return this.writer.seal(messages, final);
      } catch (err) {
        const index = NproError.is(err) ? err.details?.['index'] : undefined;
        if (typeof index !== 'number' || attempts > messages.length) {
          if (final) throw err;
          this.host.sealFailed(NproError.is(err) ? err : new NproError('PROTOCOL_ERROR', 'sealing failed', { cause: err }));
          return [];
        }
        const replacement = this.host.replaceUnsendable(messages[index]!, err as NproError);
        if (replacement === null) messages.splice(index, 1);
        else messages[index] = replacement;
      }
    }
    return [];
  }
}
