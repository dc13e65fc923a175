import { NproError } from '../../src/core/errors.js';
import { formatEndpoint, MAX_UNIX_PATH_BYTES, parseEndpoint, type Endpoint } from '../../src/transport/index.js';

function invalid(input: string): NproError {
  try {
    parseEndpoint(input);
  } catch (err) {
    if (NproError.is(err)) return err;
    throw err;
  }
  throw new Error(`${input} parsed`);
}

describe('parseEndpoint', () => {
  const valid: Array<[string, Endpoint, string]> = [
    ['tcp://127.0.0.1:9000', { transport: 'tcp', host: '127.0.0.1', port: 9000 }, 'tcp://127.0.0.1:9000'],
    ['127.0.0.1:9000', { transport: 'tcp', host: '127.0.0.1', port: 9000 }, 'tcp://127.0.0.1:9000'],
    ['localhost:0', { transport: 'tcp', host: 'localhost', port: 0 }, 'tcp://localhost:0'],
    ['[::1]:9000', { transport: 'tcp', host: '::1', port: 9000 }, 'tcp://[::1]:9000'],
    ['tcp://[::]:65535', { transport: 'tcp', host: '::', port: 65535 }, 'tcp://[::]:65535'],
    ['TCP://Example.COM:80', { transport: 'tcp', host: 'Example.COM', port: 80 }, 'tcp://Example.COM:80'],
    ['tcp://my-host.internal.:1', { transport: 'tcp', host: 'my-host.internal.', port: 1 }, 'tcp://my-host.internal.:1'],
    ['tls://localhost:9443', { transport: 'tls', host: 'localhost', port: 9443 }, 'tls://localhost:9443'],
    ['tls://[::1]:9443', { transport: 'tls', host: '::1', port: 9443 }, 'tls://[::1]:9443'],
    ['unix:///run/npro.sock', { transport: 'unix', path: '/run/npro.sock', abstract: false }, 'unix:///run/npro.sock'],
    ['unix://@npro-daemon', { transport: 'unix', path: 'npro-daemon', abstract: true }, 'unix://@npro-daemon'],
    ['unix:///tmp/with space.sock', { transport: 'unix', path: '/tmp/with space.sock', abstract: false }, 'unix:///tmp/with space.sock'],
    ['ws://127.0.0.1:8080/npro', { transport: 'ws', host: '127.0.0.1', port: 8080, path: '/npro' }, 'ws://127.0.0.1:8080/npro'],
    ['ws://localhost', { transport: 'ws', host: 'localhost', port: 80, path: '/' }, 'ws://localhost:80/'],
    ['wss://example.com/a/b', { transport: 'wss', host: 'example.com', port: 443, path: '/a/b' }, 'wss://example.com:443/a/b'],
  ];

  test.each(valid)('%s', (input, endpoint, canonical) => {
    expect(parseEndpoint(input)).toEqual(endpoint);
    expect(formatEndpoint(endpoint)).toBe(canonical);
    expect(parseEndpoint(canonical)).toEqual(endpoint);
  });

  const bad = [
    '',
    'localhost',
    '9000',
    ':9000',
    'tcp://:9000',
    'tcp://host',
    'tcp://host:',
    'tcp://host:65536',
    'tcp://host:-1',
    'tcp://host:9x',
    'tcp://host:9000/path',
    '::1:9000',
    '[::1:9000',
    '[not-v6]:9000',
    'tcp://bad_host!:1',
    'tcp://-leading-dash:1',
    'http://host:80',
    'unix://relative/path',
    'unix://',
    'unix://@',
    'unix:///tmp/nul\0byte',
    'host/path:9000',
  ];

  test.each(bad)('refuses %j with CONFIG_INVALID naming it', (input) => {
    const err = invalid(input);
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.message).toContain(JSON.stringify(input));
    expect(err.details?.['endpoint']).toBe(input);
  });

  test('Unix paths up to 107 bytes are accepted, longer ones refused (never truncated)', () => {
    const dir = '/tmp/';
    const exact = dir + 'x'.repeat(MAX_UNIX_PATH_BYTES - dir.length);
    expect(Buffer.byteLength(exact)).toBe(107);
    expect(parseEndpoint(`unix://${exact}`)).toEqual({ transport: 'unix', path: exact, abstract: false });
    const err = invalid(`unix://${exact}y`);
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.message).toContain('108 bytes');
  });

  test('the limit counts UTF-8 bytes, not characters', () => {
    const path = '/tmp/' + 'é'.repeat(52); // 5 + 104 bytes
    expect(path.length).toBeLessThan(107);
    expect(invalid(`unix://${path}`).code).toBe('CONFIG_INVALID');
  });

  test('abstract names have the same 107-byte limit', () => {
    expect(parseEndpoint(`unix://@${'a'.repeat(107)}`)).toMatchObject({ abstract: true });
    expect(invalid(`unix://@${'a'.repeat(108)}`).code).toBe('CONFIG_INVALID');
  });
});
