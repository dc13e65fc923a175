import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { createCertificate, createCertificateAuthority } from '../../src/utils/certs.js';

const DAY = 86_400_000;

describe('createCertificateAuthority', () => {
  test('makes a self-signed CA certificate with an ECDSA P-256 PKCS#8 key', async () => {
    const ca = await createCertificateAuthority({ commonName: 'npro dev CA, "quoted"', days: 10 });
    const cert = new X509Certificate(ca.cert);
    expect(cert.ca).toBe(true);
    expect(cert.subject).toBe(cert.issuer);
    expect(cert.subject).toContain('npro dev CA');
    expect(cert.verify(cert.publicKey)).toBe(true);
    const validity = Date.parse(cert.validTo) - Date.now();
    expect(validity).toBeGreaterThan(9 * DAY);
    expect(validity).toBeLessThan(11 * DAY);
    expect(ca.key).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    const key = createPrivateKey(ca.key);
    expect(key.asymmetricKeyType).toBe('ec');
    expect(key.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(createPublicKey(key).export({ format: 'der', type: 'spki' })).toEqual(
      cert.publicKey.export({ format: 'der', type: 'spki' }),
    );
  });
});

describe('createCertificate', () => {
  test('a CA-signed server certificate names its hosts as DNS and IP SANs', async () => {
    const ca = await createCertificateAuthority({ commonName: 'test CA' });
    const leaf = await createCertificate({ ca, hosts: ['localhost', '127.0.0.1', '::1'], days: 5 });
    const cert = new X509Certificate(leaf.cert);
    const caCert = new X509Certificate(ca.cert);
    expect(cert.ca).toBe(false);
    expect(cert.checkIssued(caCert)).toBe(true);
    expect(cert.verify(caCert.publicKey)).toBe(true);
    expect(cert.checkHost('localhost')).toBe('localhost');
    expect(cert.checkHost('example.com')).toBeUndefined();
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(cert.checkIP('::1')).toBe('::1');
    expect(cert.checkIP('127.0.0.2')).toBeUndefined();
    expect(cert.subject).toContain('CN=localhost');
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
    expect(createPublicKey(createPrivateKey(leaf.key)).export({ format: 'der', type: 'spki' })).toEqual(
      cert.publicKey.export({ format: 'der', type: 'spki' }),
    );
  });

  test('a client certificate carries clientAuth', async () => {
    const ca = await createCertificateAuthority({ commonName: 'test CA' });
    const cert = new X509Certificate((await createCertificate({ ca, hosts: ['client-7'], client: true })).cert);
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']);
    expect(cert.subject).toContain('CN=client-7');
  });

  test('without a CA the certificate is self-signed', async () => {
    const cert = new X509Certificate((await createCertificate({ hosts: ['localhost'] })).cert);
    expect(cert.subject).toBe(cert.issuer);
    expect(cert.verify(cert.publicKey)).toBe(true);
  });

  test('notBefore/notAfter make expired certificates; serial numbers differ', async () => {
    const notBefore = new Date(Date.now() - 10 * DAY);
    const notAfter = new Date(Date.now() - DAY);
    const a = new X509Certificate((await createCertificate({ hosts: ['x'], notBefore, notAfter })).cert);
    const b = new X509Certificate((await createCertificate({ hosts: ['x'], notBefore, notAfter })).cert);
    expect(Date.parse(a.validTo)).toBeLessThan(Date.now());
    expect(Math.abs(Date.parse(a.validTo) - notAfter.getTime())).toBeLessThan(1000);
    expect(a.serialNumber).not.toBe(b.serialNumber);
  });

  test('bad arguments are refused', async () => {
    await expect(createCertificate({ hosts: [] })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(createCertificate({ hosts: ['x'], days: 0 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(
      createCertificate({ hosts: ['x'], notBefore: new Date(), notAfter: new Date(Date.now() - DAY) }),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(
      createCertificate({ hosts: ['x'], ca: { cert: 'not a cert', key: 'not a key' } }),
    ).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });
});
