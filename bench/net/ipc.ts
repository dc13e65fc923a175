/**
 * Control messages between the bench (parent) and its server and client child processes. Only
 * control crosses this channel: start/ready with the endpoint URL, memory readings, hold/release
 * steps of the idle-connection scenario, results and stop. Every measured byte goes over the
 * endpoint itself.
 */
import type { SystemContext } from './system.js';

/** Parent → server child. */
export type ServerCommand =
  | { type: 'start'; system: string; ctx: SystemContext }
  | { type: 'memory' }
  | { type: 'stop' };

/** Memory of a process after two forced collections (when `--expose-gc` is on). */
export interface MemoryReading {
  rss: number;
  heapUsed: number;
  /** Open connections as the server counts them; `null` when the library does not say. */
  connections: number | null;
  gc: boolean;
}

/** Server child → parent. */
export type ServerReport =
  | { type: 'ready'; url: string }
  | ({ type: 'memory' } & MemoryReading)
  | { type: 'error'; message: string };

/** Common bounds of a scenario: every load loop stops at `maxOps` or at the end of its time. */
export interface TaskBounds {
  /** Measured runs; each gives one figure and the report shows their median and spread. */
  runs: number;
  /** Load before the first measured run, in milliseconds. */
  warmMs: number;
  /** Duration of one measured run, in milliseconds. */
  runMs: number;
  /** Operations in one run, at most. */
  maxOps: number;
}

/**
 * One scenario for the client child to run. `id` names its figures in the result (`rtt` gives
 * `rtt-p50` and `rtt-p99`; the others give `id` itself, as operations per second per run).
 */
export type Task = { id: string } & (
  | ({ scenario: 'rtt'; size: number } & TaskBounds)
  | ({ scenario: 'inflight'; conns: number; window: number; size: number } & TaskBounds)
  | ({ scenario: 'pipelined'; window: number; size: number } & TaskBounds)
  | ({ scenario: 'connect'; workers: number; size: number } & TaskBounds)
  | { scenario: 'idle'; count: number; parallel: number; timeoutMs: number; size: number }
);

/** Figures of one task: metric id → one value per run. */
export interface TaskResult {
  metrics: Record<string, number[]>;
  notes: string[];
}

/** Parent → client child. */
export type ClientCommand =
  | { type: 'run'; system: string; url: string; ctx: SystemContext; tasks: Task[] }
  | { type: 'release' };

/** Client child → parent. `hold` pauses the client until the parent sends `release`. */
export type ClientReport =
  | { type: 'hold'; stage: string; info: Record<string, number> }
  | { type: 'result'; results: TaskResult[] }
  | { type: 'error'; message: string };

/** Sends a message to the parent, if there is one. */
export function toParent(message: ServerReport | ClientReport): Promise<void> {
  return new Promise((resolve) => {
    if (process.send === undefined) resolve();
    else process.send(message, undefined, {}, () => resolve());
  });
}

/**
 * Memory of this process after collection: `gc()` twice, a pause for the heap to hand pages back,
 * then `gc()` again, so that pages freed earlier are not counted against what comes after.
 */
export async function readMemory(connections: () => number | null): Promise<MemoryReading> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc !== undefined) {
    gc();
    gc();
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    gc();
  }
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, connections: connections(), gc: gc !== undefined };
}

/** Pause between collections in `readMemory`. */
const SETTLE_MS = 150;
