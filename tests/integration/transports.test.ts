/**
 * The same conversation over every socket transport (protocol.md §8): TCP over IPv4 and IPv6, Unix
 * socket paths and abstract names; many requests in flight on one connection, pings, close.
 */
import { join } from 'node:path';
import { Dispatcher } from '../../src/protocol/dispatcher.js';
import { Resources, text } from '../helpers/service.js';

const r = new Resources();
afterEach(() => r.closeAll());

const endpoints: [string, () => string][] = [
  ['tcp over IPv4', () => 'tcp://127.0.0.1:0'],
  ['tcp over IPv6', () => 'tcp://[::1]:0'],
  ['a Unix socket path', () => `unix://${join(r.dir, 'd.sock')}`],
  ['an abstract Unix socket', () => `unix://@npro-it-${process.pid}-${Date.now()}`],
];

describe.each(endpoints)('%s', (_name, endpoint) => {
  test('requests multiplexed on one connection, in any order, each answered once', async () => {
    const dispatcher = new Dispatcher().register('DELAY', async (p) => {
      await new Promise((resolve) => setTimeout(resolve, p[0]!));
      return p;
    });
    const daemon = await r.daemon({ dispatcher, listen: [endpoint()] });
    const client = await r.client(daemon);
    expect(text(await client.request('ECHO', 'hi'))).toBe('hi');
    const delays = Array.from({ length: 300 }, (_, i) => (i * 37) % 20);
    const replies = await Promise.all(delays.map((d) => client.request('DELAY', new Uint8Array([d, 1, 2]))));
    expect(replies.map((b) => b[0])).toEqual(delays);
    expect(await client.ping()).toBeGreaterThanOrEqual(0);
    expect(daemon.stats().requests).toBe(301);
    await client.close();
    expect(client.connected).toBe(false);
  });
});
