import net from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NproError } from '../../src/core/errors.js';
import { connect, listen, type ConnectOptions, type Listener, type TlsServerOptions } from '../../src/transport/index.js';
import { createCertificate } from '../../src/utils/certs.js';
import { tlsFixture, type TlsFixture } from '../helpers/certs.js';
import { nextConnection, Peer, rejection, Resources, sleep, within } from '../compliance/harness.js';

let certs: TlsFixture;
let res: Resources;
const rawServers: net.Server[] = [];
const rawSockets = new Set<net.Socket>();

beforeAll(async () => {
  certs = await tlsFixture();
});

beforeEach(() => {
  res = new Resources();
  res.start();
});

afterEach(async () => {
  for (const s of rawSockets) s.destroy();
  rawSockets.clear();
  await Promise.all(rawServers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
  expect(await res.cleanup()).toEqual({});
});

/** Connect deadline for the failure cases: every failure must come well before it. */
const DEADLINE_MS = 3000;

async function tlsListener(tls: Partial<TlsServerOptions> = {}, host = '127.0.0.1'): Promise<Listener & { errors: NproError[] }> {
  const l = res.listener(await listen(`tls://${host}:0`, { tls: { cert: certs.server.cert, key: certs.server.key, ...tls } }));
  const errors: NproError[] = [];
  l.onError((e) => errors.push(e));
  l.onConnection((c) => new Peer(res.connection(c)));
  return Object.assign(l, { errors });
}

/** A plain TCP server with the given behaviour, for peers that are not TLS servers. */
async function rawServer(onSocket: (s: net.Socket) => void): Promise<string> {
  const server = net.createServer((s) => {
    rawSockets.add(s);
    s.on('error', () => {});
    onSocket(s);
  });
  rawServers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `tls://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
}

/**
 * The failure of a connection attempt: connect() rejecting, or (TLS 1.3 client certificate refusal)
 * the first error after it resolved. Also how long it took.
 */
async function failure(url: string, options: ConnectOptions): Promise<{ err: NproError; ms: number }> {
  const t0 = performance.now();
  let conn;
  try {
    conn = res.connection(await connect(url, { timeoutMs: DEADLINE_MS, ...options }));
  } catch (err) {
    if (!NproError.is(err)) throw err;
    return { err, ms: performance.now() - t0 };
  }
  const peer = new Peer(conn);
  await within(peer.closed, DEADLINE_MS, 'the refused connection to close');
  expect(peer.errors.length).toBe(1);
  return { err: peer.errors[0]!, ms: performance.now() - t0 };
}

function expectTlsFailure(result: { err: NproError; ms: number }, reason: string): void {
  expect([result.err.code, result.err.details?.['reason']]).toEqual(['TLS_ERROR', reason]);
  expect(result.ms).toBeLessThan(DEADLINE_MS);
}

describe('server certificate checks', () => {
  test('a certificate from an untrusted CA → unknown-ca', async () => {
    const l = await tlsListener({ cert: certs.otherServer.cert, key: certs.otherServer.key });
    expectTlsFailure(await failure(l.url, { tls: { ca: certs.ca.cert } }), 'unknown-ca');
    expectTlsFailure(await failure(l.url, {}), 'unknown-ca');
  });

  test('an untrusted self-signed certificate → unknown-ca', async () => {
    const self = await createCertificate({ hosts: ['127.0.0.1'] });
    const l = await tlsListener({ cert: self.cert, key: self.key });
    const result = await failure(l.url, { tls: { ca: certs.ca.cert } });
    expectTlsFailure(result, 'unknown-ca');
    expect(result.err.details?.['systemCode']).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
    const trusted = res.connection(await connect(l.url, { tls: { ca: self.cert } }));
    expect(trusted.tls?.authorized).toBe(true);
  });

  test('an expired certificate → expired', async () => {
    const l = await tlsListener({ cert: certs.expired.cert, key: certs.expired.key });
    expectTlsFailure(await failure(l.url, { tls: { ca: certs.ca.cert } }), 'expired');
  });

  test('a certificate for another name → hostname-mismatch', async () => {
    const l = await tlsListener();
    expectTlsFailure(await failure(l.url, { tls: { ca: certs.ca.cert, servername: 'example.com' } }), 'hostname-mismatch');
  });

  test('the host name is checked by default when dialling a name', async () => {
    const l = await tlsListener({}, 'localhost');
    const port = (l.endpoint as { port: number }).port;
    const conn = res.connection(await connect(`tls://localhost:${port}`, { tls: { ca: certs.ca.cert } }));
    expect(conn.tls?.authorized).toBe(true);
    expect(conn.protected).toBe(true);
  });

  test('without verification the connection works but is not protected', async () => {
    const l = await tlsListener({ cert: certs.otherServer.cert, key: certs.otherServer.key });
    const conn = res.connection(await connect(l.url, { tls: { rejectUnauthorized: false } }));
    expect(conn.protected).toBe(false);
    expect(conn.tls?.authorized).toBe(false);
    expect(conn.tls?.authorizationError).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });
});

describe('peers that are not TLS servers', () => {
  test('a plaintext server answering with its own bytes → not-tls', async () => {
    const url = await rawServer((s) => s.end(Buffer.from('4e50524f0200000005', 'hex')));
    expectTlsFailure(await failure(url, {}), 'not-tls');
  });

  test('a plaintext server that echoes the ClientHello → not-tls', async () => {
    const url = await rawServer((s) => s.pipe(s));
    expectTlsFailure(await failure(url, {}), 'not-tls');
  });

  test('a server that hangs up at once → handshake-closed', async () => {
    const url = await rawServer((s) => s.end());
    expectTlsFailure(await failure(url, {}), 'handshake-closed');
  });

  test('a server that never answers the handshake → CONNECT_FAILED timeout, on time', async () => {
    const url = await rawServer(() => {});
    const t0 = performance.now();
    const err = await rejection(connect(url, { timeoutMs: 300 }));
    const ms = performance.now() - t0;
    expect([err.code, err.details?.['reason'], err.retryable]).toEqual(['CONNECT_FAILED', 'timeout', true]);
    expect(ms).toBeGreaterThanOrEqual(290);
    expect(ms).toBeLessThan(DEADLINE_MS);
  });

  test('a plaintext client is reported by the server as not-tls; a silent one as timeout', async () => {
    const l = await tlsListener({ handshakeTimeoutMs: 200 });
    const port = (l.endpoint as { port: number }).port;
    const talker = net.connect(port, '127.0.0.1', () => talker.write('NPRO\x02\x00\x00\x00\x00'));
    const silent = net.connect(port, '127.0.0.1');
    for (const s of [talker, silent]) s.on('error', () => {});
    try {
      for (let i = 0; i < 200 && l.errors.length < 2; i++) await sleep(10);
      expect(l.errors.map((e) => [e.code, e.details?.['reason']]).sort()).toEqual([
        ['TLS_ERROR', 'not-tls'],
        ['TLS_ERROR', 'timeout'],
      ]);
    } finally {
      talker.destroy();
      silent.destroy();
    }
  });
});

describe('mutual TLS', () => {
  const mtls = (): Partial<TlsServerOptions> => ({ ca: certs.ca.cert, verifyClient: true });

  test('a client certificate signed by the CA is accepted and visible to the server', async () => {
    const l = await tlsListener(mtls());
    const accepted = nextConnection(l);
    const client = res.connection(
      await connect(l.url, { tls: { ca: certs.ca.cert, cert: certs.client.cert, key: certs.client.key } }),
    );
    const server = res.connection(await accepted);
    expect(server.tls?.authorized).toBe(true);
    expect(server.tls?.peerCertificate?.subject).toContain('CN=test-client');
    expect(client.tls?.peerCertificate?.subject).toContain('CN=localhost');
    expect(client.tls?.protocol).toBe('TLSv1.3');
    expect(server.protected && client.protected).toBe(true);
  });

  test.each(['TLSv1.3', 'TLSv1.2'] as const)('a missing client certificate → client-certificate (%s)', async (version) => {
    const l = await tlsListener(mtls());
    expectTlsFailure(await failure(l.url, { tls: { ca: certs.ca.cert, maxVersion: version } }), 'client-certificate');
    for (let i = 0; i < 100 && l.errors.length === 0; i++) await sleep(5);
    expect(l.errors.map((e) => e.details?.['reason'])).toEqual(['client-certificate']);
  });

  test('a client certificate from another CA is refused; the server says why', async () => {
    const l = await tlsListener(mtls());
    const options = { tls: { ca: certs.ca.cert, cert: certs.otherClient.cert, key: certs.otherClient.key } };
    const t0 = performance.now();
    try {
      const peer = new Peer(res.connection(await connect(l.url, { timeoutMs: DEADLINE_MS, ...options })));
      await within(peer.ended, DEADLINE_MS, 'the server to hang up');
    } catch (err) {
      expect([(err as NproError).code, (err as NproError).details?.['reason']]).toEqual(['TLS_ERROR', 'handshake-closed']);
    }
    expect(performance.now() - t0).toBeLessThan(DEADLINE_MS);
    for (let i = 0; i < 100 && l.errors.length === 0; i++) await sleep(5);
    expect(l.errors.map((e) => [e.code, e.details?.['reason'], e.details?.['verifyError']])).toEqual([
      ['TLS_ERROR', 'client-certificate', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'],
    ]);
  });
});

describe('versions and options', () => {
  test('minVersion is honoured: a TLSv1.2-only client cannot reach a TLSv1.3-minimum server', async () => {
    const l = await tlsListener({ minVersion: 'TLSv1.3' });
    expectTlsFailure(await failure(l.url, { tls: { ca: certs.ca.cert, maxVersion: 'TLSv1.2' } }), 'protocol-version');
    for (let i = 0; i < 100 && l.errors.length === 0; i++) await sleep(5);
    expect(l.errors.map((e) => e.details?.['reason'])).toEqual(['protocol-version']);
  });

  test('the default minimum TLSv1.2 admits a TLSv1.2 client', async () => {
    const l = await tlsListener();
    const conn = res.connection(await connect(l.url, { tls: { ca: certs.ca.cert, maxVersion: 'TLSv1.2' } }));
    expect(conn.tls?.protocol).toBe('TLSv1.2');
  });

  test('PEM material can be given as file paths or bytes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'npro-tls-'));
    try {
      const file = (name: string, text: string): string => {
        writeFileSync(join(dir, name), text, { mode: 0o600 });
        return join(dir, name);
      };
      const l = await tlsListener({ cert: file('cert.pem', certs.server.cert), key: file('key.pem', certs.server.key) });
      const conn = res.connection(await connect(l.url, { tls: { ca: [Buffer.from(certs.otherCa.cert), file('ca.pem', certs.ca.cert)] } }));
      expect(conn.tls?.authorized).toBe(true);
      const missing = await rejection(connect(l.url, { tls: { ca: join(dir, 'absent.pem') } }));
      expect([missing.code, missing.details?.['file']]).toEqual(['CONFIG_INVALID', join(dir, 'absent.pem')]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('unusable server settings are CONFIG_INVALID', async () => {
    const url = 'tls://127.0.0.1:0';
    const cases: Array<Parameters<typeof listen>[1]> = [
      {},
      { tls: { cert: certs.server.cert, key: certs.server.key, verifyClient: true } },
      { tls: { cert: certs.server.cert, key: certs.client.key } },
      { tls: { cert: certs.server.cert, key: '-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n' } },
    ];
    for (const options of cases) expect((await rejection(listen(url, options))).code).toBe('CONFIG_INVALID');
    const garbage = await rejection(connect('tls://127.0.0.1:1', { tls: { cert: 'x-----BEGIN garbage', key: certs.client.key } }));
    expect(garbage.code).toBe('CONFIG_INVALID');
  });
});
