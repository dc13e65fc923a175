/**
 * Helpers of the worker tests: the compiled program rebuilt only when a source file is newer than
 * its output (as tests/service/cli-process.test.ts does), `npro daemon` run as a real process with
 * JSON log lines read back, and checks on process ids. Only processes a test started are signalled,
 * by pid.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { bin } from '../helpers/build.js';

export { root, bin, ensureBuilt } from '../helpers/build.js';

/** The environment of the test process without NETWORK_PROTOCOL_* variables, plus `extra`. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { NO_COLOR: '1' };
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('NETWORK_PROTOCOL_')) env[k] = v;
  return { ...env, ...extra };
}

/** JSON log lines at debug level, so that every session's opening names its process. */
export const JSON_DEBUG_LOGS = { NETWORK_PROTOCOL_LOGGING_JSON_FORMAT: 'true', NETWORK_PROTOCOL_LOGGING_LOG_LEVEL: 'debug' };

export type LogLine = Record<string, unknown> & { msg?: string; pid?: number };

/** `node bin/npro.js daemon …` with its output collected line by line. */
export class DaemonProcess {
  readonly child: ChildProcessWithoutNullStreams;
  readonly exit: Promise<number | null>;
  readonly lines: string[] = [];
  stderr = '';
  #partial = '';

  constructor(args: string[], cwd: string, env: Record<string, string> = {}) {
    this.child = spawn(process.execPath, [bin, 'daemon', ...args], { cwd, env: cleanEnv(env) });
    this.exit = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
    this.child.stdout.on('data', (chunk: Buffer) => {
      const text = this.#partial + chunk.toString();
      const parts = text.split('\n');
      this.#partial = parts.pop()!;
      this.lines.push(...parts);
    });
    this.child.stderr.on('data', (chunk: Buffer) => void (this.stderr += chunk.toString()));
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** The JSON log lines so far. */
  logs(): LogLine[] {
    return this.lines.flatMap((line) => {
      if (!line.startsWith('{')) return [];
      try {
        return [JSON.parse(line) as LogLine];
      } catch {
        return [];
      }
    });
  }

  /** Resolves with the first value `find` returns that is not undefined, polling the output. */
  async waitFor<T>(find: () => T | undefined, what: string, timeoutMs = 15_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = find();
      if (found !== undefined) return found;
      if (Date.now() > deadline || this.child.exitCode !== null) {
        throw new Error(`${what}: not seen (exit ${this.child.exitCode})\n${this.lines.join('\n')}\n${this.stderr}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Waits for the printed public key; returns it and the printed endpoints. */
  async started(): Promise<{ publicKey: string; addresses: string[] }> {
    const publicKey = await this.waitFor(() => this.lines.map((l) => /^public key: ([A-Za-z0-9_-]{43})$/.exec(l)?.[1]).find(Boolean), 'public key');
    const addresses = this.lines.flatMap((l) => /^npro daemon listening on (\S+)$/.exec(l)?.[1] ?? []);
    return { publicKey, addresses };
  }

  /** Worker number → pid, from the primary's "worker N listening (pid P)" lines (the latest per worker). */
  workerPids(): Map<number, number> {
    const pids = new Map<number, number>();
    for (const line of this.logs()) {
      if (typeof line.workerPid === 'number' && /^worker \d+ listening/.test(line.msg ?? '')) pids.set(line.worker as number, line.workerPid);
    }
    return pids;
  }

  /** The pid of the worker that logged the opening of session `sessionId`. */
  sessionPid(sessionId: string): number | undefined {
    return this.logs().find((l) => l.msg === 'session open' && l.sessionId === sessionId)?.pid;
  }

  /** SIGKILL by pid if it is still running. */
  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

/** True while a process with this pid exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Waits until `condition` holds (polled every 20 ms). */
export async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
