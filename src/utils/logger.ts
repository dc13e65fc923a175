/**
 * Structured logging as `[logging]` configures it (behaviour.md §3; style habit 15), on pino.
 *
 * Every line carries `level` (a name), `time` (ISO 8601), `app` (`logging.app_name`), `msg`, and
 * `component` on a child logger made with `child({ component })`. `json_format` chooses JSON lines
 * or human-readable lines (pino-pretty, formatted in-process and written synchronously; colours
 * only on a terminal). Outputs: standard output (`log_to_console`) and/or the file
 * `log_file_path` (`log_to_file`, appended with synchronous writes). Fields that may hold secrets
 * ({@link REDACTED_FIELDS}, at the top level or one level down) are written as `"[redacted]"`.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { pino, type Logger as PinoLogger } from 'pino';
import { prettyFactory } from 'pino-pretty';
import { NproError } from '../core/errors.js';
import type { LogLevel, NetworkConfig } from './config/index.js';

export type { LogLevel };

/** A log call: a message, or structured fields and an optional message. */
export interface LogFn {
  (msg: string): void;
  (fields: object, msg?: string): void;
}

export interface Logger {
  /** The lowest level written (`silent` for {@link silentLogger}). */
  readonly level: LogLevel | 'silent';
  trace: LogFn;
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  /** True when a call at `level` is written (to skip building costly fields). */
  isLevelEnabled(level: LogLevel): boolean;
  /** A logger adding `bindings` (e.g. `{ component: 'daemon' }`) to every line; same outputs. */
  child(bindings: Record<string, unknown>): Logger;
  /** Writes anything buffered (lines are written synchronously, so usually nothing). */
  flush(): void;
  /** Closes the log file. On a child this only flushes: the outputs belong to the root logger. */
  close(): Promise<void>;
}

export interface LoggerOptions {
  /** Where console lines go instead of standard output (e.g. a stream a test reads). */
  destination?: NodeJS.WritableStream;
}

/** Field names whose values never reach a log line. */
export const REDACTED_FIELDS = [
  'secret',
  'secretKey',
  'secret_key',
  'privateKey',
  'private_key',
  'key_material',
  'keyMaterial',
  'password',
  'passphrase',
  'sessionKey',
  'session_key',
  'sharedSecret',
  'shared_secret',
] as const;

const REDACT_PATHS = REDACTED_FIELDS.flatMap((f) => [f, `*.${f}`]);

/** The pino-pretty layout: `[time] LEVEL: [app] component: msg`, other fields below. */
function prettyFormatter(colorize: boolean): (line: string) => string {
  return prettyFactory({
    colorize,
    translateTime: 'SYS:standard',
    ignore: 'pid,hostname,app,component',
    messageFormat: '[{app}]{if component} {component}:{end} {msg}',
  }) as (line: string) => string;
}

interface Output {
  write(line: string): void;
  close(): void;
}

function consoleOutput(stream: NodeJS.WritableStream, json: boolean): Output {
  const tty = (stream as { isTTY?: boolean }).isTTY === true && process.env['NO_COLOR'] === undefined;
  const format = json ? undefined : prettyFormatter(tty);
  return {
    write: (line) => void stream.write(format === undefined ? line : format(line)),
    close: () => undefined,
  };
}

function fileOutput(path: string, json: boolean): Output {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'a', 0o640);
  } catch (err) {
    throw new NproError('CONFIG_INVALID', `cannot open log file ${path}: ${(err as Error).message}`, { cause: err });
  }
  const format = json ? undefined : prettyFormatter(false);
  return {
    write: (line) => {
      if (fd !== undefined) writeSync(fd, format === undefined ? line : format(line));
    },
    close: () => {
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
    },
  };
}

class Outputs {
  private closed = false;
  constructor(private readonly list: Output[]) {}

  /** pino's destination: every line goes to every output until closed. */
  write(line: string): void {
    if (this.closed) return;
    for (const out of this.list) out.write(line);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const out of this.list) out.close();
  }
}

class NproLogger implements Logger {
  readonly trace: LogFn;
  readonly debug: LogFn;
  readonly info: LogFn;
  readonly warn: LogFn;
  readonly error: LogFn;

  constructor(
    private readonly p: PinoLogger,
    private readonly outputs: Outputs,
    private readonly root: boolean,
  ) {
    this.trace = this.bind('trace');
    this.debug = this.bind('debug');
    this.info = this.bind('info');
    this.warn = this.bind('warn');
    this.error = this.bind('error');
  }

  private bind(level: LogLevel): LogFn {
    const p = this.p;
    return ((fieldsOrMsg: object | string, msg?: string) => {
      if (typeof fieldsOrMsg === 'string') p[level](fieldsOrMsg);
      else if (msg === undefined) p[level](fieldsOrMsg);
      else p[level](fieldsOrMsg, msg);
    }) as LogFn;
  }

  get level(): LogLevel | 'silent' {
    return this.p.level as LogLevel | 'silent';
  }

  isLevelEnabled(level: LogLevel): boolean {
    return this.p.isLevelEnabled(level);
  }

  child(bindings: Record<string, unknown>): Logger {
    return new NproLogger(this.p.child(bindings), this.outputs, false);
  }

  flush(): void {
    this.p.flush();
  }

  async close(): Promise<void> {
    this.flush();
    if (this.root) this.outputs.close();
  }
}

function pinoFor(level: LogLevel | 'silent', app: string, destination: { write(line: string): void }): PinoLogger {
  return pino(
    {
      level,
      base: { app, pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    },
    destination,
  );
}

/**
 * A logger writing as `logging` says. A file output needs `log_file_path` (validation ensures it
 * when `log_to_file` is on); a file that cannot be opened → `CONFIG_INVALID`.
 */
export function createLogger(logging: NetworkConfig['logging'], options: LoggerOptions = {}): Logger {
  if (logging.log_to_file && logging.log_file_path === undefined) {
    throw new NproError('CONFIG_INVALID', 'logging.log_file_path must be specified when log_to_file is true');
  }
  const list: Output[] = [];
  if (logging.log_to_console) list.push(consoleOutput(options.destination ?? process.stdout, logging.json_format));
  if (logging.log_to_file) list.push(fileOutput(logging.log_file_path!, logging.json_format));
  const outputs = new Outputs(list);
  const level = logging.log_level.toLowerCase() as LogLevel;
  return new NproLogger(pinoFor(level, logging.app_name, outputs), outputs, true);
}

/** A logger that writes nothing (for library code given no logger, and for tests). */
export function silentLogger(): Logger {
  const outputs = new Outputs([]);
  return new NproLogger(pinoFor('silent', 'npro', outputs), outputs, true);
}
