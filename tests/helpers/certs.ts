/**
 * TLS material for tests, made once per test file with `src/utils/certs.ts`: a CA, a server
 * certificate for every loopback name, a client certificate, an expired server certificate and a
 * second, untrusted CA with its own server and client certificates.
 */
import { createCertificate, createCertificateAuthority, type CertificateAndKey } from '../../src/utils/certs.js';

export interface TlsFixture {
  ca: CertificateAndKey;
  /** For `localhost`, `127.0.0.1` and `::1`, signed by `ca`. */
  server: CertificateAndKey;
  /** A client certificate signed by `ca`. */
  client: CertificateAndKey;
  /** Like `server`, but expired yesterday. */
  expired: CertificateAndKey;
  /** A CA nobody trusts, and leaves it signed. */
  otherCa: CertificateAndKey;
  otherServer: CertificateAndKey;
  otherClient: CertificateAndKey;
}

export const LOOPBACK_HOSTS = ['localhost', '127.0.0.1', '::1'];

let made: Promise<TlsFixture> | undefined;

async function make(): Promise<TlsFixture> {
  const day = 86_400_000;
  const [ca, otherCa] = await Promise.all([
    createCertificateAuthority({ commonName: 'npro test CA' }),
    createCertificateAuthority({ commonName: 'untrusted test CA' }),
  ]);
  const [server, client, expired, otherServer, otherClient] = await Promise.all([
    createCertificate({ ca, hosts: LOOPBACK_HOSTS, days: 30 }),
    createCertificate({ ca, hosts: ['test-client'], client: true, days: 30 }),
    createCertificate({
      ca,
      hosts: LOOPBACK_HOSTS,
      notBefore: new Date(Date.now() - 10 * day),
      notAfter: new Date(Date.now() - day),
    }),
    createCertificate({ ca: otherCa, hosts: LOOPBACK_HOSTS, days: 30 }),
    createCertificate({ ca: otherCa, hosts: ['test-client'], client: true, days: 30 }),
  ]);
  return { ca, server, client, expired, otherCa, otherServer, otherClient };
}

/** The fixture of this test file (made on first call). */
export function tlsFixture(): Promise<TlsFixture> {
  made ??= make();
  return made;
}
