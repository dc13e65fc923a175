/**
 * The `npro` command in-process (behaviour.md §2): help, version, usage errors, `config`,
 * `keygen` and `bench`, with their exit codes (0 ok, 1 runtime error, 2 bad usage or config).
 */
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'smol-toml';
import { NetworkConfig } from '../../src/utils/config/index.js';
import { defaultCrypto } from '../../src/utils/crypto/index.js';
import { readKeyFile, parsePublicKey } from '../../src/utils/keys.js';
import { toBase64Url, fromBase64Url } from '../../src/utils/bytes.js';
import { harness, type Harness } from './cli-harness.js';

let h: Harness;
beforeEach(() => {
  h = harness();
});
afterEach(() => h.cleanup());

describe('help, version and usage errors', () => {
  test('--help lists every command on stdout, exit 0', async () => {
    const r = await h.run(['--help']);
    expect(r.code).toBe(0);
    for (const c of ['daemon', 'call', 'ping', 'keygen', 'cert', 'config', 'bench']) expect(r.stdout).toMatch(new RegExp(`^  ${c} `, 'm'));
    expect(r.stderr).toBe('');
  });

  test('--version prints the package version', async () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    const r = await h.run(['--version']);
    expect(r).toEqual({ code: 0, stdout: `${pkg.version}\n`, stderr: '' });
  });

  test('help COMMAND and COMMAND --help print that command\'s usage, exit 0', async () => {
    const a = await h.run(['help', 'keygen']);
    expect(a.code).toBe(0);
    expect(a.stdout).toMatch(/^Usage: npro keygen/);
    const b = await h.run(['cert', '--help']);
    expect(b.code).toBe(0);
    expect(b.stdout).toMatch(/^Usage: npro cert/);
    const c = await h.run(['help']);
    expect(c.code).toBe(0);
    expect(c.stdout).toMatch(/^Usage: npro <command>/);
  });

  test.each([
    [[], /missing command/],
    [['frobnicate'], /unknown command "frobnicate"/],
    [['--frob'], /unknown option --frob/],
    [['keygen', '--bogus'], /keygen: Unknown option '--bogus'/],
    [['keygen', 'extra'], /keygen: unexpected argument "extra"/],
    [['keygen', '--out'], /keygen: Option '-o, --out <value>' argument missing/],
    [['help', 'nothing'], /help: unknown command "nothing"/],
    [['config'], /config: missing subcommand/],
    [['config', 'frob'], /config: unknown subcommand "frob"/],
    [['cert', '--out', 'x'], /cert: at least one --host NAME is needed/],
    [['cert', '--host', 'localhost'], /cert: --out DIR is needed/],
    [['cert', '--host', 'bad host!', '--out', 'x'], /is not a host name or IP address/],
    [['cert', '--host', 'localhost', '--out', 'x', '--days', '0'], /--days takes a positive integer/],
  ])('%j → usage on stderr, exit 2', async (argv, message) => {
    const r = await h.run(argv);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toMatch(/Usage: npro/);
  });
});

describe('npro config', () => {
  test('example prints the commented example file, which parses to the defaults', async () => {
    const r = await h.run(['config', 'example']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(NetworkConfig.exampleToml());
    expect(NetworkConfig.fromToml(r.stdout)).toEqual(NetworkConfig.defaults());
  });

  test('print layers defaults < file < environment', async () => {
    writeFileSync(join(h.dir, 'npro.toml'), '[server]\nmax_connections = 50\nmax_streams = 9\n');
    const r = await h.run(['config', 'print', '--config', 'npro.toml'], { NETWORK_PROTOCOL_SERVER_MAX_STREAMS: '7' });
    expect(r.code).toBe(0);
    const printed = parse(r.stdout) as { server: Record<string, unknown>; client: Record<string, unknown> };
    expect(printed.server['max_connections']).toBe(50);
    expect(printed.server['max_streams']).toBe(7);
    expect(printed.client['response_timeout']).toBe(30000);
    expect(NetworkConfig.fromToml(r.stdout).server.max_streams).toBe(7);
  });

  test('check prints ok for a valid file, exit 0', async () => {
    writeFileSync(join(h.dir, 'ok.toml'), '[server]\naddress = "127.0.0.1:0"\n');
    const r = await h.run(['config', 'check', 'ok.toml']);
    expect(r).toEqual({ code: 0, stdout: 'ok ok.toml\n', stderr: '' });
  });

  test('check lists every problem of an invalid file, exit 2', async () => {
    const text = [
      '[server]',
      'max_connections = 0',
      'bogus_key = 1',
      '[transport]',
      'compression_level = 40',
      '[logging]',
      'log_level = "loud"',
      '[nonsense]',
      'x = 1',
    ].join('\n');
    writeFileSync(join(h.dir, 'bad.toml'), text);
    const r = await h.run(['config', 'check', 'bad.toml']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^error CONFIG_INVALID: .*\(5 problems\)/);
    for (const field of ['server.max_connections', 'server.bogus_key', 'transport.compression_level', 'logging.log_level', 'nonsense']) {
      expect(r.stderr).toContain(`  - ${field}:`);
    }
    expect(r.stderr).toContain('bad.toml:2');
  });

  test('check names a bad environment variable, a missing file and a TOML syntax error (exit 2)', async () => {
    const env = await h.run(['config', 'check'], { NETWORK_PROTOCOL_SERVER_MAX_STREAMS: 'many' });
    expect(env.code).toBe(2);
    expect(env.stderr).toContain('NETWORK_PROTOCOL_SERVER_MAX_STREAMS');
    const missing = await h.run(['config', 'check', 'absent.toml']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/error CONFIG_INVALID: .*\n.*absent\.toml: Failed to read config file: ENOENT/);
    writeFileSync(join(h.dir, 'broken.toml'), '[server\n');
    const broken = await h.run(['config', 'check', '--config', 'broken.toml']);
    expect(broken.code).toBe(2);
    expect(broken.stderr).toMatch(/invalid TOML at line 1/);
  });

  test('check with no file checks the defaults and the environment', async () => {
    const r = await h.run(['config', 'check']);
    expect(r).toEqual({ code: 0, stdout: 'ok (defaults and environment)\n', stderr: '' });
  });
});

describe('npro keygen', () => {
  test('without --out prints a matching public and secret key, with a warning on stderr', async () => {
    const r = await h.run(['keygen']);
    expect(r.code).toBe(0);
    const m = /^public key: ([A-Za-z0-9_-]{43})\nsecret key: ([A-Za-z0-9_-]{43})\n$/.exec(r.stdout);
    expect(m).not.toBeNull();
    const secret = fromBase64Url(m![2]!)!;
    expect(toBase64Url(defaultCrypto.x25519PublicKey(secret))).toBe(m![1]);
    expect(r.stderr).toMatch(/^warning: .*secret key/);
  });

  test('--out writes a 0600 key file matching the printed public key and never overwrites it', async () => {
    const r = await h.run(['keygen', '--out', '.npro/server.key']);
    expect(r.code).toBe(0);
    const path = join(h.dir, '.npro', 'server.key');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const publicKey = /public key: ([A-Za-z0-9_-]{43})/.exec(r.stdout)![1]!;
    const secret = await readKeyFile(path);
    expect(defaultCrypto.x25519PublicKey(secret)).toEqual(parsePublicKey(publicKey));
    expect(r.stdout).not.toContain(toBase64Url(secret));
    expect(r.stderr).toBe('');

    const before = readFileSync(path);
    const again = await h.run(['keygen', '-o', path]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^error KEY_FILE_INSECURE: .*already exists/);
    expect(readFileSync(path)).toEqual(before);
  });

  test('--out into a directory that cannot be created is a runtime error (exit 1)', async () => {
    writeFileSync(join(h.dir, 'file'), 'x');
    mkdirSync(join(h.dir, 'd'));
    const r = await h.run(['keygen', '--out', 'file/key']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error KEY_FILE_INSECURE: key file .*file\/key cannot be created/);
  });
});

describe('npro bench', () => {
  test('passes its arguments to the benchmark runner and exits with its code', async () => {
    const r = await h.run(['bench', 'no-such-group']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown group "no-such-group"');
  });
});
