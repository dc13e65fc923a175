/**
 * Runs the `npro` command in-process with captured output, an explicit environment, a temporary
 * working directory and a signal source the test drives.
 */
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { main } from '../../src/service/cli/main.js';
import type { CliIo } from '../../src/service/cli/io.js';

/** A stream that keeps what is written to it. */
export class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _encoding: BufferEncoding, callback: () => void): void {
    this.text += chunk.toString();
    callback();
  }
}

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export interface Harness {
  dir: string;
  signals: EventEmitter;
  io(): CliIo & { stdout: Capture; stderr: Capture };
  run(argv: string[], env?: Record<string, string>): Promise<CliRun>;
  cleanup(): void;
}

/** A fresh temporary working directory and an empty environment (no NETWORK_PROTOCOL_* leaks in). */
export function harness(prefix = 'npro-cli-'): Harness {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const signals = new EventEmitter();
  const io = (env: Record<string, string> = {}) => ({ stdout: new Capture(), stderr: new Capture(), env, cwd: dir, signals });
  return {
    dir,
    signals,
    io: () => io(),
    async run(argv, env = {}) {
      const streams = io(env);
      const code = await main(argv, streams);
      return { code, stdout: streams.stdout.text, stderr: streams.stderr.text };
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Resolves once `capture` holds text matching `pattern` (polled; fails after `timeoutMs`). */
export async function waitForText(capture: Capture, pattern: RegExp, timeoutMs = 10_000): Promise<RegExpMatchArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = capture.text.match(pattern);
    if (m !== null) return m;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}; output so far:\n${capture.text}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
