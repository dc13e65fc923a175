/**
 * Loading configuration (behaviour.md §1, §3): layering defaults < file < env < overrides, the legacy
 * variables, unknown tables, keys and variables, TOML errors, writing back, and the example file.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'smol-toml';
import { NproError } from '../../src/core/errors.js';
import { NetworkConfig, ENV_VARIABLES, envName, LEGACY_ENV, type ConfigProblem, type TableName } from '../../src/utils/config/index.js';

const dir = mkdtempSync(join(tmpdir(), 'npro-config-load-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function configError(fn: () => unknown): NproError {
  try {
    fn();
  } catch (err) {
    if (NproError.is(err, 'CONFIG_INVALID')) return err;
    throw err;
  }
  throw new Error('expected CONFIG_INVALID');
}
const problems = (err: NproError) => err.details!['problems'] as ConfigProblem[];

describe('layering: defaults < file < env < overrides', () => {
  const file = join(dir, 'layers.toml');
  writeFileSync(
    file,
    ['[server]', 'max_connections = 10', 'max_streams = 20', 'backpressure_limit = 30', '', '[logging]', 'app_name = "from-file"'].join('\n'),
  );
  const env = { NETWORK_PROTOCOL_SERVER_MAX_STREAMS: '21', NETWORK_PROTOCOL_SERVER_BACKPRESSURE_LIMIT: '31' };

  it('takes each key from the last layer that sets it', () => {
    const cfg = NetworkConfig.load({ file, env, overrides: { server: { backpressure_limit: 32_000 } } });
    expect(cfg.server.max_connections).toBe(10); // file
    expect(cfg.server.max_streams).toBe(21); // env over file
    expect(cfg.server.backpressure_limit).toBe(32_000); // overrides over env and file
    expect(cfg.logging.app_name).toBe('from-file');
    expect(cfg.server.heartbeat_interval).toBe(15_000); // default
  });

  it('merges tables key by key, so a later layer keeps the earlier keys it does not set', () => {
    const cfg = NetworkConfig.load({ file, env: {}, overrides: { logging: { log_level: 'debug' } } });
    expect(cfg.logging.app_name).toBe('from-file');
    expect(cfg.logging.log_level).toBe('debug');
  });

  it('checks once after merging: a later layer may repair an earlier one', () => {
    const half = join(dir, 'half.toml');
    writeFileSync(half, '[logging]\nlog_to_file = true\n');
    expect(() => NetworkConfig.fromFile(half)).toThrow(NproError);
    const log = join(dir, 'x.log');
    const cfg = NetworkConfig.load({ file: half, env: { NETWORK_PROTOCOL_LOGGING_LOG_FILE_PATH: log } });
    expect(cfg.logging.log_file_path).toBe(log);
  });

  it('reads an empty trust variable as unset (automatic)', () => {
    expect(NetworkConfig.fromEnv({ NETWORK_PROTOCOL_SECURITY_TRUST: '' }).security.trust).toBeUndefined();
  });

  it('lets an empty variable or a null override clear an optional key', () => {
    const k = 'TdlXIYhIJKxMIWoRZXKISIHqkMMgKZk1T9xWHURdFRU';
    const pinned = join(dir, 'pinned.toml');
    writeFileSync(pinned, `[security]\nserver_public_key = "${k}"\n`);
    expect(NetworkConfig.load({ file: pinned, env: {} }).security.server_public_key).toEqual([k]);
    expect(NetworkConfig.load({ file: pinned, env: { NETWORK_PROTOCOL_SECURITY_SERVER_PUBLIC_KEY: '' } }).security.server_public_key).toBeUndefined();
    expect(NetworkConfig.load({ file: pinned, env: {}, overrides: { security: { server_public_key: null } } }).security.server_public_key).toBeUndefined();
  });

  it('reads process.env when env is left out', () => {
    process.env['NETWORK_PROTOCOL_POOL_MAX_SIZE'] = '42';
    try {
      expect(NetworkConfig.load().pool.max_size).toBe(42);
      expect(NetworkConfig.fromEnv().pool.max_size).toBe(42);
      expect(NetworkConfig.load({ env: {} }).pool.max_size).toBe(10);
    } finally {
      delete process.env['NETWORK_PROTOCOL_POOL_MAX_SIZE'];
    }
  });

  it('names where each invalid value came from', () => {
    const err = configError(() =>
      NetworkConfig.load({
        file,
        env: { NETWORK_PROTOCOL_SERVER_MAX_STREAMS: '0' },
        overrides: { pool: { max_size: 0 } },
      }),
    );
    expect(err.message).toContain(`server.max_streams: Max streams must be greater than 0 (minimum 1) [from NETWORK_PROTOCOL_SERVER_MAX_STREAMS]`);
    expect(err.message).toContain('pool.max_size: Pool max size must be greater than 0 (minimum 1) [from overrides]');
    const bad = join(dir, 'bad-line.toml');
    writeFileSync(bad, '# comment\n\n[server]\naddress = "127.0.0.1:9000"\nmax_connections = 0\n');
    expect(configError(() => NetworkConfig.fromFile(bad)).message).toContain(`[from ${bad}:5]`);
  });
});

describe('legacy variables of the crate', () => {
  it('maps the four names, CONNECTION_TIMEOUT_MS to both server and client', () => {
    const cfg = NetworkConfig.fromEnv({
      NETWORK_PROTOCOL_SERVER_ADDRESS: '0.0.0.0:7000',
      NETWORK_PROTOCOL_BACKPRESSURE_LIMIT: '64',
      NETWORK_PROTOCOL_CONNECTION_TIMEOUT_MS: '2500',
      NETWORK_PROTOCOL_HEARTBEAT_INTERVAL_MS: '5000',
    });
    expect(cfg.server.address).toBe('0.0.0.0:7000');
    expect(cfg.server.backpressure_limit).toBe(64);
    expect(cfg.server.connection_timeout).toBe(2500);
    expect(cfg.client.connection_timeout).toBe(2500);
    expect(cfg.server.heartbeat_interval).toBe(5000);
    expect(cfg.client.heartbeat_interval).toBe(15_000);
  });

  it('loses to the <TABLE>_<KEY> name when both set a key', () => {
    const cfg = NetworkConfig.fromEnv({
      NETWORK_PROTOCOL_BACKPRESSURE_LIMIT: '64',
      NETWORK_PROTOCOL_SERVER_BACKPRESSURE_LIMIT: '65',
      NETWORK_PROTOCOL_CONNECTION_TIMEOUT_MS: '2500',
      NETWORK_PROTOCOL_CLIENT_CONNECTION_TIMEOUT: '3500',
      NETWORK_PROTOCOL_HEARTBEAT_INTERVAL_MS: '5000',
      NETWORK_PROTOCOL_SERVER_HEARTBEAT_INTERVAL: '6000',
    });
    expect(cfg.server.backpressure_limit).toBe(65);
    expect(cfg.server.connection_timeout).toBe(2500);
    expect(cfg.client.connection_timeout).toBe(3500);
    expect(cfg.server.heartbeat_interval).toBe(6000);
  });

  it('refuses an unparsable legacy value, naming it (the crate ignored it)', () => {
    const err = configError(() => NetworkConfig.fromEnv({ NETWORK_PROTOCOL_CONNECTION_TIMEOUT_MS: 'soon' }));
    expect(problems(err).map((p) => p.field)).toEqual(['NETWORK_PROTOCOL_CONNECTION_TIMEOUT_MS']);
    expect(err.message).toContain('server.connection_timeout and client.connection_timeout');
  });

  it('lists every accepted variable once', () => {
    expect(new Set(ENV_VARIABLES).size).toBe(ENV_VARIABLES.length);
    expect(ENV_VARIABLES).toContain('NETWORK_PROTOCOL_CONNECTION_TIMEOUT_MS');
    expect(ENV_VARIABLES).toContain('NETWORK_PROTOCOL_LOGGING_JSON_FORMAT');
  });
});

describe('unknown names are refused, never ignored', () => {
  it.each([
    ['[server]\nadress = "127.0.0.1:1"', 'server.adress', 'did you mean "address"'],
    ['[pool]\nmax = 3', 'pool.max', 'known: min_size, max_size'],
    ['[sever]\naddress = "127.0.0.1:1"', 'sever', 'did you mean "server"'],
    ['[metrics]\nenabled = true', 'metrics', 'unknown table'],
    ['top_level = 1', 'top_level', 'unknown table'],
  ])('%j → %s', (toml, field, hint) => {
    const err = configError(() => NetworkConfig.fromToml(toml, 'u.toml'));
    expect(problems(err).map((p) => p.field)).toEqual([field]);
    expect(err.message).toContain(hint);
    expect(err.message).toContain('u.toml');
  });

  it('refuses unknown NETWORK_PROTOCOL_* variables and ignores other variables', () => {
    const err = configError(() =>
      NetworkConfig.fromEnv({ NETWORK_PROTOCOL_SERVER_MAX_CONECTIONS: '5', NETWORK_PROTOCOL_FOO: '1', PATH: '/bin', HOME: '/root' }),
    );
    expect(problems(err).map((p) => p.field).sort()).toEqual(['NETWORK_PROTOCOL_FOO', 'NETWORK_PROTOCOL_SERVER_MAX_CONECTIONS']);
    expect(err.message).toContain('did you mean NETWORK_PROTOCOL_SERVER_MAX_CONNECTIONS?');
    expect(NetworkConfig.fromEnv({ PATH: '/bin', NETWORK_PROTOCOL: 'x' }).server.max_connections).toBe(1000);
  });

  it('refuses unknown keys given in overrides', () => {
    const err = configError(() => NetworkConfig.load({ env: {}, overrides: { server: { max_conns: 5 } } as never }));
    expect(problems(err)[0]).toMatchObject({ field: 'server.max_conns', source: 'overrides' });
  });

  it('refuses a table that is not a table', () => {
    const err = configError(() => NetworkConfig.fromToml('server = 5', 't.toml'));
    expect(problems(err)[0]).toMatchObject({ field: 'server', source: 't.toml:1' });
  });
});

describe('TOML files', () => {
  it('reports a syntax error with the file name, line and column', () => {
    const err = configError(() => NetworkConfig.fromToml('[server]\nmax_streams = 3\naddress = \n', 'broken.toml'));
    expect(err.message).toContain('broken.toml');
    expect(err.message).toContain('line 3');
    expect(problems(err)[0]!.source).toMatch(/^broken\.toml:3:\d+$/);
    expect(err.cause).toBeInstanceOf(Error);
  });

  it('reports a missing file as CONFIG_INVALID naming it', () => {
    const missing = join(dir, 'missing.toml');
    const err = configError(() => NetworkConfig.fromFile(missing));
    expect(err.message).toContain(missing);
    expect(err.message).toContain('ENOENT');
    expect(configError(() => NetworkConfig.load({ file: missing, env: {} })).message).toContain(missing);
  });

  it('reads a file with partial tables (missing keys take defaults)', () => {
    const f = join(dir, 'partial.toml');
    writeFileSync(f, '[server]\naddress = "unix:///tmp/npro-test.sock"\n[transport]\nencryption_enabled = false\n[client]\naddress = "unix:///tmp/npro-test.sock"\n');
    const cfg = NetworkConfig.fromFile(f);
    expect(cfg.transport.encryption_enabled).toBe(false);
    expect(cfg.server.max_connections).toBe(1000);
  });

  it('writes a configuration that reads back the same (toToml, saveToFile)', () => {
    const cfg = NetworkConfig.load({
      env: {},
      overrides: {
        server: { address: '[::1]:0', heartbeat_timeout: '90s' },
        security: { server_public_key: 'TdlXIYhIJKxMIWoRZXKISIHqkMMgKZk1T9xWHURdFRU', trust: 'pinned' },
        logging: { log_level: 'WARN', json_format: true },
      },
    });
    expect(NetworkConfig.fromToml(NetworkConfig.toToml(cfg))).toEqual(cfg);
    const out = join(dir, 'saved.toml');
    NetworkConfig.saveToFile(cfg, out);
    expect(NetworkConfig.fromFile(out)).toEqual(cfg);
    expect(readFileSync(out, 'utf8')).toContain('heartbeat_timeout = 90000');
    expect(readdirSync(dir).filter((n) => n.includes('.tmp'))).toEqual([]);
  });

  it('refuses to save an invalid configuration, and leaves no file', () => {
    const out = join(dir, 'invalid.toml');
    const cfg = NetworkConfig.defaults();
    cfg.server.max_connections = 0;
    expect(configError(() => NetworkConfig.saveToFile(cfg, out)).message).toContain('server.max_connections');
    expect(existsSync(out)).toBe(false);
    expect(configError(() => NetworkConfig.saveToFile(NetworkConfig.defaults(), join(dir, 'no-dir', 'x.toml'))).message).toContain('ENOENT');
  });
});

describe('docs/configuration.md', () => {
  const doc = readFileSync(join(process.cwd(), 'docs', 'configuration.md'), 'utf8');

  it('has a row for every key with its default and variable', () => {
    const defaults = NetworkConfig.defaults() as unknown as Record<string, Record<string, unknown>>;
    for (const [table, values] of Object.entries(defaults)) {
      for (const [key, value] of Object.entries(values)) {
        const rows = doc.split('\n').filter((l) => l.startsWith(`| \`${table}.${key}\` |`));
        const row = rows.find((l) => l.includes('NETWORK_PROTOCOL_'));
        expect(row).toBeDefined();
        expect(row).toContain(`\`${envName(table as TableName, key)}\``);
        expect(row).toContain(value === undefined ? '| none |' : `\`${JSON.stringify(value)}\``);
      }
    }
  });

  it('names every legacy variable', () => {
    for (const name of Object.keys(LEGACY_ENV)) expect(doc).toContain(`| \`${name}\` |`);
  });
});

describe('the example file', () => {
  const example = NetworkConfig.exampleToml();

  it('is config.example.toml at the repository root, byte for byte', () => {
    expect(readFileSync(join(process.cwd(), 'config.example.toml'), 'utf8')).toBe(example);
  });

  it('parses back to exactly the defaults', () => {
    expect(NetworkConfig.fromToml(example, 'config.example.toml')).toEqual(NetworkConfig.defaults());
  });

  it('shows every key: set to its default, or commented out with a valid sample when it has none', () => {
    const defaults = NetworkConfig.defaults() as unknown as Record<string, Record<string, unknown>>;
    const doc = parse(example) as Record<string, Record<string, unknown>>;
    for (const [table, values] of Object.entries(defaults)) {
      for (const [key, value] of Object.entries(values)) {
        if (value === undefined) {
          const line = example.split('\n').find((l) => l.startsWith(`# ${key} = `) && example.indexOf(l) > example.indexOf(`[${table}]`));
          expect(line).toBeDefined();
          const sample = parse(line!.slice(2)) as Record<string, unknown>;
          // The sample has the key's type and form (sample TLS files need not exist here).
          const found = NetworkConfig.validate({ ...defaults, [table]: { ...values, ...sample } });
          expect(found.filter((p) => p.field === `${table}.${key}` && !p.message.includes('does not exist'))).toEqual([]);
        } else {
          expect(doc[table]![key]).toEqual(value);
        }
      }
    }
  });

  it('gives a fresh defaults object on each call', () => {
    const a = NetworkConfig.defaults();
    a.server.max_connections = 1;
    a.security.authorized_clients.push('x');
    expect(NetworkConfig.defaults().server.max_connections).toBe(1000);
    expect(NetworkConfig.defaults().security.authorized_clients).toEqual([]);
  });
});
