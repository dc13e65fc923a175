/**
 * What a run of the `npro` command (behaviour.md §2) touches outside itself, gathered in one object
 * so that a test can run every command in-process: the output streams, the environment, the working
 * directory, and where SIGINT/SIGTERM come from. `bin/npro.js` passes the real process's.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NproError } from '../../core/errors.js';

/** The signals the daemon command stops on. */
export const STOP_SIGNALS = ['SIGINT', 'SIGTERM'] as const;
export type StopSignal = (typeof STOP_SIGNALS)[number];

/** Where stop signals come from: `process`, or any emitter a test drives. */
export interface SignalSource {
  on(event: StopSignal, listener: () => void): unknown;
  off(event: StopSignal, listener: () => void): unknown;
}

export interface CliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** Read for `NETWORK_PROTOCOL_*` configuration variables. */
  env: Readonly<Record<string, string | undefined>>;
  /** Relative paths (the config file, key files, known_hosts, `--out`) are resolved against it. */
  cwd: string;
  signals: SignalSource;
}

/** The real process's streams, environment, working directory and signals. */
export function processIo(): CliIo {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd(), signals: process };
}

/** Exit codes of behaviour.md §2. */
export const EXIT = { OK: 0, RUNTIME: 1, USAGE: 2 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** Bad usage: an unknown command or option, a missing or malformed argument (exit 2). */
export class UsageError extends Error {
  constructor(
    message: string,
    /** The command whose usage is shown with the message, or `undefined` for the general usage. */
    readonly command?: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Writes `text` and a newline. */
export function println(stream: NodeJS.WritableStream, text = ''): void {
  stream.write(`${text}\n`);
}

/** `path` made absolute against the run's working directory. */
export function resolvePath(io: CliIo, path: string): string {
  return isAbsolute(path) ? path : resolve(io.cwd, path);
}

/**
 * The exit code for an error of a command: `CONFIG_INVALID` is a configuration problem (2); any
 * other failure is a runtime error (1).
 */
export function exitCodeOf(err: unknown): ExitCode {
  if (err instanceof UsageError || NproError.is(err, 'CONFIG_INVALID')) return EXIT.USAGE;
  return EXIT.RUNTIME;
}

/** Reports an error as `error CODE: message` on stderr and returns its exit code. */
export function reportError(io: CliIo, err: unknown): ExitCode {
  if (NproError.is(err)) {
    println(io.stderr, `error ${err.code}: ${err.message}`);
  } else {
    const message = (err as { message?: unknown } | null)?.message;
    println(io.stderr, `error: ${typeof message === 'string' ? message : String(err)}`);
  }
  return exitCodeOf(err);
}

let root: string | undefined;

/** The package's root directory: the nearest directory above this module holding package.json. */
export function packageRoot(): string {
  if (root !== undefined) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new NproError('INVALID_STATE', 'the npro package root (package.json) was not found');
    dir = up;
  }
  root = dir;
  return dir;
}

/** The package's version, from its package.json. */
export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version?: unknown };
  return typeof pkg.version === 'string' ? pkg.version : 'unknown';
}
