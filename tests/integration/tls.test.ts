/**
 * npro over TLS (behaviour.md §3 `[tls]`, §4 TLS; protocol.md §6, §8): certificates from `tls.*`,
 * the certificate authenticating the server (trust unset → any), plaintext records inside TLS, and a
 * distinct `TLS_ERROR` for each failure, within the handshake timeout.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import tls from 'node:tls';
import type { NproError } from '../../src/core/errors.js';
import type { Daemon, SessionErrorEvent } from '../../src/service/daemon.js';
import { tlsFixture, type TlsFixture } from '../helpers/certs.js';
import { Resources, rejection, text, until } from '../helpers/service.js';

const r = new Resources();
afterEach(() => r.closeAll());

let fx: TlsFixture;
beforeAll(async () => {
  fx = await tlsFixture();
}, 20_000);

/** Writes PEM files into the test directory and returns their paths. */
function pemFiles(): { cert: string; key: string; ca: string; otherCa: string; clientCert: string; clientKey: string; expiredCert: string; expiredKey: string } {
  const write = (name: string, content: string): string => {
    const path = join(r.dir, name);
    writeFileSync(path, content, { mode: 0o600 });
    return path;
  };
  return {
    cert: write('server.pem', fx.server.cert),
    key: write('server-key.pem', fx.server.key),
    ca: write('ca.pem', fx.ca.cert),
    otherCa: write('other-ca.pem', fx.otherCa.cert),
    clientCert: write('client.pem', fx.client.cert),
    clientKey: write('client-key.pem', fx.client.key),
    expiredCert: write('expired.pem', fx.expired.cert),
    expiredKey: write('expired-key.pem', fx.expired.key),
  };
}

async function tlsDaemon(extra: Record<string, unknown> = {}, files = pemFiles()): Promise<Daemon> {
  return r.daemon({
    listen: ['tls://127.0.0.1:0'],
    config: { tls: { cert_file: files.cert, key_file: files.key, ...extra }, server: { connection_timeout: 2000 } },
  });
}

const noRetry = { auto_reconnect: false, connection_timeout: 2000 } as const;

describe('TLS', () => {
  test('tls.cert_file / key_file / ca_file: the certificate authenticates the server; records are plaintext inside TLS', async () => {
    const files = pemFiles();
    const daemon = await tlsDaemon({}, files);
    const client = await r.client(daemon.addresses[0]!, { config: { tls: { ca_file: files.ca } } });
    expect(client.serverPublicKey).toBe(daemon.publicKey);
    expect(client.encrypted).toBe(false);
    expect(text(await client.request('ECHO', 'over tls'))).toBe('over tls');
    const sealed = await r.client(daemon.addresses[0]!, { config: { tls: { ca_file: files.ca }, transport: { encryption_enabled: true } } });
    expect(sealed.encrypted).toBe(true);
    expect(text(await sealed.request('ECHO', 'both'))).toBe('both');
  });

  test('unknown CA, expired certificate, wrong host name → distinct TLS_ERROR reasons, fast', async () => {
    const files = pemFiles();
    const daemon = await tlsDaemon({}, files);
    const expired = await tlsDaemon({ cert_file: files.expiredCert, key_file: files.expiredKey }, files);
    const cases: [Daemon, Record<string, unknown>, string][] = [
      [daemon, { ca_file: files.otherCa }, 'unknown-ca'],
      [expired, { ca_file: files.ca }, 'expired'],
      [daemon, { ca_file: files.ca, server_name: 'wrong.example' }, 'hostname-mismatch'],
    ];
    for (const [d, t, reason] of cases) {
      const t0 = Date.now();
      const err = await rejection(r.client(d.addresses[0]!, { config: { tls: t, client: noRetry } }));
      expect(err.code).toBe('TLS_ERROR');
      expect(err.details?.['reason']).toBe(reason);
      expect(Date.now() - t0).toBeLessThan(2000);
    }
    const named = await r.client(daemon.addresses[0]!, { config: { tls: { ca_file: files.ca, server_name: 'localhost' } } });
    expect(text(await named.request('ECHO', 'named'))).toBe('named');
  });

  test('a plaintext peer on the TLS port, or TLS to a plain port → a clean error within the timeout', async () => {
    const files = pemFiles();
    const daemon = await tlsDaemon({}, files);
    const errors: SessionErrorEvent[] = [];
    daemon.on('session-error', (e) => errors.push(e));
    const port = daemon.addresses[0]!.split(':').pop();
    const t0 = Date.now();
    const plain = await rejection(r.client(`tcp://127.0.0.1:${port}`, { trust: 'any', config: { client: noRetry } }));
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(plain.code).toBe('CONNECTION_CLOSED');
    await until(() => errors.length > 0);
    expect(errors[0]).toEqual(expect.objectContaining({ code: 'TLS_ERROR' }));
    expect((errors[0]!.error as NproError).details?.['reason']).toBe('not-tls');
    const plainDaemon = await r.daemon();
    const t1 = Date.now();
    const wrong = await rejection(r.client(plainDaemon.addresses[0]!.replace('tcp://', 'tls://'), { config: { tls: { ca_file: files.ca }, client: noRetry } }));
    expect(wrong.code).toBe('TLS_ERROR');
    expect(Date.now() - t1).toBeLessThan(2000);
  });

  test('tls.verify_client: a client without a certificate is refused; with one it is served', async () => {
    const files = pemFiles();
    const daemon = await tlsDaemon({ verify_client: true, ca_file: files.ca }, files);
    const err = await rejection(
      r.client(daemon.addresses[0]!, { config: { tls: { ca_file: files.ca }, client: noRetry } }).then((c) => c.request('ECHO', 'x')),
    );
    expect(err.code).toBe('TLS_ERROR');
    expect(err.details?.['reason']).toBe('client-certificate');
    const ok = await r.client(daemon.addresses[0]!, { config: { tls: { ca_file: files.ca, cert_file: files.clientCert, key_file: files.clientKey } } });
    expect(text(await ok.request('ECHO', 'mtls'))).toBe('mtls');
  });

  test('tls.min_version: a daemon at TLSv1.3 refuses a TLS 1.2 client', async () => {
    const files = pemFiles();
    const daemon = await tlsDaemon({ min_version: 'TLSv1.3' }, files);
    const port = Number(daemon.addresses[0]!.split(':').pop());
    const outcome = await new Promise<string>((resolve) => {
      const socket = tls.connect({ host: '127.0.0.1', port, ca: fx.ca.cert, servername: 'localhost', maxVersion: 'TLSv1.2' });
      socket.once('secureConnect', () => {
        socket.destroy();
        resolve('connected');
      });
      socket.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    });
    expect(outcome).not.toBe('connected');
    const client = await r.client(daemon.addresses[0]!, { config: { tls: { ca_file: files.ca } } });
    expect(text(await client.request('ECHO', '1.3'))).toBe('1.3');
  });
});
