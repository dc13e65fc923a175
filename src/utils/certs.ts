/**
 * Development TLS certificates made in-process (no `openssl` CLI): a certificate authority and
 * leaf certificates signed by it, or self-signed leaves. Used by `npro cert` (behaviour.md §2) and
 * by the TLS tests.
 *
 * Keys are ECDSA P-256, signatures ECDSA with SHA-256. Every function returns PEM text:
 * the certificate as `CERTIFICATE`, the private key as PKCS#8 `PRIVATE KEY`, both ready for
 * `node:tls` and for the `tls.cert_file` / `tls.key_file` settings (behaviour.md §3).
 */
import { isIP } from 'node:net';
import { webcrypto } from 'node:crypto';
import type * as X509 from '@peculiar/x509';
import { NproError } from '../core/errors.js';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

let x509Loading: Promise<typeof X509> | undefined;

/**
 * Loads `@peculiar/x509` on first use, so that importing npro does not load it (nor install the
 * `Reflect` metadata polyfill its dependency `tsyringe` requires) unless certificates are made.
 */
function loadX509(): Promise<typeof X509> {
  x509Loading ??= (async () => {
    await import('reflect-metadata');
    const mod = await import('@peculiar/x509');
    mod.cryptoProvider.set(webcrypto);
    return mod;
  })();
  return x509Loading;
}

const KEY_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING_ALGORITHM = { name: 'ECDSA', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;
/** Certificates start one hour in the past so that small clock differences do not matter. */
const CLOCK_SKEW_MS = 3_600_000;

/** A certificate and its private key, both PEM. */
export interface CertificateAndKey {
  /** The certificate, PEM `CERTIFICATE`. */
  cert: string;
  /** The private key, PEM PKCS#8 `PRIVATE KEY`. Keep it out of logs and at mode 0600 on disk. */
  key: string;
}

export interface CertificateAuthorityOptions {
  /** Subject common name of the authority. */
  commonName: string;
  /** Validity in days from now (default 3650). */
  days?: number;
}

export interface CertificateOptions {
  /** The signing authority; a self-signed certificate when absent. */
  ca?: CertificateAndKey;
  /**
   * Host names and IP addresses the certificate is valid for (subjectAltName `DNS:` and `IP:`
   * entries). The first one is also the subject common name. For a client certificate it may be
   * any identifying name.
   */
  hosts: string[];
  /** Validity in days from `notBefore` (default 825). Ignored when `notAfter` is given. */
  days?: number;
  /** Start of validity (default: one hour ago). */
  notBefore?: Date;
  /** End of validity; a date in the past gives an expired certificate (for tests). */
  notAfter?: Date;
  /** A client certificate (extended key usage clientAuth) instead of a server one (serverAuth). */
  client?: boolean;
}

async function generateKeys(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify'])) as CryptoKeyPair;
}

async function exportKeyPem(key: CryptoKey): Promise<string> {
  const x509 = await loadX509();
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(pkcs8, 'PRIVATE KEY');
}

async function importCa(ca: CertificateAndKey): Promise<{ cert: X509.X509Certificate; key: CryptoKey }> {
  const x509 = await loadX509();
  try {
    const cert = new x509.X509Certificate(ca.cert);
    const der = x509.PemConverter.decodeFirst(ca.key);
    const key = (await webcrypto.subtle.importKey('pkcs8', der, KEY_ALGORITHM, false, ['sign'])) as CryptoKey;
    return { cert, key };
  } catch (cause) {
    throw new NproError('CONFIG_INVALID', 'the CA certificate or key is not a PEM ECDSA P-256 pair', { cause });
  }
}

function randomSerial(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = bytes[0]! & 0x7f; // positive INTEGER
  return Buffer.from(bytes).toString('hex');
}

function escapeDn(value: string): string {
  return value.replace(/([,+"\\<>;=#])/g, '\\$1');
}

function subjectAltNames(x509: typeof X509, hosts: string[]): X509.SubjectAlternativeNameExtension {
  const names = hosts.map((h) => ({ type: isIP(h) === 0 ? ('dns' as const) : ('ip' as const), value: h }));
  return new x509.SubjectAlternativeNameExtension(names, false);
}

/** A new certificate authority (self-signed, `CA:TRUE`, may sign certificates). */
export async function createCertificateAuthority(options: CertificateAuthorityOptions): Promise<CertificateAndKey> {
  const days = options.days ?? 3650;
  if (!(days > 0)) throw new NproError('INVALID_ARGUMENT', `certificate days must be positive, got ${days}`);
  const x509 = await loadX509();
  const keys = await generateKeys();
  const notBefore = new Date(Date.now() - CLOCK_SKEW_MS);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: `CN=${escapeDn(options.commonName)}`,
    notBefore,
    notAfter: new Date(notBefore.getTime() + CLOCK_SKEW_MS + days * DAY_MS),
    keys,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert: cert.toString('pem'), key: await exportKeyPem(keys.privateKey) };
}

/**
 * A leaf certificate for `hosts`, signed by `ca` or self-signed. Server certificates carry
 * serverAuth, client certificates clientAuth.
 */
export async function createCertificate(options: CertificateOptions): Promise<CertificateAndKey> {
  if (options.hosts.length === 0) throw new NproError('INVALID_ARGUMENT', 'a certificate needs at least one host');
  const days = options.days ?? 825;
  if (!(days > 0)) throw new NproError('INVALID_ARGUMENT', `certificate days must be positive, got ${days}`);
  const notBefore = options.notBefore ?? new Date(Date.now() - CLOCK_SKEW_MS);
  const notAfter = options.notAfter ?? new Date(notBefore.getTime() + days * DAY_MS);
  if (notAfter.getTime() <= notBefore.getTime()) {
    throw new NproError('INVALID_ARGUMENT', 'certificate notAfter must be later than notBefore');
  }
  const x509 = await loadX509();
  const keys = await generateKeys();
  const subject = `CN=${escapeDn(options.hosts[0]!)}`;
  const usage = options.client === true ? x509.ExtendedKeyUsage.clientAuth : x509.ExtendedKeyUsage.serverAuth;
  const extensions: X509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([usage], false),
    subjectAltNames(x509, options.hosts),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
  ];
  const common = { serialNumber: randomSerial(), notBefore, notAfter, signingAlgorithm: SIGNING_ALGORITHM };
  let cert: X509.X509Certificate;
  if (options.ca === undefined) {
    cert = await x509.X509CertificateGenerator.createSelfSigned({ ...common, name: subject, keys, extensions });
  } else {
    const ca = await importCa(options.ca);
    extensions.push(await x509.AuthorityKeyIdentifierExtension.create(ca.cert.publicKey));
    cert = await x509.X509CertificateGenerator.create({
      ...common,
      subject,
      issuer: ca.cert.subject,
      publicKey: keys.publicKey,
      signingKey: ca.key,
      extensions,
    });
  }
  return { cert: cert.toString('pem'), key: await exportKeyPem(keys.privateKey) };
}
