/**
 * Every configuration key (behaviour.md §3): its default, a value set in TOML, a value set through
 * its NETWORK_PROTOCOL_<TABLE>_<KEY> variable, and an invalid value given each way.
 */
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NproError } from '../../src/core/errors.js';
import { NetworkConfig, envName, KEY_INFO, TABLE_NAMES, tableKeys, type TableName } from '../../src/utils/config/index.js';

const dir = mkdtempSync(join(tmpdir(), 'npro-config-keys-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const CERT = join(dir, 'cert.pem');
const KEY = join(dir, 'key.pem');
const CA = join(dir, 'ca.pem');
for (const f of [CERT, KEY, CA]) writeFileSync(f, '-----BEGIN CERTIFICATE-----\n');
const LOG = join(dir, 'npro.log');

const K1 = 'TdlXIYhIJKxMIWoRZXKISIHqkMMgKZk1T9xWHURdFRU';
const K2 = 'lYcGr8v9ww5aymTO2bJ6bViYdBJhlJAK69EeTGoe6Bs';

/** [key, TOML literal, environment text] set beside the key under test, in the same table. */
type Ctx = [string, string, string];

interface Case {
  field: string;
  def: unknown;
  toml: string;
  value: unknown;
  env: string;
  envValue: unknown;
  badToml: string;
  badEnv: string;
  ctx?: Ctx[];
}

const c = (
  field: string,
  def: unknown,
  [toml, value]: [string, unknown],
  [env, envValue]: [string, unknown],
  [badToml, badEnv]: [string, string],
  ctx?: Ctx[],
): Case => ({ field, def, toml, value, env, envValue, badToml, badEnv, ...(ctx ? { ctx } : {}) });

const q = JSON.stringify;

const CASES: Case[] = [
  c('server.address', '127.0.0.1:9000', ['"tcp://[::1]:7000"', 'tcp://[::1]:7000'], ['localhost:9100', 'localhost:9100'], ['"127.0.0.1"', 'http://x:1']),
  c('server.backpressure_limit', 32, ['64', 64], ['128', 128], ['0', 'lots']),
  c('server.connection_timeout', 5000, ['"2s"', 2000], ['1500ms', 1500], ['"5x"', '50']),
  c('server.idle_timeout', 300_000, ['"10m"', 600_000], ['90s', 90_000], ['-1', '-5s']),
  c('server.heartbeat_interval', 15_000, ['20000', 20_000], ['20s', 20_000], ['"2h"', 'NaN']),
  c('server.heartbeat_timeout', 60_000, ['"2m"', 120_000], ['90000', 90_000], ['1000', '1.5ms']),
  c('server.shutdown_timeout', 30_000, ['"10s"', 10_000], ['5s', 5000], ['500', '61s']),
  c('server.max_connections', 1000, ['10', 10], ['20', 20], ['100001', '1e3']),
  c('server.max_streams', 100, ['8', 8], ['16', 16], ['0', '1.5']),
  c('server.frame_timeout', 30_000, ['"1s"', 1000], ['2500', 2500], ['"301s"', 'soon']),
  c('server.max_connection_age', 3_600_000, ['0', 0], ['2h', 7_200_000], ['50', 'forever']),
  c('client.address', '127.0.0.1:9000', ['"unix:///tmp/npro.sock"', 'unix:///tmp/npro.sock'], ['wss://example.com/rpc', 'wss://example.com/rpc'], ['"127.0.0.1:0"', '']),
  c('client.connection_timeout', 5000, ['"3s"', 3000], ['4000', 4000], ['99', '301s']),
  c('client.operation_timeout', 3000, ['500', 500], ['1s', 1000], ['5', 'x']),
  c('client.response_timeout', 30_000, ['"1m"', 60_000], ['45s', 45_000], ['10', '-1']),
  c('client.heartbeat_interval', 15_000, ['"5s"', 5000], ['7s', 7000], ['0', '3601s']),
  c('client.auto_reconnect', true, ['false', false], ['no', false], ['"yes"', 'maybe']),
  c('client.max_reconnect_attempts', 3, ['5', 5], ['7', 7], ['0', 'three']),
  c('client.reconnect_delay', 1000, ['"250ms"', 250], ['2s', 2000], ['"61s"', '5']),
  c('transport.compression_enabled', false, ['true', true], ['yes', true], ['1', 'on']),
  c('transport.compression_algorithm', 'lz4', ['"zstd"', 'zstd'], ['zstd', 'zstd'], ['"gzip"', 'brotli']),
  c('transport.compression_level', 6, ['19', 19], ['1', 1], ['23', '0']),
  c('transport.compression_threshold_bytes', 512, ['0', 0], ['4096', 4096], ['16777217', 'big']),
  c('transport.encryption_enabled', 'auto', ['true', true], ['yes', true], ['"never"', 'false']),
  c('transport.max_payload_size', 16_777_216, ['65536', 65_536], ['1024', 1024], ['1023', '16777217']),
  c('security.protocol', 'v2', ['"v1+v2"', 'v1+v2'], ['v1', 'v1'], ['"v3"', 'v3']),
  c('security.key_file', '.npro/server.key', ['"keys/a.key"', 'keys/a.key'], ['/etc/npro/key', '/etc/npro/key'], ['""', '']),
  c('security.server_public_key', undefined, [q(K1), [K1]], [`${K1},${K2}`, [K1, K2]], ['"abc"', `${K1},short`]),
  c('security.known_hosts', '.npro/known_hosts', ['"hosts"', 'hosts'], ['kh', 'kh'], ['7', '']),
  c('security.trust', undefined, ['"any"', 'any'], ['tofu', 'tofu'], ['"pinned"', 'always']),
  c('security.authorized_clients', [], [`[${q(K1)}, ${q(K2)}]`, [K1, K2]], [`${K1}, ${K2}`, [K1, K2]], ['["x"]', `${K1},AAAA`]),
  c('tls.cert_file', undefined, [q(CERT), CERT], [CERT, CERT], ['""', '/nonexistent/c.pem'], [['key_file', q(KEY), KEY]]),
  c('tls.key_file', undefined, [q(KEY), KEY], [KEY, KEY], ['""', '/nonexistent/k.pem'], [['cert_file', q(CERT), CERT]]),
  c('tls.ca_file', undefined, [q(CA), CA], [CA, CA], ['3', '/nonexistent/ca.pem']),
  c('tls.verify_client', false, ['true', true], ['1', true], ['"true"', 'ok']),
  c('tls.server_name', undefined, ['"example.com"', 'example.com'], ['localhost', 'localhost'], ['""', 'bad name!']),
  c('tls.min_version', 'TLSv1.2', ['"TLSv1.3"', 'TLSv1.3'], ['TLSv1.3', 'TLSv1.3'], ['"TLSv1.1"', 'tls1.3']),
  c('pool.min_size', 0, ['2', 2], ['3', 3], ['11', '-1']),
  c('pool.max_size', 10, ['20', 20], ['4', 4], ['0', 'ten']),
  c('pool.idle_timeout', 300_000, ['"1m"', 60_000], ['30s', 30_000], ['0', 'x']),
  c('pool.max_lifetime', 3_600_000, ['"2h"', 7_200_000], ['600000', 600_000], ['"99ms"', '25d']),
  c('pool.breaker_failures', 5, ['3', 3], ['10', 10], ['0', '2.5']),
  c('pool.breaker_reset', 30_000, ['"5s"', 5000], ['1m', 60_000], ['true', '']),
  c('logging.app_name', 'npro', ['"svc"', 'svc'], ['my-app', 'my-app'], ['""', 'x'.repeat(65)]),
  c('logging.log_level', 'info', ['"DEBUG"', 'debug'], ['Warn', 'warn'], ['"verbose"', 'loud']),
  c('logging.log_to_console', true, ['false', false], ['0', false], ['"no"', 'nah'], [['log_to_file', 'true', 'true'], ['log_file_path', q(LOG), LOG]]),
  c('logging.log_to_file', false, ['true', true], ['true', true], ['0', 'yes please'], [['log_file_path', q(LOG), LOG]]),
  c('logging.log_file_path', undefined, [q(LOG), LOG], [LOG, LOG], ['42', '/nonexistent-dir/x.log'], [['log_to_file', 'true', 'true']]),
  c('logging.json_format', false, ['true', true], ['1', true], ['"json"', 'json']),
];

const split = (field: string) => field.split('.') as [TableName, string];
const get = (cfg: NetworkConfig, field: string) => {
  const [table, key] = split(field);
  return (cfg[table] as Record<string, unknown>)[key];
};
const tomlFor = (cs: Case, literal: string) => {
  const [table, key] = split(cs.field);
  const ctx = (cs.ctx ?? []).map(([k, lit]) => `${k} = ${lit}`);
  return [`[${table}]`, ...ctx, `${key} = ${literal}`].join('\n');
};
const envFor = (cs: Case, text: string) => {
  const [table, key] = split(cs.field);
  const env: Record<string, string> = { [envName(table, key)]: text };
  for (const [k, , envText] of cs.ctx ?? []) env[envName(table, k)] = envText;
  return env;
};

function configError(fn: () => unknown): NproError {
  try {
    fn();
  } catch (err) {
    if (NproError.is(err, 'CONFIG_INVALID')) return err;
    throw err;
  }
  throw new Error('expected CONFIG_INVALID');
}

const problemFields = (err: NproError) => (err.details!['problems'] as { field: string }[]).map((p) => p.field);

describe('the key table', () => {
  it('covers every key of every table exactly once', () => {
    const all = TABLE_NAMES.flatMap((t) => tableKeys(t).map((k) => `${t}.${k}`));
    expect(CASES.map((cs) => cs.field).sort()).toEqual([...all].sort());
    for (const t of TABLE_NAMES) expect(Object.keys(KEY_INFO[t]).sort()).toEqual([...tableKeys(t)].sort());
  });

  it('uses NETWORK_PROTOCOL_<TABLE>_<KEY> names', () => {
    expect(envName('server', 'address')).toBe('NETWORK_PROTOCOL_SERVER_ADDRESS');
    expect(envName('logging', 'log_level')).toBe('NETWORK_PROTOCOL_LOGGING_LOG_LEVEL');
    expect(envName('tls', 'cert_file')).toBe('NETWORK_PROTOCOL_TLS_CERT_FILE');
  });
});

describe.each(CASES)('$field', (cs) => {
  const [table, key] = split(cs.field);
  const variable = envName(table, key);

  it('has its documented default', () => {
    expect(get(NetworkConfig.defaults(), cs.field)).toEqual(cs.def);
    expect(get(NetworkConfig.fromToml(''), cs.field)).toEqual(cs.def);
    expect(get(NetworkConfig.fromToml(`[${table}]`), cs.field)).toEqual(cs.def);
  });

  it('is set from TOML', () => {
    expect(cs.value).not.toEqual(cs.def);
    expect(get(NetworkConfig.fromToml(tomlFor(cs, cs.toml), 'keys.toml'), cs.field)).toEqual(cs.value);
  });

  it(`is set from ${variable}`, () => {
    expect(cs.envValue).not.toEqual(cs.def);
    expect(get(NetworkConfig.fromEnv(envFor(cs, cs.env)), cs.field)).toEqual(cs.envValue);
  });

  it('refuses an invalid TOML value, naming the field and the file', () => {
    const err = configError(() => NetworkConfig.fromToml(tomlFor(cs, cs.badToml), 'bad.toml'));
    expect(problemFields(err).some((f) => f.startsWith(cs.field))).toBe(true);
    expect(err.message).toContain(cs.field);
    expect(err.message).toContain('bad.toml:');
  });

  it(`refuses an invalid ${variable}, naming the variable`, () => {
    const err = configError(() => NetworkConfig.fromEnv(envFor(cs, cs.badEnv)));
    expect(err.message).toContain(variable);
    expect(err.message).toContain(cs.field);
  });
});
