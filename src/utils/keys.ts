/**
 * Static X25519 keys: generation, the public-key text form, and key files (protocol.md §6).
 *
 * A key file holds the secret key as 32 raw bytes, or as 43 characters of unpadded base64url with an
 * optional trailing newline (`\n`). npro writes the base64url form, mode 0600, in a directory it
 * creates with mode 0700.
 *
 * Permissions: a key file with ANY group or other permission bit (`mode & 0o077`) is refused with
 * `KEY_FILE_INSECURE`, not only a readable one: a group-writable file lets others replace the key,
 * and an executable bit on a key file is a sign of a careless copy. (POSIX only: Windows reports no
 * meaningful mode bits, so the check is skipped there.)
 */
import { constants as fsConstants } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { link, mkdir, open, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { NproError } from '../core/errors.js';
import { fromBase64Url, toBase64Url } from './bytes.js';
import { defaultCrypto, type CryptoProvider } from './crypto/index.js';

export const KEY_LENGTH = 32;
/** Length of a 32-byte key in unpadded base64url. */
export const ENCODED_KEY_LENGTH = 43;
/** Mode bits that make a key file insecure: every group and other bit. */
export const INSECURE_MODE_BITS = 0o077;
/** Largest file read when looking at a key file (43 characters + `\n`, plus room to report "too long"). */
const MAX_KEY_FILE_READ = 64;

export interface KeyPair {
  secretKey: Uint8Array;
  publicKey: Uint8Array;
}

/** A fresh static key pair. */
export function generateKeyPair(crypto: CryptoProvider = defaultCrypto): KeyPair {
  const secretKey = crypto.x25519GenerateSecret();
  return { secretKey, publicKey: crypto.x25519PublicKey(secretKey) };
}

/** The text form of a public key: 43 characters of unpadded base64url (protocol.md §6). */
export function encodePublicKey(publicKey: Uint8Array): string {
  if (publicKey.length !== KEY_LENGTH) throw new NproError('INVALID_ARGUMENT', `a public key is ${KEY_LENGTH} bytes, not ${publicKey.length}`);
  return toBase64Url(publicKey);
}

/** Parses the text form of a public key; anything but 43 canonical base64url characters is `CONFIG_INVALID`. */
export function parsePublicKey(text: string): Uint8Array {
  const key = text.length === ENCODED_KEY_LENGTH ? fromBase64Url(text) : null;
  if (key === null || key.length !== KEY_LENGTH) {
    const what = text.length === ENCODED_KEY_LENGTH ? '43 characters that are not canonical base64url' : `${text.length} characters`;
    throw new NproError('CONFIG_INVALID', `a public key is ${ENCODED_KEY_LENGTH} characters of unpadded base64url; got ${what}`);
  }
  return key;
}

/**
 * Decodes the content of a key file: 32 raw bytes, or 43 base64url characters with an optional
 * trailing `\n`. Anything else is `CONFIG_INVALID` (the message never quotes the content).
 */
export function decodeKeyFile(content: Uint8Array, path: string): Uint8Array {
  if (content.length === KEY_LENGTH) return content.slice();
  let n = content.length;
  if (n === ENCODED_KEY_LENGTH + 1 && content[n - 1] === 0x0a) n--;
  if (n === ENCODED_KEY_LENGTH) {
    const key = fromBase64Url(Buffer.from(content.buffer, content.byteOffset, n).toString('latin1'));
    if (key !== null && key.length === KEY_LENGTH) return key;
  }
  throw new NproError('CONFIG_INVALID', `key file ${path} must hold 32 raw bytes or 43 characters of unpadded base64url (optionally followed by a newline); it holds ${content.length} bytes of something else`, { details: { path } });
}

function ioError(path: string, action: string, cause: unknown): NproError {
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') return new NproError('CONFIG_INVALID', `key file ${path} does not exist`, { cause, details: { path } });
  return new NproError('KEY_FILE_INSECURE', `key file ${path} cannot be ${action} (${code ?? 'error'})`, { cause, details: { path } });
}

/**
 * Checks an open key file: a regular file with no group/other permission bits. The checks run on the
 * open handle, so the file checked is the file read.
 */
async function checkKeyFile(handle: FileHandle, path: string): Promise<void> {
  const st = await handle.stat();
  if (!st.isFile()) throw new NproError('CONFIG_INVALID', `key file ${path} is not a regular file`, { details: { path } });
  if (process.platform !== 'win32' && (st.mode & INSECURE_MODE_BITS) !== 0) {
    const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
    throw new NproError('KEY_FILE_INSECURE', `key file ${path} has mode ${mode}, open to group or others; run: chmod 600 ${path}`, { details: { path, mode } });
  }
}

/** Reads a key file, or `null` when it does not exist. */
async function readKeyFileIfExists(path: string): Promise<Uint8Array | null> {
  let handle: FileHandle;
  try {
    // O_NONBLOCK: a FIFO in place of the key file must not hang the open; it is refused below.
    handle = await open(path, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw ioError(path, 'opened', cause);
  }
  const buf = new Uint8Array(MAX_KEY_FILE_READ + 1);
  try {
    await checkKeyFile(handle, path);
    let n = 0;
    while (n < buf.length) {
      const { bytesRead } = await handle.read(buf, n, buf.length - n, null);
      if (bytesRead === 0) break;
      n += bytesRead;
    }
    return decodeKeyFile(buf.subarray(0, n), path);
  } catch (cause) {
    if (NproError.is(cause)) throw cause;
    throw ioError(path, 'read', cause);
  } finally {
    buf.fill(0);
    await handle.close();
  }
}

/** Reads the secret key of a key file (protocol.md §6). */
export async function readKeyFile(path: string): Promise<Uint8Array> {
  const key = await readKeyFileIfExists(path);
  if (key === null) throw new NproError('CONFIG_INVALID', `key file ${path} does not exist`, { details: { path } });
  return key;
}

/**
 * Writes a new key file: parent directories created with mode 0700, then the key (base64url and a
 * newline) written and flushed to a temporary file created exclusively with mode 0600 in the same
 * directory, then hard-linked to `path`. The link fails if `path` exists (an existing file is never
 * overwritten, with no window for a race), and a reader never sees a partly written key.
 */
export async function writeKeyFile(path: string, secretKey: Uint8Array): Promise<void> {
  if (secretKey.length !== KEY_LENGTH) throw new NproError('INVALID_ARGUMENT', `a secret key is ${KEY_LENGTH} bytes, not ${secretKey.length}`);
  const dir = dirname(path);
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (cause) {
    throw ioError(path, 'created (its directory cannot be made)', cause);
  }
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let handle: FileHandle;
  try {
    handle = await open(tmp, 'wx', 0o600);
  } catch (cause) {
    throw ioError(path, 'created', cause);
  }
  const text = Buffer.from(`${toBase64Url(secretKey)}\n`, 'latin1');
  try {
    try {
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      text.fill(0);
      await handle.close();
    }
    await link(tmp, path);
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new NproError('KEY_FILE_INSECURE', `key file ${path} already exists; it is never overwritten`, { cause, details: { path } });
    }
    throw ioError(path, 'written', cause);
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

/**
 * The static key of a daemon (protocol.md §6): read from `path`, or generated and written there with
 * mode 0600 when the file does not exist. Another process creating the file at the same time is
 * handled: its key is read.
 */
export async function loadOrCreateKeyFile(
  path: string,
  crypto: CryptoProvider = defaultCrypto,
): Promise<KeyPair & { created: boolean }> {
  const existing = await readKeyFileIfExists(path);
  if (existing !== null) return { secretKey: existing, publicKey: crypto.x25519PublicKey(existing), created: false };
  const pair = generateKeyPair(crypto);
  try {
    await writeKeyFile(path, pair.secretKey);
  } catch (err) {
    const raced = NproError.is(err, 'KEY_FILE_INSECURE') && (err.cause as NodeJS.ErrnoException | undefined)?.code === 'EEXIST';
    if (!raced) throw err;
    const secretKey = await readKeyFile(path);
    return { secretKey, publicKey: crypto.x25519PublicKey(secretKey), created: false };
  }
  return { ...pair, created: true };
}
