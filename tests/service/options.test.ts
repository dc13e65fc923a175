/**
 * `resolveConfig`: what `Daemon.start`, `Client.connect` and `ConnectionPool` do with a `config`
 * input (behaviour.md §4 Config): checked, and checked only once while the same object is unchanged.
 */
import { NproError } from '../../src/core/errors.js';
import { resolveConfig } from '../../src/service/options.js';

describe('resolveConfig', () => {
  it('resolves an input once and reuses the result while the object is unchanged', () => {
    const input = { client: { response_timeout: 1234 } };
    const first = resolveConfig(input);
    expect(first.client.response_timeout).toBe(1234);
    expect(first.server.max_connections).toBeGreaterThan(0);
    expect(resolveConfig(input)).toBe(first);
  });

  it('checks a changed object again', () => {
    const input: { client: { response_timeout: number | string } } = { client: { response_timeout: 1234 } };
    const first = resolveConfig(input);
    input.client.response_timeout = 4321;
    const second = resolveConfig(input);
    expect(second).not.toBe(first);
    expect(second.client.response_timeout).toBe(4321);
    input.client.response_timeout = 'soon';
    expect(() => resolveConfig(input)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
  });

  it('refuses an invalid input on every call (nothing invalid is remembered)', () => {
    const input = { server: { max_connections: -1 } };
    for (let i = 0; i < 2; i++) {
      let err: unknown;
      try {
        resolveConfig(input);
      } catch (e) {
        err = e;
      }
      expect(NproError.is(err, 'CONFIG_INVALID')).toBe(true);
      expect((err as NproError).message).toContain('server.max_connections');
    }
  });

  it('gives fresh defaults when there is no input', () => {
    const a = resolveConfig(undefined);
    const b = resolveConfig(undefined);
    expect(a).toEqual(b);
    expect(a).not.toBe(b);
  });
});
