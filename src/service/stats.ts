/**
 * Counters of a daemon (style habit 15: counters in `stats()`), kept as plain numeric fields that the
 * session drivers increment on their hot paths, and a latency histogram read as percentiles.
 */

/**
 * Request latency, in buckets of about 6 % width over 1 µs … ~70 minutes: values below 16 µs get
 * one bucket each, above that each power of two is cut into 16 sub-buckets. Recording is a few
 * integer operations and one array increment, with no allocation.
 */
export class LatencyHistogram {
  readonly #counts = new Float64Array(16 + 32 * 16);
  #total = 0;

  /** Records one latency, in milliseconds. */
  record(ms: number): void {
    const us = ms <= 0 ? 0 : Math.min(0x7fff_ffff, Math.round(ms * 1000));
    this.#counts[bucketOf(us)]! += 1;
    this.#total++;
  }

  get count(): number {
    return this.#total;
  }

  /** The latency (ms, bucket upper bound) under which `p` (0…1) of the recorded values fall; 0 when empty. */
  percentile(p: number): number {
    if (this.#total === 0) return 0;
    const rank = Math.max(1, Math.ceil(p * this.#total));
    let seen = 0;
    for (let i = 0; i < this.#counts.length; i++) {
      seen += this.#counts[i]!;
      if (seen >= rank) return upperBound(i) / 1000;
    }
    return upperBound(this.#counts.length - 1) / 1000;
  }
}

function bucketOf(us: number): number {
  if (us < 16) return us;
  const e = 31 - Math.clz32(us);
  return (e - 3) * 16 + ((us >>> (e - 4)) & 15);
}

function upperBound(index: number): number {
  if (index < 16) return index;
  const e = Math.floor(index / 16) + 3;
  const sub = index % 16;
  return ((16 + sub + 1) << (e - 4)) - 1;
}

/** What `Daemon.stats()` returns: a snapshot, safe to keep. */
export interface DaemonStats {
  connections: {
    /** Sessions open now (handshaking, established or closing). */
    current: number;
    /** Connections accepted since start (those refused with `SERVER_BUSY` included). */
    total: number;
    /** Connections refused at `max_connections` with REJECT `SERVER_BUSY`. */
    refused: number;
  };
  handshakes: { ok: number; failed: number };
  /** `Request` messages received (each counted once, whatever its answer). */
  requests: number;
  /** Messages received after the handshake, of any kind. */
  messages: number;
  bytes: {
    in: number;
    out: number;
    /**
     * Bytes handed to sockets and not yet taken by the kernel, summed over the open connections:
     * what slow readers make the daemon hold (behaviour.md §4).
     */
    queued: number;
  };
  /** Errors raised or sent, by code (`Failure` codes sent, and codes that ended sessions). */
  errors: Record<string, number>;
  /** Server-side request latency (receipt → reply queued), in ms. */
  latency: { count: number; p50: number; p90: number; p99: number };
}

/** The live counters behind {@link DaemonStats}; sessions increment the fields directly. */
export class StatsCollector {
  connectionsCurrent = 0;
  connectionsTotal = 0;
  connectionsRefused = 0;
  handshakesOk = 0;
  handshakesFailed = 0;
  requests = 0;
  messages = 0;
  bytesIn = 0;
  bytesOut = 0;
  readonly latency = new LatencyHistogram();
  readonly #errors = new Map<string, number>();

  /** Counts one occurrence of an error code. */
  error(code: string): void {
    this.#errors.set(code, (this.#errors.get(code) ?? 0) + 1);
  }

  snapshot(queuedBytes: number): DaemonStats {
    const latency = this.latency;
    return {
      connections: { current: this.connectionsCurrent, total: this.connectionsTotal, refused: this.connectionsRefused },
      handshakes: { ok: this.handshakesOk, failed: this.handshakesFailed },
      requests: this.requests,
      messages: this.messages,
      bytes: { in: this.bytesIn, out: this.bytesOut, queued: queuedBytes },
      errors: Object.fromEntries(this.#errors),
      latency: { count: latency.count, p50: latency.percentile(0.5), p90: latency.percentile(0.9), p99: latency.percentile(0.99) },
    };
  }
}

/** What `Client.stats()` returns. */
export interface ClientStats {
  /** Requests issued through `request()`. */
  requests: number;
  /** Requests retried on a new connection (marked idempotent). */
  retries: number;
  /** Replies that arrived for a request already settled (cancelled or past its deadline), dropped. */
  lateReplies: number;
  /** Pushed messages dropped because nobody iterates over the client and its buffer was full. */
  droppedMessages: number;
  reconnects: number;
  bytes: { in: number; out: number };
}
