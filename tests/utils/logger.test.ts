/**
 * Logging: each [logging] key has a visible effect (behaviour.md §3), lines are structured, and
 * fields that may hold secrets never reach an output.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { jest } from '@jest/globals';
import { NproError } from '../../src/core/errors.js';
import { NetworkConfig } from '../../src/utils/config/index.js';
import { createLogger, REDACTED_FIELDS, silentLogger, type LogLevel } from '../../src/utils/logger.js';

const dir = mkdtempSync(join(tmpdir(), 'npro-logger-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let fileCount = 0;
const newLogPath = () => join(dir, `log-${++fileCount}.log`);

type Logging = NetworkConfig['logging'];
const logging = (over: Partial<Logging> = {}): Logging => ({ ...NetworkConfig.defaults().logging, ...over });

/** A console stand-in whose text a test reads (not a TTY, so no colours). */
function sink() {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (c: Buffer) => (text += c.toString('utf8')));
  return { stream, text: () => text, lines: () => text.split('\n').filter((l) => l !== '') };
}
const jsonLines = (text: string) =>
  text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('logging.app_name', () => {
  it('is the "app" field of every line, in JSON and in human-readable form', () => {
    const s = sink();
    const log = createLogger(logging({ app_name: 'billing-api', json_format: true }), { destination: s.stream });
    log.info('one');
    log.child({ component: 'pool' }).warn({ n: 1 }, 'two');
    expect(jsonLines(s.text()).map((l) => l['app'])).toEqual(['billing-api', 'billing-api']);
    const h = sink();
    createLogger(logging({ app_name: 'billing-api' }), { destination: h.stream }).info('three');
    expect(h.text()).toContain('[billing-api] three');
  });
});

describe('logging.log_level', () => {
  const ALL: LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error'];
  it.each(ALL.map((l, i) => [l, ALL.slice(i)] as const))('%s writes %j', (level, written) => {
    const s = sink();
    const log = createLogger(logging({ log_level: level, json_format: true }), { destination: s.stream });
    for (const l of ALL) log[l](`at ${l}`);
    expect(jsonLines(s.text()).map((l) => l['level'])).toEqual(written);
    expect(log.level).toBe(level);
    expect(log.isLevelEnabled('debug')).toBe(written.includes('debug'));
  });

  it('accepts any case, as the configuration does', () => {
    const s = sink();
    const cfg = NetworkConfig.validateStrict({ logging: { log_level: 'WARN', json_format: true } });
    const log = createLogger(cfg.logging, { destination: s.stream });
    log.info('dropped');
    log.warn('kept');
    expect(jsonLines(s.text()).map((l) => l['msg'])).toEqual(['kept']);
  });
});

describe('logging.log_to_console and logging.log_to_file / log_file_path', () => {
  it('console on, file off: lines reach the console only and no file is created', () => {
    const s = sink();
    const path = newLogPath();
    const log = createLogger(logging({ log_file_path: path }), { destination: s.stream });
    log.info('hello console');
    expect(s.text()).toContain('hello console');
    expect(existsSync(path)).toBe(false);
  });

  it('console off, file on: lines reach the file only, readable at once', async () => {
    const s = sink();
    const path = newLogPath();
    const log = createLogger(logging({ log_to_console: false, log_to_file: true, log_file_path: path, json_format: true }), {
      destination: s.stream,
    });
    log.info({ port: 9000 }, 'listening');
    const lines = jsonLines(readFileSync(path, 'utf8'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'info', app: 'npro', msg: 'listening', port: 9000 });
    expect(s.text()).toBe('');
    await log.close();
  });

  it('both on: every line reaches both, and the file is appended to, not replaced', async () => {
    const s = sink();
    const path = newLogPath();
    writeFileSync(path, 'earlier line\n');
    const log = createLogger(logging({ log_to_file: true, log_file_path: path }), { destination: s.stream });
    log.warn('to both');
    log.error('again');
    const file = readFileSync(path, 'utf8');
    expect(file.startsWith('earlier line\n')).toBe(true);
    for (const text of [file, s.text()]) {
      expect(text).toContain('WARN: [npro] to both');
      expect(text).toContain('ERROR: [npro] again');
    }
    await log.close();
  });

  it('writes to standard output when no destination is given', () => {
    const spy = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      createLogger(logging({ json_format: true })).info('to stdout');
      const written = spy.mock.calls.map((c) => String(c[0])).join('');
      expect(JSON.parse(written.trim())).toMatchObject({ msg: 'to stdout', app: 'npro' });
    } finally {
      spy.mockRestore();
    }
  });

  it('closes the file: later lines are dropped, closing a child keeps the root open', async () => {
    const path = newLogPath();
    const log = createLogger(logging({ log_to_console: false, log_to_file: true, log_file_path: path, json_format: true }));
    const child = log.child({ component: 'daemon' });
    await child.close();
    child.info('still open');
    await log.close();
    log.info('after close');
    child.info('after close too');
    await log.close();
    expect(jsonLines(readFileSync(path, 'utf8')).map((l) => l['msg'])).toEqual(['still open']);
  });

  it('refuses a file output without a path, or one that cannot be opened', () => {
    const noPath = () => createLogger(logging({ log_to_file: true }));
    expect(noPath).toThrow(NproError);
    const noDir = () => createLogger(logging({ log_to_file: true, log_file_path: join(dir, 'missing', 'x.log') }));
    expect(noDir).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
  });
});

describe('logging.json_format', () => {
  it('true: one JSON object per line with level, time, app and msg', () => {
    const s = sink();
    const log = createLogger(logging({ json_format: true }), { destination: s.stream });
    log.info('a');
    log.error({ code: 'TLS_ERROR' }, 'b');
    const lines = jsonLines(s.text());
    expect(lines).toHaveLength(2);
    for (const l of lines) {
      expect(Object.keys(l)).toEqual(expect.arrayContaining(['level', 'time', 'app', 'msg']));
      expect(Number.isNaN(Date.parse(String(l['time'])))).toBe(false);
    }
    expect(lines[1]).toMatchObject({ level: 'error', code: 'TLS_ERROR', msg: 'b' });
  });

  it('false: human-readable lines (time, LEVEL, [app], message), no colour codes off a terminal', () => {
    const s = sink();
    createLogger(logging(), { destination: s.stream }).info({ peers: 3 }, 'ready');
    const [first, ...rest] = s.lines();
    expect(first).toMatch(/^\[\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3} [+-]\d{4}\] INFO: \[npro\] ready$/);
    expect(rest.join('\n')).toContain('peers: 3');
    expect(s.text()).not.toContain('\u001b[');
    expect(() => JSON.parse(first!)).toThrow();
  });
});

describe('structure', () => {
  it('child loggers add their component (JSON and human-readable)', () => {
    const s = sink();
    const root = createLogger(logging({ json_format: true }), { destination: s.stream });
    root.child({ component: 'daemon' }).info('accepting');
    root.info('no component');
    const [withComponent, without] = jsonLines(s.text());
    expect(withComponent).toMatchObject({ component: 'daemon', msg: 'accepting' });
    expect(without).not.toHaveProperty('component');
    const h = sink();
    createLogger(logging(), { destination: h.stream }).child({ component: 'client' }).info('connected');
    expect(h.text()).toContain('[npro] client: connected');
  });

  it('logs an error under "err" with its code', () => {
    const s = sink();
    createLogger(logging({ json_format: true }), { destination: s.stream }).error(new NproError('TLS_ERROR', 'bad cert'), 'handshake');
    const [line] = jsonLines(s.text());
    expect(line).toMatchObject({ msg: 'handshake', err: { code: 'TLS_ERROR', message: 'bad cert' } });
  });

  it('a silent logger writes nothing and says so', () => {
    const log = silentLogger();
    expect(log.level).toBe('silent');
    expect(log.isLevelEnabled('error')).toBe(false);
    expect(() => log.child({ component: 'x' }).error('nothing')).not.toThrow();
  });
});

describe('redaction', () => {
  const SECRET = 'TOP-SECRET-VALUE-42';

  it.each([true, false])('no secret field reaches the output (json_format = %s)', (json) => {
    const s = sink();
    const path = newLogPath();
    const log = createLogger(logging({ json_format: json, log_to_file: true, log_file_path: path }), { destination: s.stream });
    for (const field of REDACTED_FIELDS) {
      log.info({ [field]: SECRET }, `top-level ${field}`);
      log.info({ session: { [field]: SECRET } }, `nested ${field}`);
      log.child({ component: 'handshake', [field]: SECRET }).info(`binding ${field}`);
    }
    for (const text of [s.text(), readFileSync(path, 'utf8')]) {
      expect(text).not.toContain(SECRET);
      expect(text).toContain('[redacted]');
      expect(text).toContain(`nested ${REDACTED_FIELDS[0]}`);
    }
  });

  it('keeps fields that only look similar', () => {
    const s = sink();
    createLogger(logging({ json_format: true }), { destination: s.stream }).info({ publicKey: 'pk', keyId: 7 }, 'x');
    expect(jsonLines(s.text())[0]).toMatchObject({ publicKey: 'pk', keyId: 7 });
  });
});
