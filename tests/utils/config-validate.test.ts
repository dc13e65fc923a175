/**
 * Validation (behaviour.md §3): all problems at once, the rules relating two keys, durations,
 * addresses, public keys, and the scheme-dependent policies (protocol.md §6, §8).
 */
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NproError } from '../../src/core/errors.js';
import {
  NetworkConfig,
  encryptsRecords,
  formatDuration,
  isPublicKeyText,
  MAX_DURATION_MS,
  parseAddress,
  parseDuration,
  type NetworkConfigInput,
} from '../../src/utils/config/index.js';

const K1 = 'TdlXIYhIJKxMIWoRZXKISIHqkMMgKZk1T9xWHURdFRU';
const dir = mkdtempSync(join(tmpdir(), 'npro-config-validate-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const PEM = join(dir, 'file.pem');
writeFileSync(PEM, '-----BEGIN CERTIFICATE-----\n');

/** The fields with problems when `layer` is applied over the defaults. */
const fieldsOf = (layer: NetworkConfigInput) => {
  const d = NetworkConfig.defaults();
  const merged = Object.fromEntries(
    Object.entries(d).map(([t, v]) => [t, { ...v, ...((layer as Record<string, object>)[t] ?? {}) }]),
  );
  return NetworkConfig.validate(merged).map((p) => p.field);
};

describe('validate() and validateStrict()', () => {
  it('finds nothing wrong with the defaults', () => {
    expect(NetworkConfig.validate(NetworkConfig.defaults())).toEqual([]);
    expect(NetworkConfig.validate({})).toEqual([]);
  });

  it('returns every problem at once', () => {
    const found = NetworkConfig.validate({
      server: { max_connections: 0, backpressure_limit: 2_000_000, shutdown_timeout: 500, address: 'nowhere' },
      client: { operation_timeout: 1 },
      transport: { compression_level: 30, max_payload_size: 0 },
      pool: { min_size: 20 },
      logging: { app_name: '', log_to_console: false },
      nonsense: {},
    } as NetworkConfigInput);
    expect(found.map((p) => p.field).sort()).toEqual(
      [
        'client.operation_timeout',
        'logging.app_name',
        'logging.log_to_console',
        'nonsense',
        'pool.min_size',
        'server.address',
        'server.backpressure_limit',
        'server.max_connections',
        'server.shutdown_timeout',
        'transport.compression_level',
        'transport.max_payload_size',
      ].sort(),
    );
    for (const p of found) expect(p.message.length).toBeGreaterThan(5);
  });

  it('validateStrict throws CONFIG_INVALID naming each field, with details.problems', () => {
    const bad = NetworkConfig.defaults();
    bad.server.max_connections = 0;
    bad.client.reconnect_delay = 1;
    bad.logging.log_level = 'loud' as never;
    let err: unknown;
    try {
      NetworkConfig.validateStrict(bad);
    } catch (e) {
      err = e;
    }
    expect(NproError.is(err, 'CONFIG_INVALID')).toBe(true);
    const e = err as NproError;
    for (const f of ['server.max_connections', 'client.reconnect_delay', 'logging.log_level']) expect(e.message).toContain(`  - ${f}: `);
    expect(e.message).toContain('Configuration validation failed (3 problems)');
    expect((e.details!['problems'] as { field: string }[]).map((p) => p.field)).toHaveLength(3);
  });

  it('validateStrict returns the resolved configuration (durations in ms, level in lower case)', () => {
    const cfg = NetworkConfig.validateStrict({ server: { idle_timeout: '1.5s' }, logging: { log_level: 'ERROR' } });
    expect(cfg.server.idle_timeout).toBe(1500);
    expect(cfg.logging.log_level).toBe('error');
  });

  it('keeps the crate messages a reader may search for', () => {
    const msgs = NetworkConfig.validate({
      server: { address: '', backpressure_limit: 0 },
      client: { address: 'x' },
      transport: { max_payload_size: 100, compression_level: 0 },
      logging: { app_name: 'a'.repeat(65), log_to_file: true },
    }).map((p) => p.message);
    for (const m of [
      'Server address cannot be empty',
      'Backpressure limit must be greater than 0',
      'Invalid client address format',
      'Max payload size too small',
      'Invalid compression level',
      'Application name too long',
      'log_file_path must be specified when log_to_file is true',
    ]) {
      expect(msgs.some((x) => x.includes(m))).toBe(true);
    }
  });
});

describe('rules relating two keys', () => {
  it.each<[string, NetworkConfigInput, string[]]>([
    ['heartbeat_timeout must exceed heartbeat_interval', { server: { heartbeat_interval: 20_000, heartbeat_timeout: 20_000 } }, ['server.heartbeat_timeout']],
    ['… and passes when it does', { server: { heartbeat_interval: 20_000, heartbeat_timeout: 20_001 } }, []],
    ['auto_reconnect needs an attempt', { client: { auto_reconnect: true, max_reconnect_attempts: 0 } }, ['client.max_reconnect_attempts']],
    ['no attempts are fine without auto_reconnect', { client: { auto_reconnect: false, max_reconnect_attempts: 0 } }, []],
    ['threshold ≤ max payload', { transport: { max_payload_size: 2048, compression_threshold_bytes: 2049 } }, ['transport.compression_threshold_bytes']],
    ['threshold = max payload is fine', { transport: { max_payload_size: 2048, compression_threshold_bytes: 2048 } }, []],
    ['pinned trust needs a key', { security: { trust: 'pinned' } }, ['security.trust']],
    ['pinned trust with a key', { security: { trust: 'pinned', server_public_key: K1 } }, []],
    ['pool min ≤ max', { pool: { min_size: 4, max_size: 3 } }, ['pool.min_size']],
    ['both log outputs off', { logging: { log_to_console: false, log_to_file: false } }, ['logging.log_to_console']],
    ['file logging needs a path', { logging: { log_to_file: true } }, ['logging.log_file_path']],
    ['the log directory must exist', { logging: { log_to_file: true, log_file_path: join(dir, 'nope', 'x.log') } }, ['logging.log_file_path']],
    ['a path is not checked while file logging is off', { logging: { log_file_path: join(dir, 'nope', 'x.log') } }, []],
    ['file logging with a path in an existing directory', { logging: { log_to_file: true, log_file_path: join(dir, 'x.log') } }, []],
    ['a TLS certificate needs its key', { tls: { cert_file: PEM } }, ['tls.key_file']],
    ['a TLS key needs its certificate', { tls: { key_file: PEM } }, ['tls.cert_file']],
    ['an empty pinned list', { security: { server_public_key: [] } }, ['security.server_public_key']],
    ['a bad key in a pinned list', { security: { server_public_key: [K1, 'nope'] } }, ['security.server_public_key[1]']],
  ])('%s', (_name, layer, fields) => {
    expect(fieldsOf(layer)).toEqual(fields);
  });

  it.each<[string, string, string[]]>([
    ['127.0.0.1:9000', '127.0.0.1:9000', ['transport.encryption_enabled', 'transport.encryption_enabled']],
    ['tcp://127.0.0.1:1', 'unix:///tmp/a.sock', ['transport.encryption_enabled']],
    ['unix:///tmp/a.sock', 'ws://127.0.0.1:1/x', ['transport.encryption_enabled']],
    ['unix:///tmp/a.sock', 'unix:///tmp/a.sock', []],
    ['tls://127.0.0.1:1', 'wss://localhost/rpc', []],
  ])('encryption_enabled = false with server %s and client %s', (server, client, fields) => {
    expect(fieldsOf({ transport: { encryption_enabled: false }, server: { address: server }, client: { address: client } })).toEqual(fields);
    expect(fieldsOf({ transport: { encryption_enabled: true }, server: { address: server }, client: { address: client } })).toEqual([]);
  });
});

describe('durations', () => {
  it.each<[unknown, number]>([
    [5000, 5000],
    [0, 0],
    ['5000', 5000],
    ['5s', 5000],
    ['150ms', 150],
    ['2m', 120_000],
    ['1h', 3_600_000],
    ['1.5s', 1500],
    ['0.1s', 100],
    ['1h30m', 5_400_000],
    ['1m 30s', 90_000],
    [' 5 s ', 5000],
    [MAX_DURATION_MS, MAX_DURATION_MS],
  ])('%j → %d ms', (input, ms) => {
    expect(parseDuration(input)).toEqual({ ok: true, ms });
  });

  it.each<unknown>([-1, -0.5, 1.5, NaN, Infinity, MAX_DURATION_MS + 1, '', 's', '5x', '5 sec', '-5s', '1.0005s', '25d', '5s5', true, null, [], {}])(
    '%j is refused',
    (input) => {
      const r = parseDuration(input);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.reason.length).toBeGreaterThan(5);
    },
  );

  it('formats durations for messages', () => {
    expect([150, 5000, 120_000, 3_600_000, 1500, 0].map(formatDuration)).toEqual(['150ms', '5s', '2m', '1h', '1500ms', '0ms']);
  });
});

describe('addresses', () => {
  it.each<[string, object]>([
    ['127.0.0.1:9000', { scheme: 'tcp', host: '127.0.0.1', port: 9000 }],
    ['localhost:1', { scheme: 'tcp', host: 'localhost', port: 1 }],
    ['my_service:80', { scheme: 'tcp', host: 'my_service', port: 80 }],
    ['rpc.example.com:443', { scheme: 'tcp', host: 'rpc.example.com', port: 443 }],
    ['[::1]:9000', { scheme: 'tcp', host: '::1', port: 9000 }],
    ['tcp://10.0.0.1:5', { scheme: 'tcp', host: '10.0.0.1', port: 5 }],
    ['TLS://[fe80::1]:443', { scheme: 'tls', host: 'fe80::1', port: 443 }],
    ['ws://host/rpc', { scheme: 'ws', host: 'host', path: '/rpc' }],
    ['ws://host:8080', { scheme: 'ws', host: 'host', port: 8080, path: '/' }],
    ['wss://host.example:8443/a/b?x=1', { scheme: 'wss', host: 'host.example', port: 8443, path: '/a/b?x=1' }],
    ['unix:///tmp/npro.sock', { scheme: 'unix', path: '/tmp/npro.sock' }],
    ['unix://@npro', { scheme: 'unix', path: '@npro' }],
    [`unix:///${'a'.repeat(106)}`, { scheme: 'unix' }],
  ])('%s is accepted', (text, expected) => {
    const r = parseAddress(text);
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.address).toMatchObject(expected);
  });

  it.each([
    '',
    '127.0.0.1',
    '::1:9000',
    'http://x:1',
    'tcp://host',
    'tcp://host:1/path',
    'host:99999',
    'host:-1',
    'host:',
    ':9000',
    'unix://relative.sock',
    'unix://@',
    'unix:///',
    `unix:///${'a'.repeat(107)}`,
    'user@host:1',
    '-bad-.com:1',
    'bad host:1',
    'a..b:1',
    '[::1',
    '[zz]:1',
    '[::1]x',
    'host:0',
  ])('%j is refused', (text) => {
    const r = parseAddress(text);
    expect(r.ok).toBe(false);
  });

  it('admits port 0 only for the server address', () => {
    expect(parseAddress('127.0.0.1:0', true).ok).toBe(true);
    expect(fieldsOf({ server: { address: '127.0.0.1:0' } })).toEqual([]);
    expect(fieldsOf({ client: { address: '127.0.0.1:0' } })).toEqual(['client.address']);
  });
});

describe('public keys', () => {
  it.each<[string, boolean]>([
    [K1, true],
    ['lYcGr8v9ww5aymTO2bJ6bViYdBJhlJAK69EeTGoe6Bs', true],
    [`${K1}=`, false],
    [K1.slice(0, 42), false],
    [`${K1.slice(0, 42)}V`, false], // non-canonical: the last character's low bits must be zero
    [`${K1.slice(0, 41)}+A`, false],
    ['', false],
  ])('%s → %s', (text, ok) => {
    expect(isPublicKeyText(text)).toBe(ok);
  });
});

describe('policies that depend on the scheme', () => {
  it.each<['auto' | boolean, string, boolean | undefined]>([
    ['auto', '127.0.0.1:1', true],
    ['auto', 'tcp://127.0.0.1:1', true],
    ['auto', 'ws://h/x', true],
    ['auto', 'tls://h:1', false],
    ['auto', 'wss://h', false],
    ['auto', 'unix:///tmp/s', false],
    [true, 'unix:///tmp/s', true],
    [true, 'tls://h:1', true],
    [false, 'unix:///tmp/s', false],
    [false, 'wss://h', false],
    [false, 'tcp://h:1', undefined],
    [false, 'ws://h', undefined],
    ['auto', 'bogus', undefined],
  ])('encryption %j on %s → %s', (setting, address, expected) => {
    expect(encryptsRecords(setting, address)).toBe(expected);
  });
});
