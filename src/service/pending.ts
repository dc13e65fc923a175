/**
 * One request of a client, from `request()` until it settles (a response, a failure, its deadline,
 * its signal, or the end of its connection). It may travel on more than one connection: a request
 * marked idempotent is sent again once the client has reconnected.
 *
 * It is also the `Request` message itself (protocol.md §2: `type`, `id`, `command`, `payload`), so
 * that sending one costs no extra object; a connection that gives a request back removes it from
 * its write queue first, since its `id` changes on the next connection.
 */
import type { NproError } from '../core/errors.js';
import type { ClientSession } from './client-session.js';
import type { Deadlined } from './deadlines.js';

export class PendingRequest implements Deadlined {
  readonly type = 'Request' as const;
  /** The connection it was handed to (sent, or queued there above `max_streams`). */
  session: ClientSession | null = null;
  /** Its id on that connection (0: not sent yet). */
  id = 0;
  settled = false;
  /** The listener on `signal`, removed when the request settles. */
  onAbort: (() => void) | null = null;

  constructor(
    readonly command: string,
    readonly payload: Uint8Array,
    /** On the client's `Timers` clock (ms); `Infinity` for none. */
    readonly deadline: number,
    readonly idempotent: boolean,
    readonly resolve: (payload: Uint8Array) => void,
    readonly reject: (error: NproError) => void,
    readonly signal: AbortSignal | undefined,
  ) {}
}
