/**
 * One compliance suite for every transport (style habit 9): each transport's test file calls
 * `runTransportCompliance` with a factory that gives a fresh endpoint and its options.
 */
import { createHash, randomBytes } from 'node:crypto';
import { NproError } from '../../src/core/errors.js';
import {
  connect,
  formatEndpoint,
  listen,
  parseEndpoint,
  type ConnectOptions,
  type Connection,
  type ListenOptions,
  type Listener,
  type TransportName,
} from '../../src/transport/index.js';
import { nextConnection, Peer, rejection, Resources, sleep, within, writeAll } from './harness.js';

export interface TransportSetup {
  /** Where to listen (port 0 or a fresh path). */
  listenUrl: string;
  listenOptions?: ListenOptions;
  connectOptions?: ConnectOptions;
  /** What connections must report. */
  transport: TransportName;
  protected: boolean;
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

export function runTransportCompliance(name: string, factory: () => TransportSetup | Promise<TransportSetup>): void {
  describe(`transport compliance: ${name}`, () => {
    let setup: TransportSetup;
    let res: Resources;

    beforeEach(async () => {
      setup = await factory();
      res = new Resources();
      res.start();
    });

    afterEach(async () => {
      expect(await res.cleanup()).toEqual({});
    });

    const start = async (): Promise<Listener> => res.listener(await listen(setup.listenUrl, setup.listenOptions));
    const dial = async (l: Listener, options: ConnectOptions = {}): Promise<Connection> =>
      res.connection(await connect(l.url, { ...setup.connectOptions, ...options }));
    /** A connected pair: [client, server], both with recording handlers. */
    const pair = async (l: Listener): Promise<[Peer, Peer]> => {
      const accepted = nextConnection(l);
      const client = new Peer(await dial(l));
      const server = new Peer(res.connection(await accepted));
      return [client, server];
    };

    test('connects and carries bytes both ways', async () => {
      const l = await start();
      const [client, server] = await pair(l);
      for (const p of [client, server]) {
        expect(p.conn.transport).toBe(setup.transport);
        expect(p.conn.protected).toBe(setup.protected);
        expect(p.conn.remoteAddress).not.toBe('');
        expect(p.conn.localAddress).not.toBe('');
        expect(p.conn.tls === undefined).toBe(setup.transport !== 'tls');
      }
      expect(client.conn.write(Buffer.from('hello'))).toBe(true);
      await server.waitFor(5);
      expect(server.text()).toBe('hello');
      server.conn.write(new TextEncoder().encode('world'));
      await client.waitFor(5);
      expect(client.text()).toBe('world');
      expect(client.errors).toEqual([]);
      expect(server.errors).toEqual([]);
    });

    test('8 MiB each way arrive intact', async () => {
      const l = await start();
      const [client, server] = await pair(l);
      const up = randomBytes(8 << 20);
      const down = randomBytes(8 << 20);
      await Promise.all([writeAll(client, up), writeAll(server, down)]);
      await Promise.all([server.waitFor(up.length, 15_000), client.waitFor(down.length, 15_000)]);
      expect(server.received).toBe(up.length);
      expect(client.received).toBe(down.length);
      expect(sha256(server.bytes())).toBe(sha256(up));
      expect(sha256(client.bytes())).toBe(sha256(down));
    });

    test('many small writes coalesce and split freely but arrive in order', async () => {
      const l = await start();
      const [client, server] = await pair(l);
      const pieces: Buffer[] = [];
      for (let i = 0; i < 5000; i++) pieces.push(Buffer.from(`${i},`.repeat((i % 7) + 1)));
      let writes = 0;
      for (let i = 0; i < pieces.length; i += 10) {
        if (i % 20 === 0) {
          client.conn.writev(pieces.slice(i, i + 10));
          writes += 1;
        } else {
          for (const p of pieces.slice(i, i + 10)) client.conn.write(p);
          writes += 10;
        }
      }
      const expected = Buffer.concat(pieces);
      await server.waitFor(expected.length);
      expect(server.bytes().equals(expected)).toBe(true);
      expect(server.dataCalls).toBeLessThan(writes);
    });

    test('write() returns false above the high-water mark and drain follows once the reader resumes', async () => {
      const l = await start();
      const accepted = nextConnection(l);
      const client = new Peer(await dial(l), { keep: false });
      const serverConn = res.connection(await accepted);
      serverConn.pause();
      const server = new Peer(serverConn, { keep: false });
      const chunk = Buffer.alloc(1 << 20, 0x5a);
      let written = 0;
      let full = false;
      for (let i = 0; i < 64 && !full; i++) {
        full = !client.conn.write(chunk);
        written += chunk.length;
      }
      expect(full).toBe(true);
      expect(client.conn.writableLength).toBeGreaterThan(0);
      const drained = client.waitForDrain(10_000);
      server.conn.resume();
      await drained;
      expect(client.drains).toBe(1);
      await server.waitFor(written, 10_000);
      expect(server.received).toBe(written);
    });

    test('pause() stops data callbacks until resume()', async () => {
      const l = await start();
      const [client, server] = await pair(l);
      server.conn.pause();
      client.conn.write(Buffer.from('abc'));
      await sleep(100);
      expect(server.dataCalls).toBe(0);
      server.conn.resume();
      await server.waitFor(3);
      expect(server.text()).toBe('abc');
    });

    test('data written before setHandlers() is delivered once handlers are set', async () => {
      const l = await start();
      const accepted = nextConnection(l);
      const client = new Peer(await dial(l));
      const serverConn = res.connection(await accepted);
      client.conn.write(Buffer.from('early bytes'));
      await sleep(50);
      const server = new Peer(serverConn);
      await server.waitFor(11);
      expect(server.text()).toBe('early bytes');
      expect(client.errors).toEqual([]);
    });

    test('half-close: after end() the peer sees end, still writes back, and we receive it', async () => {
      const l = await start();
      const [client, server] = await pair(l);
      client.conn.write(Buffer.from('request'));
      client.conn.end();
      await within(server.ended, 5000, 'server end');
      expect(server.text()).toBe('request');
      expect(server.conn.write(Buffer.from('reply after FIN'))).toBe(true);
      await client.waitFor(15);
      expect(client.text()).toBe('reply after FIN');
      expect(client.endSeen).toBe(false);
      server.conn.end();
      await within(client.ended, 5000, 'client end');
      expect(await within(client.closed, 5000, 'client close')).toBe(false);
      expect(await within(server.closed, 5000, 'server close')).toBe(false);
      expect([client.closeCalls, server.closeCalls]).toEqual([1, 1]);
      expect(() => client.conn.write(Buffer.from('x'))).not.toThrow();
    });

    test('write after our own end() throws INVALID_STATE; after close it is discarded', async () => {
      const l = await start();
      const [client, server] = await pair(l);
      client.conn.end();
      expect(() => client.conn.write(Buffer.from('late'))).toThrow(expect.objectContaining({ code: 'INVALID_STATE' }));
      server.conn.destroy();
      await within(client.closed, 5000, 'client close');
      expect(client.conn.write(Buffer.from('after close'))).toBe(true);
      expect(server.received).toBe(0);
    });

    test('destroy() closes at once; the peer sees end, and its later writes fail with CONNECTION_CLOSED', async () => {
      const l = await start();
      const [client, server] = await pair(l);
      client.conn.destroy(new Error('going away'));
      expect(await within(client.closed, 5000, 'client close')).toBe(true);
      expect(client.closeCalls).toBe(1);
      expect(client.errors).toEqual([]);
      await within(server.ended, 5000, 'server end');
      for (let i = 0; i < 100 && server.closeSeen === null; i++) {
        server.conn.write(Buffer.from('anyone there?'));
        await sleep(10);
      }
      expect(await within(server.closed, 5000, 'server close')).toBe(true);
      expect(server.errors.map((e) => e.code)).toEqual(['CONNECTION_CLOSED']);
      expect(['ECONNRESET', 'EPIPE']).toContain(server.errors[0]!.details?.['systemCode']);
      expect(server.closeCalls).toBe(1);
    });

    test('a close that happens before setHandlers() is delivered after it', async () => {
      const l = await start();
      const accepted = nextConnection(l);
      await dial(l);
      const serverConn = res.connection(await accepted);
      serverConn.destroy();
      await sleep(30);
      const server = new Peer(serverConn);
      expect(await within(server.closed, 5000, 'late close')).toBe(false);
    });

    test('a throwing data handler closes that connection with CONNECTION_CLOSED, not the process', async () => {
      const l = await start();
      const [client, server] = await pair(l);
      server.onData = () => {
        throw new Error('handler bug');
      };
      client.conn.write(Buffer.from('boom'));
      expect(await within(server.closed, 5000, 'server close')).toBe(true);
      expect(server.errors.map((e) => [e.code, e.details?.['reason']])).toEqual([['CONNECTION_CLOSED', 'handler-threw']]);
      await within(client.ended, 5000, 'client end');
    });

    test('connect to a closed endpoint fails with CONNECT_FAILED (retryable)', async () => {
      const l = await start();
      const url = l.url;
      await l.close();
      const err = await rejection(connect(url, setup.connectOptions));
      expect(err.code).toBe('CONNECT_FAILED');
      expect(err.retryable).toBe(true);
      expect(err.cause).toBeDefined();
    });

    test('an aborted signal stops connecting with CONNECT_FAILED (aborted)', async () => {
      const l = await start();
      const before = new AbortController();
      before.abort();
      const first = await rejection(connect(l.url, { ...setup.connectOptions, signal: before.signal }));
      expect([first.code, first.details?.['reason'], first.retryable]).toEqual(['CONNECT_FAILED', 'aborted', false]);
      const during = new AbortController();
      const pending = connect(l.url, { ...setup.connectOptions, signal: during.signal });
      during.abort(new Error('user cancelled'));
      const second = await rejection(pending);
      expect([second.code, second.details?.['reason']]).toEqual(['CONNECT_FAILED', 'aborted']);
    });

    test('a second bind of the same endpoint fails with ADDRESS_IN_USE', async () => {
      const l = await start();
      const served: Peer[] = [];
      l.onConnection((c) => served.push(new Peer(res.connection(c))));
      const err = await rejection(listen(l.url, setup.listenOptions));
      expect(err.code).toBe('ADDRESS_IN_USE');
      const client = new Peer(await dial(l));
      client.conn.write(Buffer.from('still served'));
      for (let i = 0; i < 200 && !served.some((p) => p.text() === 'still served'); i++) await sleep(5);
      expect(served.map((p) => p.text())).toContain('still served');
    });

    test('close() stops accepting, leaves handed-out connections working, and is idempotent', async () => {
      const l = await start();
      const [client, server] = await pair(l);
      await Promise.all([l.close(), l.close()]);
      const err = await rejection(connect(l.url, setup.connectOptions));
      expect(err.code).toBe('CONNECT_FAILED');
      client.conn.write(Buffer.from('after listener close'));
      await server.waitFor(20);
      expect(server.text()).toBe('after listener close');
    });

    test('pause() holds new connections until resume()', async () => {
      const l = await start();
      const handedOut: Connection[] = [];
      l.onConnection((c) => handedOut.push(res.connection(c)));
      l.pause();
      const client = new Peer(await dial(l));
      client.conn.write(Buffer.from('waiting'));
      await sleep(100);
      expect(handedOut).toHaveLength(0);
      l.resume();
      for (let i = 0; i < 200 && handedOut.length === 0; i++) await sleep(5);
      expect(handedOut).toHaveLength(1);
      const server = new Peer(handedOut[0]!);
      await server.waitFor(7);
      expect(server.text()).toBe('waiting');
    });

    test('100 concurrent connections are all served', async () => {
      const l = await start();
      l.onConnection((c) => {
        const p = new Peer(res.connection(c), { keep: false });
        p.onData = (chunk) => p.conn.write(chunk);
      });
      const clients = await Promise.all(
        Array.from({ length: 100 }, async (_, i) => {
          const p = new Peer(await dial(l));
          p.conn.write(Buffer.from(`client-${i.toString().padStart(3, '0')}`));
          return p;
        }),
      );
      await Promise.all(clients.map((p) => p.waitFor(10, 10_000)));
      expect(clients.map((p) => p.text())).toEqual(clients.map((_, i) => `client-${i.toString().padStart(3, '0')}`));
    });

    test('the listener url round-trips through parseEndpoint', async () => {
      const l = await start();
      expect(parseEndpoint(l.url)).toEqual(l.endpoint);
      expect(formatEndpoint(parseEndpoint(l.url))).toBe(l.url);
      expect(l.endpoint.transport).toBe(setup.transport);
      expect(NproError.is(await rejection(listen(l.url, setup.listenOptions)), 'ADDRESS_IN_USE')).toBe(true);
    });
  });
}
