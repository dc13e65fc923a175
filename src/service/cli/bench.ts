/**
 * `npro bench [args…]` (behaviour.md §2): runs the benchmark runner `dist/bench/run.js` of the
 * repository in a child process with the remaining arguments, and exits with its exit code. The
 * benchmarks live in a clone of the repository (the published package holds `dist/src` only).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import { NproError } from '../../core/errors.js';
import { showHelp } from './help.js';
import { packageRoot, type CliIo } from './io.js';

export async function benchCommand(args: readonly string[], io: CliIo): Promise<number> {
  if (args.length === 1 && (args[0] === '--help' || args[0] === '-h')) return showHelp(io, 'bench');
  const root = packageRoot();
  const runner = join(root, 'dist', 'bench', 'run.js');
  if (!existsSync(runner)) {
    throw new NproError('INVALID_STATE', `${runner} not found: the benchmarks run from a clone of the repository after "npm run build"`);
  }
  const child = spawn(process.execPath, [runner, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.pipe(io.stdout, { end: false });
  child.stderr.pipe(io.stderr, { end: false });
  return new Promise<number>((resolve, reject) => {
    child.once('error', (cause) => reject(new NproError('INVALID_STATE', `cannot run ${runner}`, { cause })));
    child.once('close', (code, signal) => resolve(code ?? 128 + (signal === null ? 0 : constants.signals[signal])));
  });
}
