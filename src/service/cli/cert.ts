/**
 * `npro cert` (behaviour.md §2): development TLS certificates for `tls://` endpoints, made in
 * Node by src/utils/certs.ts (no openssl tool). Without `--ca` a new authority is made and written
 * beside the certificates; `--self-signed` makes a lone self-signed server certificate instead.
 * Every file is created exclusively (an existing file is never overwritten); keys get mode 0600.
 */
import { existsSync, statSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { NproError } from '../../core/errors.js';
import { createCertificate, createCertificateAuthority, type CertificateAndKey } from '../../utils/certs.js';
import { isHost } from '../../utils/config/address.js';
import { list, parseCommand, positiveInt } from './args.js';
import { showHelp } from './help.js';
import { EXIT, println, resolvePath, UsageError, type CliIo, type ExitCode } from './io.js';

const OPTIONS = {
  host: { type: 'string', multiple: true },
  out: { type: 'string', short: 'o' },
  ca: { type: 'string' },
  client: { type: 'string' },
  'self-signed': { type: 'boolean' },
  days: { type: 'string' },
} as const;

interface OutputFile {
  path: string;
  text: string;
  mode: number;
  what: string;
}

export async function certCommand(args: readonly string[], io: CliIo): Promise<ExitCode> {
  const { values } = parseCommand('cert', args, OPTIONS, { min: 0, max: 0 });
  if (values.help === true) return showHelp(io, 'cert');
  const hosts = list(values.host);
  if (hosts.length === 0) throw new UsageError('cert: at least one --host NAME is needed', 'cert');
  for (const h of hosts) if (!isHost(h)) throw new UsageError(`cert: --host ${JSON.stringify(h)} is not a host name or IP address`, 'cert');
  if (values.out === undefined) throw new UsageError('cert: --out DIR is needed', 'cert');
  const selfSigned = values['self-signed'] === true;
  if (selfSigned && (values.ca !== undefined || values.client !== undefined)) {
    throw new UsageError('cert: --self-signed makes a lone server certificate; it does not go with --ca or --client', 'cert');
  }
  if (values.client !== undefined && values.client === '') throw new UsageError('cert: --client takes a name', 'cert');
  const days = positiveInt('cert', 'days', values.days, 825);
  const dir = resolvePath(io, values.out);

  const files: OutputFile[] = [];
  let ca: CertificateAndKey | undefined;
  let caPath: string | undefined;
  if (values.ca !== undefined) {
    const given = readCaPaths(io, values.ca);
    ca = { cert: await readFile(given.cert, 'utf8'), key: await readFile(given.key, 'utf8') };
    caPath = given.cert;
  } else if (!selfSigned) {
    ca = await createCertificateAuthority({ commonName: 'npro development CA' });
    caPath = join(dir, 'ca.pem');
    files.push({ path: caPath, text: ca.cert, mode: 0o644, what: 'certificate authority' });
    files.push({ path: join(dir, 'ca.key'), text: ca.key, mode: 0o600, what: 'authority key, mode 0600' });
  }
  const server = await createCertificate({ hosts, days, ...(ca === undefined ? {} : { ca }) });
  const serverPath = join(dir, 'server.pem');
  const kind = selfSigned ? 'self-signed server certificate' : 'server certificate';
  files.push({ path: serverPath, text: server.cert, mode: 0o644, what: `${kind} for ${hosts.join(', ')}` });
  files.push({ path: join(dir, 'server.key'), text: server.key, mode: 0o600, what: 'server key, mode 0600' });
  if (values.client !== undefined) {
    const client = await createCertificate({ hosts: [values.client], days, client: true, ca: ca! });
    files.push({ path: join(dir, 'client.pem'), text: client.cert, mode: 0o644, what: `client certificate for ${values.client}` });
    files.push({ path: join(dir, 'client.key'), text: client.key, mode: 0o600, what: 'client key, mode 0600' });
  }

  const existing = files.filter((f) => existsSync(f.path)).map((f) => f.path);
  if (existing.length > 0) {
    throw new NproError('INVALID_ARGUMENT', `cert: not overwriting existing ${existing.join(', ')}; remove them or choose another --out`);
  }
  await mkdir(dir, { recursive: true, mode: 0o755 });
  for (const f of files) {
    await writeFile(f.path, f.text, { mode: f.mode, flag: 'wx' });
    println(io.stdout, `wrote ${f.path} (${f.what})`);
  }
  printTlsConfig(io, {
    host: hosts[0]!,
    serverCert: serverPath,
    serverKey: join(dir, 'server.key'),
    trust: caPath ?? serverPath,
    client: values.client === undefined ? undefined : { cert: join(dir, 'client.pem'), key: join(dir, 'client.key') },
  });
  return EXIT.OK;
}

/** `--ca`: a directory (ca.pem, ca.key), `FILE.pem` (FILE.key beside it), or `CERT,KEY`. */
function readCaPaths(io: CliIo, given: string): { cert: string; key: string } {
  let cert: string;
  let key: string;
  if (given.includes(',')) {
    const parts = given.split(',');
    if (parts.length !== 2 || parts.some((p) => p === '')) throw new UsageError('cert: --ca CERT,KEY takes exactly two files', 'cert');
    [cert, key] = [resolvePath(io, parts[0]!), resolvePath(io, parts[1]!)];
  } else {
    const path = resolvePath(io, given);
    const isDir = existsSync(path) && statSync(path).isDirectory();
    cert = isDir ? join(path, 'ca.pem') : path;
    key = isDir ? join(path, 'ca.key') : path.replace(/(\.(pem|crt|cert))?$/, '.key');
  }
  for (const p of [cert, key]) {
    if (!existsSync(p) || !statSync(p).isFile()) throw new UsageError(`cert: --ca: ${p} does not exist or is not a file`, 'cert');
  }
  return { cert, key };
}

interface TlsFiles {
  host: string;
  serverCert: string;
  serverKey: string;
  /** What a client trusts: the authority, or the self-signed certificate itself. */
  trust: string;
  client: { cert: string; key: string } | undefined;
}

/** The [tls] tables (behaviour.md §3) of the daemon and of a client using these files. */
function printTlsConfig(io: CliIo, f: TlsFiles): void {
  const q = (s: string) => JSON.stringify(s);
  const lines = [
    '',
    `# daemon: npro daemon --listen tls://${f.host}:9443 --config daemon.toml`,
    '[tls]',
    `cert_file = ${q(f.serverCert)}`,
    `key_file = ${q(f.serverKey)}`,
  ];
  if (f.client !== undefined) lines.push(`ca_file = ${q(f.trust)}`, 'verify_client = true');
  lines.push('', `# client: npro call tls://${f.host}:9443 ECHO hi --config client.toml`, '[tls]', `ca_file = ${q(f.trust)}`);
  if (f.client !== undefined) lines.push(`cert_file = ${q(f.client.cert)}`, `key_file = ${q(f.client.key)}`);
  for (const line of lines) println(io.stdout, line);
}
