/**
 * The trust-on-first-use store of a client (protocol.md §6): the static key each server showed the
 * first time, keyed by the endpoint URL exactly as configured (no normalisation: `tcp://a:1` and
 * `tcp://A:1` are different entries).
 *
 * File format (UTF-8 text): one entry per line, `<endpoint-url> <43-character base64url key>`,
 * separated by spaces or tabs; blank lines and lines whose first non-blank character is `#` are
 * ignored. A malformed line makes the whole file `CONFIG_INVALID` (the error names the line), as does
 * one endpoint listed twice with different keys. A missing file is an empty store.
 *
 * Writes are atomic: the new content goes to a temporary file (mode 0600, same directory, created
 * 0700 if needed) that is flushed and renamed over the store. Before each write the file is read
 * again, so entries added by another process are kept; two processes writing at the same instant can
 * still lose one of the two new entries, which is then learned again on the next connection.
 *
 * The store decides whom the client trusts, so a file writable by group or others is refused with
 * `KEY_FILE_INSECURE` (POSIX only).
 */
import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { mkdir, open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { NproError } from '../core/errors.js';
import { constantTimeEqual, toBase64Url, utf8Decoder } from './bytes.js';
import { parsePublicKey } from './keys.js';

/** Mode bits that let someone else change the store. */
const WRITABLE_BY_OTHERS = 0o022;
/** Largest store read (about 50,000 entries). */
const MAX_STORE_BYTES = 4 * 1024 * 1024;

/** Parses the content of a known_hosts file; `path` is only used in error messages. */
export function parseKnownHosts(text: string, path: string): Map<string, Uint8Array> {
  const entries = new Map<string, Uint8Array>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, '').trim();
    if (line === '' || line.startsWith('#')) continue;
    const where = `${path} line ${i + 1}`;
    const fields = line.split(/[ \t]+/);
    if (fields.length !== 2) {
      throw new NproError('CONFIG_INVALID', `${where}: expected "<endpoint-url> <public key>", found ${fields.length} fields`, { details: { path, line: i + 1 } });
    }
    const [endpoint, keyText] = fields as [string, string];
    let key: Uint8Array;
    try {
      key = parsePublicKey(keyText);
    } catch (cause) {
      throw new NproError('CONFIG_INVALID', `${where}: the key of ${endpoint} is not 43 characters of unpadded base64url`, { cause, details: { path, line: i + 1 } });
    }
    const seen = entries.get(endpoint);
    if (seen !== undefined && !constantTimeEqual(seen, key)) {
      throw new NproError('CONFIG_INVALID', `${where}: ${endpoint} is listed twice with different keys`, { details: { path, line: i + 1 } });
    }
    entries.set(endpoint, key);
  }
  return entries;
}

/** The file's text, or '' when it does not exist. */
async function readStore(path: string): Promise<string> {
  let handle: FileHandle;
  try {
    handle = await open(path, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw new NproError('CONFIG_INVALID', `known_hosts file ${path} cannot be opened`, { cause, details: { path } });
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw new NproError('CONFIG_INVALID', `known_hosts file ${path} is not a regular file`, { details: { path } });
    if (process.platform !== 'win32' && (st.mode & WRITABLE_BY_OTHERS) !== 0) {
      throw new NproError('KEY_FILE_INSECURE', `known_hosts file ${path} is writable by group or others; run: chmod 600 ${path}`, { details: { path } });
    }
    if (st.size > MAX_STORE_BYTES) throw new NproError('CONFIG_INVALID', `known_hosts file ${path} is larger than ${MAX_STORE_BYTES} bytes`, { details: { path } });
    const bytes = await handle.readFile();
    try {
      return utf8Decoder.decode(bytes);
    } catch (cause) {
      throw new NproError('CONFIG_INVALID', `known_hosts file ${path} is not UTF-8 text`, { cause, details: { path } });
    }
  } finally {
    await handle.close();
  }
}

/** Replaces the file at `path` with `text` atomically (temporary file + rename), mode 0600. */
async function writeStore(path: string, text: string): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(tmp, 'wx', 0o600);
  try {
    await handle.writeFile(text, 'utf8');
    await handle.sync();
    await handle.close();
    await rename(tmp, path);
  } catch (err) {
    await handle.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}

export class KnownHosts {
  readonly path: string;
  #entries: Map<string, Uint8Array>;
  /** Serialises the writes of this object. */
  #writing: Promise<unknown> = Promise.resolve();

  private constructor(path: string, entries: Map<string, Uint8Array>) {
    this.path = path;
    this.#entries = entries;
  }

  /** Loads the store at `path` (a missing file is an empty store; nothing is created until a write). */
  static async open(path: string): Promise<KnownHosts> {
    return new KnownHosts(path, parseKnownHosts(await readStore(path), path));
  }

  /** The key remembered for `endpoint` (a copy), or `undefined`. */
  lookup(endpoint: string): Uint8Array | undefined {
    return this.#entries.get(endpoint)?.slice();
  }

  /** Number of endpoints in the store. */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * Records `key` for `endpoint`. The file is read again first: if it already holds the same key,
   * nothing is written; if another process recorded a different key meanwhile, the call fails with
   * `SERVER_KEY_MISMATCH` and the file is left as it is.
   */
  remember(endpoint: string, key: Uint8Array): Promise<void> {
    if (endpoint === '' || /\s/.test(endpoint) || endpoint.startsWith('#')) {
      return Promise.reject(new NproError('INVALID_ARGUMENT', `known_hosts cannot hold the endpoint ${JSON.stringify(endpoint)} (empty, whitespace, or a leading #)`));
    }
    if (key.length !== 32) return Promise.reject(new NproError('INVALID_ARGUMENT', 'a server key is 32 bytes'));
    const copy = key.slice();
    const run = this.#writing.then(() => this.#remember(endpoint, copy));
    this.#writing = run.catch(() => undefined);
    return run;
  }

  async #remember(endpoint: string, key: Uint8Array): Promise<void> {
    const text = await readStore(this.path);
    const entries = parseKnownHosts(text, this.path);
    const seen = entries.get(endpoint);
    if (seen !== undefined && !constantTimeEqual(seen, key)) {
      this.#entries = entries;
      throw new NproError('SERVER_KEY_MISMATCH', `${this.path} already holds a different key for ${endpoint}`, { details: { endpoint } });
    }
    if (seen === undefined) {
      const sep = text === '' || text.endsWith('\n') ? '' : '\n';
      try {
        await writeStore(this.path, `${text}${sep}${endpoint} ${toBase64Url(key)}\n`);
      } catch (cause) {
        throw new NproError('KEY_FILE_INSECURE', `known_hosts file ${this.path} cannot be written`, { cause, details: { path: this.path } });
      }
      entries.set(endpoint, key);
    }
    this.#entries = entries;
  }
}
