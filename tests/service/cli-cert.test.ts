/**
 * `npro cert` (behaviour.md §2): the files it writes are accepted by node:tls (a server with the
 * server certificate, a client trusting the CA; mTLS with the client certificate), keys are 0600,
 * and nothing is overwritten.
 */
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, createServer, type TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { main } from '../../src/service/cli/main.js';
import { harness, waitForText, type Harness } from './cli-harness.js';

let h: Harness;
beforeEach(() => {
  h = harness('npro-cert-');
});
afterEach(() => h.cleanup());

const read = (dir: string, name: string) => readFileSync(join(dir, name), 'utf8');

interface Handshake {
  authorized: boolean;
  error?: string;
  serverSawClientCert: boolean;
}

/** A TLS server on 127.0.0.1 with `server`, one connection from a client with `client`; what each side saw. */
async function handshake(
  server: { cert: string; key: string; ca?: string; requestCert?: boolean },
  client: { ca: string; servername: string; cert?: string; key?: string },
): Promise<Handshake> {
  let serverSawClientCert = false;
  const srv = createServer({ ...server, rejectUnauthorized: server.requestCert === true }, (socket) => {
    serverSawClientCert = socket.authorized && socket.getPeerCertificate().subject !== undefined;
    socket.end('ok');
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as AddressInfo;
  try {
    return await new Promise<Handshake>((resolve) => {
      const socket: TLSSocket = connect({ host: '127.0.0.1', port, ...client, rejectUnauthorized: false }, () => {
        const error = socket.authorizationError === null ? undefined : String(socket.authorizationError);
        socket.once('data', () => {
          socket.end();
          resolve({ authorized: socket.authorized, serverSawClientCert, ...(error === undefined ? {} : { error }) });
        });
      });
      socket.once('error', (err) => resolve({ authorized: false, error: err.message, serverSawClientCert }));
    });
  } finally {
    await new Promise((resolve) => srv.close(resolve));
  }
}

describe('npro cert', () => {
  test('makes a CA and a server certificate that node:tls accepts; keys are 0600', async () => {
    const r = await h.run(['cert', '--host', 'localhost', '--host', '127.0.0.1', '--out', 'certs']);
    expect(r.code).toBe(0);
    const dir = join(h.dir, 'certs');
    for (const name of ['ca.pem', 'ca.key', 'server.pem', 'server.key']) expect(r.stdout).toContain(`wrote ${join(dir, name)}`);
    expect(statSync(join(dir, 'ca.key')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'server.key')).mode & 0o777).toBe(0o600);
    expect(r.stdout).toContain(`cert_file = ${JSON.stringify(join(dir, 'server.pem'))}`);
    expect(r.stdout).toContain(`ca_file = ${JSON.stringify(join(dir, 'ca.pem'))}`);

    const server = { cert: read(dir, 'server.pem'), key: read(dir, 'server.key') };
    const ok = await handshake(server, { ca: read(dir, 'ca.pem'), servername: 'localhost' });
    expect(ok).toEqual({ authorized: true, serverSawClientCert: false });
    // The certificate names exactly the hosts given: another name fails verification.
    const wrongHost = await handshake(server, { ca: read(dir, 'ca.pem'), servername: 'example.com' });
    expect(wrongHost.authorized).toBe(false);
  });

  test('--client adds a client certificate for mTLS, signed by the same CA', async () => {
    const r = await h.run(['cert', '--host', 'localhost', '--out', h.dir, '--client', 'alice', '--days', '30']);
    expect(r.code).toBe(0);
    expect(statSync(join(h.dir, 'client.key')).mode & 0o777).toBe(0o600);
    expect(r.stdout).toContain('verify_client = true');
    const ca = read(h.dir, 'ca.pem');
    const result = await handshake(
      { cert: read(h.dir, 'server.pem'), key: read(h.dir, 'server.key'), ca, requestCert: true },
      { ca, servername: 'localhost', cert: read(h.dir, 'client.pem'), key: read(h.dir, 'client.key') },
    );
    expect(result).toEqual({ authorized: true, serverSawClientCert: true });
  });

  test('--ca signs with an existing authority (a directory, FILE.pem, or CERT,KEY) and writes no new CA', async () => {
    expect((await h.run(['cert', '--host', 'localhost', '--out', 'first'])).code).toBe(0);
    const caDir = join(h.dir, 'first');
    const forms = ['first', join(caDir, 'ca.pem'), `${join(caDir, 'ca.pem')},first/ca.key`];
    for (const [i, ca] of forms.entries()) {
      const r = await h.run(['cert', '--host', 'localhost', '--out', `second-${i}`, '--ca', ca]);
      expect(r.code).toBe(0);
      expect(r.stdout).not.toContain('ca.key');
      const out = join(h.dir, `second-${i}`);
      const result = await handshake({ cert: read(out, 'server.pem'), key: read(out, 'server.key') }, { ca: read(caDir, 'ca.pem'), servername: 'localhost' });
      expect(result.authorized).toBe(true);
    }
  });

  test('--self-signed makes a lone server certificate that a client can trust directly', async () => {
    const r = await h.run(['cert', '--host', '127.0.0.1', '--out', '.', '--self-signed']);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain('ca.pem');
    const cert = read(h.dir, 'server.pem');
    const result = await handshake({ cert, key: read(h.dir, 'server.key') }, { ca: cert, servername: 'localhost' });
    // servername "localhost" does not match the IP-only certificate; an IP connection checks the IP SAN.
    expect(result.authorized).toBe(false);
    const byIp = await handshake({ cert, key: read(h.dir, 'server.key') }, { ca: cert, servername: '' });
    expect(byIp.authorized).toBe(true);
  });

  test('refuses to overwrite existing files (exit 1) and reports a missing or bad --ca', async () => {
    writeFileSync(join(h.dir, 'server.key'), 'precious');
    const r = await h.run(['cert', '--host', 'localhost', '--out', '.']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error INVALID_ARGUMENT: cert: not overwriting existing .*server\.key/);
    expect(readFileSync(join(h.dir, 'server.key'), 'utf8')).toBe('precious');
    expect(() => statSync(join(h.dir, 'ca.pem'))).toThrow();

    const missing = await h.run(['cert', '--host', 'localhost', '--out', 'x', '--ca', 'nowhere']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--ca: .*nowhere does not exist/);
    writeFileSync(join(h.dir, 'bad.pem'), 'not a certificate');
    writeFileSync(join(h.dir, 'bad.key'), 'not a key');
    const bad = await h.run(['cert', '--host', 'localhost', '--out', 'x', '--ca', 'bad.pem']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^error CONFIG_INVALID: the CA certificate or key/);
  });

  test('the printed [tls] lines configure a tls:// daemon and a client that reach each other (mTLS)', async () => {
    const r = await h.run(['cert', '--host', '127.0.0.1', '--out', 'tls', '--client', 'cli-user']);
    expect(r.code).toBe(0);
    const daemonBlock = /# daemon: .*\n(\[tls\]\n(?:.+\n)+)/.exec(r.stdout)![1]!;
    const clientBlock = /# client: .*\n(\[tls\]\n(?:.+\n?)+)/.exec(r.stdout)![1]!;
    writeFileSync(join(h.dir, 'daemon.toml'), daemonBlock);
    writeFileSync(join(h.dir, 'client.toml'), clientBlock);
    const io = h.io();
    const exit = main(['daemon', '--config', 'daemon.toml', '--listen', 'tls://127.0.0.1:0'], io);
    try {
      const url = (await waitForText(io.stdout, /npro daemon listening on (tls:\/\/127\.0\.0\.1:\d+)\n/))[1]!;
      await waitForText(io.stdout, /public key: /);
      expect(await h.run(['call', url, 'ECHO', 'over tls', '--config', 'client.toml'])).toEqual({ code: 0, stdout: 'over tls\n', stderr: '' });
      // Without the client certificate the daemon (verify_client = true) refuses the connection.
      writeFileSync(join(h.dir, 'no-cert.toml'), `[tls]\nca_file = ${JSON.stringify(join(h.dir, 'tls', 'ca.pem'))}\n`);
      const refused = await h.run(['call', url, 'ECHO', 'x', '--config', 'no-cert.toml'], { NETWORK_PROTOCOL_CLIENT_AUTO_RECONNECT: 'false' });
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/^error TLS_ERROR: .*client certificate/);
    } finally {
      h.signals.emit('SIGTERM');
      h.signals.emit('SIGTERM');
    }
    expect(await exit).toBe(0);
  });
});
