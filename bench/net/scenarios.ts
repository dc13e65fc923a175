/**
 * The load of each scenario, run inside the client child process against one system. Every loop
 * stops at its operation cap or at its deadline, whichever comes first.
 */
import { readMemory, type Task, type TaskBounds, type TaskResult } from './ipc.js';
import type { ClientConn, System, SystemContext } from './system.js';

/** Pauses the client until the parent has taken its readings (idle-connection scenario). */
export type Hold = (stage: string, info: Record<string, number>) => Promise<void>;

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Throws unless `reply` is byte-identical to `payload`. */
export function checkEcho(reply: Uint8Array, payload: Uint8Array): void {
  if (reply.length !== payload.length || !Buffer.from(reply.buffer, reply.byteOffset, reply.length).equals(payload)) {
    throw new Error(`echo mismatch: sent ${payload.length} bytes, got ${reply.length}`);
  }
}

/** One warm-up, then `runs` timed runs of `body`; each run's operations per second. */
async function measureRuns(t: TaskBounds, body: (deadline: number, maxOps: number) => Promise<number>): Promise<number[]> {
  if (t.warmMs > 0) await body(performance.now() + t.warmMs, t.maxOps);
  const rates: number[] = [];
  for (let r = 0; r < t.runs; r++) {
    const start = performance.now();
    const ops = await body(start + t.runMs, t.maxOps);
    rates.push(ops / ((performance.now() - start) / 1000));
  }
  return rates;
}

async function openChecked(system: System, url: string, ctx: SystemContext, payload: Uint8Array): Promise<ClientConn> {
  const conn = await system.connect(url, ctx);
  checkEcho(await conn.request(payload), payload);
  return conn;
}

/** Round-trip time with exactly one request outstanding: p50 and p99 of each run, in µs. */
async function rtt(system: System, url: string, ctx: SystemContext, t: Extract<Task, { scenario: 'rtt' }>): Promise<TaskResult> {
  const payload = Buffer.alloc(t.size, 0x62);
  const conn = await openChecked(system, url, ctx, payload);
  const samples = new Float64Array(t.maxOps);
  /** Sequential requests until `deadline` or `maxOps`; returns how many latencies were recorded. */
  const pass = async (deadline: number): Promise<number> => {
    let n = 0;
    while (n < t.maxOps && performance.now() < deadline) {
      const start = performance.now();
      await conn.request(payload);
      samples[n++] = (performance.now() - start) * 1000;
    }
    return n;
  };
  if (t.warmMs > 0) await pass(performance.now() + t.warmMs);
  const p50: number[] = [];
  const p99: number[] = [];
  for (let r = 0; r < t.runs; r++) {
    const n = await pass(performance.now() + t.runMs);
    const sorted = samples.subarray(0, n).sort();
    p50.push(sorted[Math.floor((n - 1) * 0.5)]!);
    p99.push(sorted[Math.floor((n - 1) * 0.99)]!);
  }
  await conn.close();
  return { metrics: { [`${t.id}-p50`]: p50, [`${t.id}-p99`]: p99 }, notes: [] };
}

/** Requests per second with `window` requests outstanding on each of `conns` connections. */
async function inflight(system: System, url: string, ctx: SystemContext, t: Extract<Task, { scenario: 'inflight' }>): Promise<TaskResult> {
  const payload = Buffer.alloc(t.size, 0x62);
  const conns = await Promise.all(range(t.conns).map(() => openChecked(system, url, ctx, payload)));
  const rates = await measureRuns(t, async (deadline, maxOps) => {
    let remaining = maxOps;
    let done = 0;
    const worker = async (conn: ClientConn): Promise<void> => {
      while (remaining > 0 && performance.now() < deadline) {
        remaining--;
        const reply = await conn.request(payload);
        if (reply.length !== payload.length) throw new Error(`echo of ${payload.length} bytes came back as ${reply.length}`);
        done++;
      }
    };
    await Promise.all(conns.flatMap((conn) => range(t.window).map(() => worker(conn))));
    return done;
  });
  await Promise.all(conns.map((c) => c.close()));
  return { metrics: { [t.id]: rates }, notes: [] };
}

/** Messages per second streamed through `pipeline()` on one connection. */
async function pipelined(system: System, url: string, ctx: SystemContext, t: Extract<Task, { scenario: 'pipelined' }>): Promise<TaskResult> {
  const conn = await openChecked(system, url, ctx, Buffer.alloc(t.size, 0x62));
  const rates = await measureRuns(t, (deadline, maxOps) => conn.pipeline({ count: maxOps, size: t.size, window: t.window, deadline }));
  await conn.close();
  return { metrics: { [t.id]: rates }, notes: [] };
}

/** New connection (+ handshake) + one request + close, per second, by `workers` concurrent loops. */
async function connect(system: System, url: string, ctx: SystemContext, t: Extract<Task, { scenario: 'connect' }>): Promise<TaskResult> {
  const payload = Buffer.alloc(t.size, 0x62);
  const rates = await measureRuns(t, async (deadline, maxOps) => {
    let remaining = maxOps;
    let done = 0;
    const worker = async (): Promise<void> => {
      while (remaining > 0 && performance.now() < deadline) {
        remaining--;
        const conn = await openChecked(system, url, ctx, payload);
        await conn.close();
        done++;
      }
    };
    await Promise.all(range(t.workers).map(worker));
    return done;
  });
  return { metrics: { [t.id]: rates }, notes: [] };
}

/**
 * Memory of idle connections: after one warm-up connection, `count` connections are opened
 * (`parallel` at a time, each used for one request), then the client holds them while the parent
 * reads the server's memory. Figures: client RSS and heap per connection (KiB), connections opened,
 * time to open them (ms).
 */
async function idle(system: System, url: string, ctx: SystemContext, t: Extract<Task, { scenario: 'idle' }>, hold: Hold): Promise<TaskResult> {
  const payload = Buffer.alloc(t.size, 0x63);
  await (await openChecked(system, url, ctx, payload)).close();
  await sleep(100);
  const before = await readMemory(() => null);
  await hold('base', { rss: before.rss });
  const conns: ClientConn[] = [];
  const notes: string[] = [];
  const start = performance.now();
  const deadline = start + t.timeoutMs;
  let started = 0;
  let failures = 0;
  let lastError = '';
  const opener = async (): Promise<void> => {
    while (started < t.count && failures < 100 && performance.now() < deadline) {
      started++;
      try {
        conns.push(await openChecked(system, url, ctx, payload));
      } catch (e) {
        failures++;
        lastError = e instanceof Error ? e.message : String(e);
      }
    }
  };
  await Promise.all(range(t.parallel).map(opener));
  const connectMs = performance.now() - start;
  await sleep(200);
  const after = await readMemory(() => null);
  const n = conns.length;
  if (failures > 0) notes.push(`${failures} connection attempts failed (last: ${lastError})`);
  if (n < t.count) notes.push(`${n} of ${t.count} connections opened within ${t.timeoutMs} ms`);
  if (!after.gc) notes.push('client run without --expose-gc');
  await hold('open', { opened: n });
  for (let i = 0; i < conns.length; i += t.parallel) {
    await Promise.race([Promise.allSettled(conns.slice(i, i + t.parallel).map((c) => c.close())), sleep(5000)]);
  }
  const perConn = (bytes: number): number => (n === 0 ? Number.NaN : bytes / n / 1024);
  return {
    metrics: {
      [`${t.id}-client-rss`]: [perConn(after.rss - before.rss)],
      [`${t.id}-client-heap`]: [perConn(after.heapUsed - before.heapUsed)],
      [`${t.id}-opened`]: [n],
      [`${t.id}-connect-ms`]: [connectMs],
    },
    notes,
  };
}

/** Runs one task against `system` at `url`. */
export function runTask(system: System, url: string, ctx: SystemContext, task: Task, hold: Hold): Promise<TaskResult> {
  switch (task.scenario) {
    case 'rtt':
      return rtt(system, url, ctx, task);
    case 'inflight':
      return inflight(system, url, ctx, task);
    case 'pipelined':
      return pipelined(system, url, ctx, task);
    case 'connect':
      return connect(system, url, ctx, task);
    case 'idle':
      return idle(system, url, ctx, task, hold);
  }
}
