/**
 * Test harness for transports: a recording set of connection handlers, waiting with a bounded
 * deadline, and a resource tracker that closes everything after each test and checks that no
 * socket or timer was left behind.
 */
import { NproError } from '../../src/core/errors.js';
import type { Connection, Listener } from '../../src/transport/index.js';

import { within } from '../helpers/async.js';

export { within };

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves with the error `promise` rejects with; fails when it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<NproError> {
  try {
    await promise;
  } catch (err) {
    if (NproError.is(err)) return err;
    throw err;
  }
  throw new Error('expected a rejection');
}

/** A connection with recording handlers. */
export class Peer {
  readonly chunks: Uint8Array[] = [];
  readonly errors: NproError[] = [];
  received = 0;
  dataCalls = 0;
  drains = 0;
  endSeen = false;
  closeSeen: boolean | null = null;
  closeCalls = 0;
  /** Extra behaviour on data (e.g. echo); may throw to test the contract. */
  onData: ((chunk: Uint8Array) => void) | null = null;
  readonly ended: Promise<void>;
  readonly closed: Promise<boolean>;
  private waiters: Array<{ n: number; resolve: () => void }> = [];
  private drainWaiters: Array<() => void> = [];

  constructor(readonly conn: Connection, options: { keep?: boolean; install?: boolean } = {}) {
    let endResolve!: () => void;
    let closeResolve!: (hadError: boolean) => void;
    this.ended = new Promise((r) => (endResolve = r));
    this.closed = new Promise((r) => (closeResolve = r));
    const keep = options.keep ?? true;
    this.handlers = {
      data: (chunk) => {
        this.dataCalls++;
        this.received += chunk.length;
        if (keep) this.chunks.push(chunk);
        this.onData?.(chunk);
        this.waiters = this.waiters.filter((w) => {
          if (this.received < w.n) return true;
          w.resolve();
          return false;
        });
      },
      end: () => {
        this.endSeen = true;
        endResolve();
      },
      close: (hadError) => {
        this.closeCalls++;
        this.closeSeen = hadError;
        closeResolve(hadError);
      },
      error: (err) => {
        this.errors.push(err);
      },
      drain: () => {
        this.drains++;
        const waiters = this.drainWaiters;
        this.drainWaiters = [];
        for (const w of waiters) w();
      },
    };
    if (options.install ?? true) conn.setHandlers(this.handlers);
  }

  readonly handlers: Parameters<Connection['setHandlers']>[0];

  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }

  text(): string {
    return this.bytes().toString('utf8');
  }

  /** Resolves once at least `n` bytes arrived in total. */
  waitFor(n: number, ms = 5000): Promise<void> {
    if (this.received >= n) return Promise.resolve();
    return within(new Promise<void>((resolve) => this.waiters.push({ n, resolve })), ms, `${n} bytes (got ${this.received})`);
  }

  waitForDrain(ms = 5000): Promise<void> {
    return within(new Promise<void>((resolve) => this.drainWaiters.push(resolve)), ms, 'drain');
  }
}

/** Writes `data` in `chunkSize` pieces, honouring `write()`'s backpressure signal. */
export async function writeAll(peer: Peer, data: Uint8Array, chunkSize = 65536): Promise<void> {
  for (let offset = 0; offset < data.length; offset += chunkSize) {
    if (!peer.conn.write(data.subarray(offset, offset + chunkSize))) await peer.waitForDrain(10_000);
  }
}

/** Resolves with the next connection a listener hands out. */
export function nextConnection(listener: Listener, ms = 5000): Promise<Connection> {
  return within(new Promise<Connection>((resolve) => listener.onConnection(resolve)), ms, 'an accepted connection');
}

const TRACKED_RESOURCES = ['TCPSocketWrap', 'TCPServerWrap', 'PipeWrap', 'PipeServerWrap', 'Timeout', 'TLSWrap'];

function resourceCounts(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const name of process.getActiveResourcesInfo()) {
    if (TRACKED_RESOURCES.includes(name)) counts[name] = (counts[name] ?? 0) + 1;
  }
  return counts;
}

/** What is above `baseline` now. */
function excess(baseline: Record<string, number>): Record<string, number> {
  const now = resourceCounts();
  const out: Record<string, number> = {};
  for (const [name, n] of Object.entries(now)) if (n > (baseline[name] ?? 0)) out[name] = n - (baseline[name] ?? 0);
  return out;
}

/** Tracks listeners and connections of one test; `cleanup()` closes them and checks for leaks. */
export class Resources {
  private listeners: Listener[] = [];
  private connections: Connection[] = [];
  private baseline: Record<string, number> = {};

  start(): void {
    this.baseline = resourceCounts();
  }

  listener<T extends Listener>(l: T): T {
    this.listeners.push(l);
    return l;
  }

  connection<T extends Connection>(c: T): T {
    this.connections.push(c);
    return c;
  }

  /** Closes everything, then waits (bounded) until sockets and timers are back to the baseline. */
  async cleanup(): Promise<Record<string, number>> {
    for (const c of this.connections) c.destroy();
    await Promise.all(this.listeners.map((l) => l.close()));
    this.connections = [];
    this.listeners = [];
    for (let i = 0; i < 100; i++) {
      if (Object.keys(excess(this.baseline)).length === 0) return {};
      await new Promise((resolve) => setImmediate(resolve));
      if (i > 20) await sleep(10);
    }
    return excess(this.baseline);
  }
}
