/**
 * `npm run perf`: the short report that users of the crate's perf tests expect. Round trip: the
 * average over N successful sequential exchanges (each with its own timeout). Throughput: messages
 * per second with successes and attempts. The server runs in a child process, the client here.
 *
 *   npm run perf -- [--system NAME] [--exchanges N] [--messages N] [--window N] [--size BYTES] [--timeout-ms MS]
 *
 * The target defaults to `npro-tcp` once npro's systems are registered, else the raw TCP echo.
 * Exit code 1 when any exchange or message failed (the figures are still printed).
 */
import { cpus } from 'node:os';
import { formatValue } from './lib.js';
import { ServerProcess, makeContext } from './net/harness.js';
import { checkEcho } from './net/scenarios.js';
import { withTimeout } from './net/reply-queue.js';
import { loadSystems } from './net/systems.js';
import type { ClientConn, System, SystemContext } from './net/system.js';

interface PerfOptions {
  system: string | undefined;
  exchanges: number;
  messages: number;
  window: number;
  size: number;
  timeoutMs: number;
}

/** The round-trip phase stops after this, whatever is left (each exchange also has its own timeout). */
const ROUND_TRIP_LIMIT_MS = 60_000;
/** The whole throughput phase stops after this, whatever is left. */
const THROUGHPUT_LIMIT_MS = 30_000;
const USAGE = 'usage: npm run perf -- [--system NAME] [--exchanges N] [--messages N] [--window N] [--size BYTES] [--timeout-ms MS]';

function parseArgs(argv: readonly string[]): PerfOptions {
  const opts: PerfOptions = { system: undefined, exchanges: 1000, messages: 100_000, window: 256, size: 64, timeoutMs: 500 };
  for (let i = 0; i < argv.length; i += 2) {
    const flag = argv[i]!;
    const value = argv[i + 1];
    if (value === undefined) throw new Error(`${flag} needs a value\n${USAGE}`);
    if (flag === '--system') {
      opts.system = value;
      continue;
    }
    const n = Number(value);
    if (!Number.isInteger(n) || n <= 0) throw new Error(`${flag} needs a positive integer, got "${value}"\n${USAGE}`);
    if (flag === '--exchanges') opts.exchanges = n;
    else if (flag === '--messages') opts.messages = n;
    else if (flag === '--window') opts.window = n;
    else if (flag === '--size') opts.size = n;
    else if (flag === '--timeout-ms') opts.timeoutMs = n;
    else throw new Error(`unknown option ${flag}\n${USAGE}`);
  }
  return opts;
}

async function pickSystem(name: string | undefined): Promise<{ system: System; note?: string }> {
  const { systems } = await loadSystems();
  const wanted = name ?? (systems.some((s) => s.name === 'npro-tcp') ? 'npro-tcp' : 'tcp');
  const system = systems.find((s) => s.name === wanted);
  if (system === undefined) throw new Error(`unknown system "${wanted}"; known: ${systems.map((s) => s.name).join(', ')}`);
  const note = name === undefined && wanted === 'tcp' ? "npro's client is not registered yet (bench/net/npro-system.ts): measuring the raw TCP echo" : undefined;
  return note === undefined ? { system } : { system, note };
}

/** Sequential exchanges; a failed one (error or timeout) is counted and the connection reopened. */
async function roundTrips(system: System, url: string, ctx: SystemContext, opts: PerfOptions): Promise<{ ok: number[]; failures: number; lastError: string }> {
  const payload = Buffer.alloc(opts.size, 0x70);
  const ok: number[] = [];
  let failures = 0;
  let lastError = '';
  let conn: ClientConn | null = null;
  const deadline = performance.now() + ROUND_TRIP_LIMIT_MS;
  for (let i = 0; i < opts.exchanges && performance.now() < deadline; i++) {
    try {
      conn ??= await withTimeout(system.connect(url, ctx), 10_000, 'connect timed out');
      const start = performance.now();
      checkEcho(await withTimeout(conn.request(payload), opts.timeoutMs, `no reply within ${opts.timeoutMs} ms`), payload);
      ok.push((performance.now() - start) * 1000);
    } catch (e) {
      failures++;
      lastError = e instanceof Error ? e.message : String(e);
      await conn?.close().catch(() => undefined);
      conn = null;
    }
  }
  await conn?.close();
  return { ok, failures, lastError };
}

/** `messages` requests with `window` in flight on one connection, bounded by count and time. */
async function throughput(system: System, url: string, ctx: SystemContext, opts: PerfOptions): Promise<{ attempts: number; successes: number; seconds: number; lastError: string }> {
  const payload = Buffer.alloc(opts.size, 0x71);
  const conn = await withTimeout(system.connect(url, ctx), 10_000, 'connect timed out');
  let attempts = 0;
  let successes = 0;
  let lastError = '';
  const start = performance.now();
  const deadline = start + THROUGHPUT_LIMIT_MS;
  const worker = async (): Promise<void> => {
    while (attempts < opts.messages && performance.now() < deadline) {
      attempts++;
      try {
        const reply = await withTimeout(conn.request(payload), opts.timeoutMs, `no reply within ${opts.timeoutMs} ms`);
        if (reply.length === payload.length) successes++;
        else lastError = `reply of ${reply.length} bytes to ${payload.length}`;
      } catch (e) {
        lastError = e instanceof Error ? e.message : String(e);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.window, opts.messages) }, worker));
  const seconds = (performance.now() - start) / 1000;
  await conn.close();
  return { attempts, successes, seconds, lastError };
}

async function main(): Promise<number> {
  const opts = parseArgs(process.argv.slice(2));
  const { system, note } = await pickSystem(opts.system);
  const { ctx, dispose } = await makeContext();
  const server = await ServerProcess.start(system.name, ctx);
  const out = (line: string): void => void process.stdout.write(`${line}\n`);
  try {
    out(`npro perf: ${system.name} (${system.label}) at ${server.url}`);
    if (note !== undefined) out(`note: ${note}`);
    out(`${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'unknown'}; payload ${opts.size} B, per-message timeout ${opts.timeoutMs} ms`);
    process.stderr.write(`perf: ${opts.exchanges} sequential exchanges…\n`);
    const rt = await roundTrips(system, server.url, ctx, opts);
    const sorted = [...rt.ok].sort((a, b) => a - b);
    const avg = sorted.reduce((s, v) => s + v, 0) / Math.max(1, sorted.length);
    const pct = (p: number): string => formatValue(sorted[Math.floor((sorted.length - 1) * p)] ?? Number.NaN);
    if (sorted.length === 0) out(`round trip: no successful exchange out of ${opts.exchanges} (last error: ${rt.lastError})`);
    else out(`round trip: average ${formatValue(avg)} µs over ${formatValue(sorted.length)} successful exchanges of ${formatValue(opts.exchanges)} (min ${pct(0)}, p50 ${pct(0.5)}, p99 ${pct(0.99)}, max ${pct(1)} µs)`);
    if (rt.failures > 0) out(`  ${rt.failures} exchanges failed; last error: ${rt.lastError}`);
    const unsent = opts.exchanges - rt.ok.length - rt.failures;
    if (unsent > 0) out(`  stopped after ${ROUND_TRIP_LIMIT_MS / 1000} s with ${unsent} exchanges not attempted`);
    process.stderr.write(`perf: ${opts.messages} messages, ${opts.window} in flight…\n`);
    const tp = await throughput(system, server.url, ctx, opts);
    out(`throughput: ${formatValue(tp.successes / tp.seconds)} messages/s (${formatValue(tp.successes)} successes of ${formatValue(tp.attempts)} attempts in ${tp.seconds.toFixed(2)} s, ${opts.window} in flight)`);
    if (tp.successes < tp.attempts) out(`  ${tp.attempts - tp.successes} messages failed; last error: ${tp.lastError}`);
    if (tp.attempts < opts.messages) out(`  stopped after ${THROUGHPUT_LIMIT_MS / 1000} s with ${opts.messages - tp.attempts} messages not sent`);
    return rt.ok.length === opts.exchanges && tp.successes === tp.attempts && tp.attempts === opts.messages ? 0 : 1;
  } finally {
    await server.stop();
    dispose();
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  },
);
