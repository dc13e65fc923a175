/**
 * The context a handler receives (behaviour.md §1 `Dispatcher`): `{ signal, deadline, peer,
 * sessionId, log }`, plus the command and request id.
 *
 * One small object per handled message. The `AbortController` behind `signal` is made only when a
 * handler reads `signal`: most handlers never do, and an `AbortController` costs more than the rest
 * of the context. Aborting before anyone looked gives an already-aborted signal on first access.
 */
import type { NproError } from '../core/errors.js';
import type { HandlerContext, HandlerLog, PeerInfo } from '../protocol/dispatcher.js';

/** What a context reads from its session, shared by all its contexts. */
export interface SessionView {
  readonly peer: PeerInfo;
  readonly sessionId: string;
  readonly log: HandlerLog;
  /** The drain deadline (Unix ms) once the daemon is shutting down or the session going away. */
  readonly drainDeadline: number | undefined;
}

export class RequestContext implements HandlerContext {
  #controller: AbortController | null = null;
  #reason: NproError | null = null;

  constructor(
    private readonly session: SessionView,
    readonly command: string,
    readonly requestId: number | undefined,
  ) {}

  /** Aborted on `Cancel`, when the connection ends, and at the shutdown deadline (its reason says which). */
  get signal(): AbortSignal {
    if (this.#controller === null) {
      this.#controller = new AbortController();
      if (this.#reason !== null) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  get deadline(): number | undefined {
    return this.session.drainDeadline;
  }

  get peer(): PeerInfo {
    return this.session.peer;
  }

  get sessionId(): string {
    return this.session.sessionId;
  }

  get log(): HandlerLog {
    return this.session.log;
  }

  get aborted(): boolean {
    return this.#reason !== null;
  }

  /** Aborts the handler's signal once; later calls do nothing. */
  abort(reason: NproError): void {
    if (this.#reason !== null) return;
    this.#reason = reason;
    this.#controller?.abort(reason);
  }
}
