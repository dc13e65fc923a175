/**
 * The request multiplexer of one client connection (protocol.md §5 Requests and Cancel; style habit
 * 11: a `Map<id, Pending>`).
 *
 * - Ids are 1, 2, 3, … on the connection, strictly increasing, never reused.
 * - At most the server's `max_streams` requests are in flight; the rest wait here, in order.
 * - A cancelled request (deadline, signal) leaves the map at once but keeps its stream until the
 *   server's reply for its id arrives; that reply is then dropped (a late reply).
 */
import type { NproError } from '../core/errors.js';
import type { PendingRequest } from './pending.js';

export interface RequestTableHost {
  /** Writes a numbered request (queues it for the next record). */
  transmit(request: PendingRequest): void;
  /** Null when `request` can be sent to this server, else why not (`FRAME_TOO_LARGE`, …). */
  check(request: PendingRequest): NproError | null;
  settle(request: PendingRequest, result: Uint8Array | NproError): void;
}

export class RequestTable {
  readonly #pending = new Map<number, PendingRequest>();
  readonly #cancelled = new Set<number>();
  #queue: PendingRequest[] = [];
  #inUse = 0;
  #nextId = 1;
  /** The server's `max_streams` (WELCOME). */
  maxStreams = 1;
  /** False once the connection takes no new requests (GoAway, its end): `promote` stops. */
  open = true;

  constructor(private readonly host: RequestTableHost) {}

  /** Requests sent and unanswered, plus those waiting for a stream. */
  get size(): number {
    return this.#pending.size + this.#queue.length;
  }

  /** Sends `request` now, or queues it above `max_streams`. */
  add(request: PendingRequest): void {
    if (this.#inUse >= this.maxStreams) this.#queue.push(request);
    else this.#transmit(request);
  }

  #transmit(request: PendingRequest): void {
    const refused = this.host.check(request);
    if (refused !== null) {
      request.session = null;
      this.host.settle(request, refused);
      return;
    }
    const id = this.#nextId++;
    request.id = id;
    this.#pending.set(id, request);
    this.#inUse++;
    this.host.transmit(request);
  }

  /** Gives `request` up: true when it was sent and a `Cancel{id}` is due. */
  cancel(request: PendingRequest): boolean {
    const id = request.id;
    if (id === 0 || this.#pending.get(id) !== request) return false;
    this.#pending.delete(id);
    this.#cancelled.add(id);
    return true;
  }

  /** A `Response` or `Failure{id}`: settles its request; false for a late or unknown reply (dropped). */
  answer(id: number, result: Uint8Array | NproError): boolean {
    const request = this.#pending.get(id);
    if (request !== undefined) {
      this.#pending.delete(id);
      this.#inUse--;
      this.host.settle(request, result);
      this.#promote();
      return true;
    }
    if (this.#cancelled.delete(id)) {
      this.#inUse--;
      this.#promote();
    }
    return false;
  }

  /** A request that could not be written (e.g. not encodable): it leaves the table, failed. */
  unsendable(id: number, error: NproError): void {
    const request = this.#pending.get(id);
    if (request === undefined) return;
    this.#pending.delete(id);
    this.#inUse--;
    this.host.settle(request, error);
  }

  #promote(): void {
    while (this.open && this.#inUse < this.maxStreams && this.#queue.length > 0) {
      const next = this.#queue.shift()!;
      if (!next.settled) this.#transmit(next);
    }
  }

  /**
   * `GoAway{last_id}`: the requests above `last_id` (the server drops them) and those never sent
   * leave the table; nothing new is sent.
   */
  goAway(lastId: number): { sent: PendingRequest[]; unsent: PendingRequest[] } {
    this.open = false;
    const sent: PendingRequest[] = [];
    for (const [id, request] of this.#pending) {
      if (id <= lastId) continue;
      this.#pending.delete(id);
      this.#inUse--;
      sent.push(request);
    }
    for (const id of this.#cancelled) {
      if (id <= lastId) continue;
      this.#cancelled.delete(id);
      this.#inUse--;
    }
    return { sent, unsent: this.#takeQueue() };
  }

  /** The connection ended: every unsettled request leaves the table. */
  takeAll(): { sent: PendingRequest[]; unsent: PendingRequest[] } {
    this.open = false;
    const sent = [...this.#pending.values()];
    this.#pending.clear();
    this.#cancelled.clear();
    return { sent, unsent: this.#takeQueue() };
  }

  #takeQueue(): PendingRequest[] {
    const unsent = this.#queue.filter((r) => !r.settled);
    this.#queue = [];
    return unsent;
  }
}
