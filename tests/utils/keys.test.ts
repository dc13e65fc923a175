/** Static keys and key files (protocol.md §6). */
import { execFileSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NproError } from '../../src/core/errors.js';
import { fromHex, toBase64Url, toHex } from '../../src/utils/bytes.js';
import { nobleCrypto, nodeCrypto } from '../../src/utils/crypto/index.js';
import {
  encodePublicKey,
  generateKeyPair,
  loadOrCreateKeyFile,
  parsePublicKey,
  readKeyFile,
  writeKeyFile,
} from '../../src/utils/keys.js';

let dir: string;
let n = 0;
const fresh = () => join(dir, `k${n++}`);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'npro-keys-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (e) {
    return NproError.is(e) ? e.code : `not an NproError: ${String(e)}`;
  }
  return undefined;
}

async function writeWithMode(path: string, content: string | Uint8Array, mode: number): Promise<void> {
  await writeFile(path, content);
  await chmod(path, mode);
}

describe('key pairs and the public-key text form', () => {
  it.each([['node', nodeCrypto], ['noble', nobleCrypto]] as const)('generateKeyPair (%s): 32-byte keys, public = X25519(secret, 9)', (_n, c) => {
    const { secretKey, publicKey } = generateKeyPair(c);
    expect(secretKey.length).toBe(32);
    expect(toHex(publicKey)).toBe(toHex(nobleCrypto.x25519PublicKey(secretKey)));
    expect(toHex(generateKeyPair(c).secretKey)).not.toBe(toHex(secretKey));
  });

  it('encodePublicKey gives 43 base64url characters that parsePublicKey reads back', () => {
    for (let i = 0; i < 50; i++) {
      const pub = nodeCrypto.randomBytes(32);
      const text = encodePublicKey(pub);
      expect(text).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(toHex(parsePublicKey(text))).toBe(toHex(pub));
    }
    expect(NproError.is((() => { try { encodePublicKey(new Uint8Array(31)); } catch (e) { return e; } })(), 'INVALID_ARGUMENT')).toBe(true);
  });

  it('parsePublicKey refuses 42 and 44 characters, padding, base64 (not url) and foreign characters, non-canonical tails', () => {
    const good = encodePublicKey(fromHex('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a'));
    expect(good.length).toBe(43);
    const bad = [
      good.slice(0, 42),
      `${good}A`,
      `${good}=`,
      `${good.slice(0, 42)}=`,
      `${good.slice(0, 41)}+/`,
      `${good.slice(0, 42)}.`,
      ` ${good.slice(1)}`,
      `${good.slice(0, 42)}\n`,
      '',
      // Last character with low bits set: decodes, but is not the canonical form of any 32 bytes.
      `${good.slice(0, 42)}${good.endsWith('p') ? 'q' : 'p'}`,
    ];
    for (const s of bad) {
      let err: unknown;
      try {
        parsePublicKey(s);
      } catch (e) {
        err = e;
      }
      expect([s, NproError.is(err, 'CONFIG_INVALID')]).toEqual([s, true]);
    }
  });
});

describe('key files', () => {
  it('writeKeyFile creates parent directories 0700 and the file 0600 holding base64url + newline', async () => {
    const path = join(dir, 'nested', 'deeper', 'server.key');
    const secret = nodeCrypto.randomBytes(32);
    await writeKeyFile(path, secret);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, 'nested'))).mode & 0o777).toBe(0o700);
    expect((await stat(join(dir, 'nested', 'deeper'))).mode & 0o777).toBe(0o700);
    expect(await readFile(path, 'latin1')).toBe(`${toBase64Url(secret)}\n`);
    expect(toHex(await readKeyFile(path))).toBe(toHex(secret));
    expect(await readdir(join(dir, 'nested', 'deeper'))).toEqual(['server.key']);
  });

  it('writeKeyFile never overwrites an existing file and leaves no temporary file', async () => {
    const sub = fresh();
    await mkdir(sub, { mode: 0o700 });
    const path = join(sub, 'server.key');
    await writeWithMode(path, 'old', 0o600);
    expect(await codeOf(writeKeyFile(path, nodeCrypto.randomBytes(32)))).toBe('KEY_FILE_INSECURE');
    expect(await readFile(path, 'latin1')).toBe('old');
    expect(await readdir(sub)).toEqual(['server.key']);
    expect(await codeOf(writeKeyFile(fresh(), new Uint8Array(31)))).toBe('INVALID_ARGUMENT');
  });

  it('reads 32 raw bytes, 43 base64url characters, and 43 characters + newline', async () => {
    const secret = nodeCrypto.randomBytes(32);
    for (const content of [secret, toBase64Url(secret), `${toBase64Url(secret)}\n`]) {
      const path = fresh();
      await writeWithMode(path, content, 0o600);
      expect(toHex(await readKeyFile(path))).toBe(toHex(secret));
    }
    const ro = fresh();
    await writeWithMode(ro, secret, 0o400);
    expect(toHex(await readKeyFile(ro))).toBe(toHex(secret));
  });

  it.each(['0640', '0604', '0644', '0660', '0620', '0602', '0610', '0601', '0666'])('refuses mode %s with KEY_FILE_INSECURE and says chmod 600', async (modeText) => {
    const mode = parseInt(modeText, 8);
    const path = fresh();
    await writeWithMode(path, `${toBase64Url(nodeCrypto.randomBytes(32))}\n`, mode);
    let err: unknown;
    try {
      await readKeyFile(path);
    } catch (e) {
      err = e;
    }
    expect(NproError.is(err, 'KEY_FILE_INSECURE')).toBe(true);
    expect((err as Error).message).toContain(`chmod 600 ${path}`);
  });

  it('refuses other lengths and contents with CONFIG_INVALID, without quoting the content', async () => {
    const b64 = toBase64Url(nodeCrypto.randomBytes(32));
    const contents: (string | Uint8Array)[] = [
      new Uint8Array(0),
      nodeCrypto.randomBytes(31),
      nodeCrypto.randomBytes(33),
      b64.slice(0, 42),
      `${b64}A`,
      `${b64}\n\n`,
      `${b64}\r\n`,
      ` ${b64}`,
      `${b64.slice(0, 42)}=`,
      `${b64.slice(0, 42)}+`,
      nodeCrypto.randomBytes(200),
    ];
    for (const content of contents) {
      const path = fresh();
      await writeWithMode(path, content, 0o600);
      let err: unknown;
      try {
        await readKeyFile(path);
      } catch (e) {
        err = e;
      }
      expect(NproError.is(err, 'CONFIG_INVALID')).toBe(true);
      expect((err as Error).message).not.toContain(b64.slice(0, 20));
    }
  });

  it('a missing file, a directory and a FIFO are CONFIG_INVALID (a FIFO does not hang the read)', async () => {
    expect(await codeOf(readKeyFile(join(dir, 'absent.key')))).toBe('CONFIG_INVALID');
    const sub = fresh();
    await mkdir(sub, { mode: 0o700 });
    expect(await codeOf(readKeyFile(sub))).toBe('CONFIG_INVALID');
    const fifo = fresh();
    execFileSync('mkfifo', ['-m', '600', fifo]);
    expect(await codeOf(readKeyFile(fifo))).toBe('CONFIG_INVALID');
  });
});

describe('loadOrCreateKeyFile', () => {
  it('creates the key once (0600) and loads the same key afterwards', async () => {
    const path = join(fresh(), 'server.key');
    const first = await loadOrCreateKeyFile(path);
    expect(first.created).toBe(true);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(toHex(first.publicKey)).toBe(toHex(nobleCrypto.x25519PublicKey(first.secretKey)));
    const again = await loadOrCreateKeyFile(path, nobleCrypto);
    expect(again.created).toBe(false);
    expect(toHex(again.secretKey)).toBe(toHex(first.secretKey));
    expect(toHex(again.publicKey)).toBe(toHex(first.publicKey));
  });

  it('concurrent first starts agree on one key, created exactly once (never a half-written file)', async () => {
    for (let round = 0; round < 10; round++) {
      const path = join(fresh(), 'server.key');
      const all = await Promise.all(Array.from({ length: 8 }, () => loadOrCreateKeyFile(path)));
      expect(all.filter((r) => r.created).length).toBe(1);
      expect(new Set(all.map((r) => toHex(r.secretKey))).size).toBe(1);
    }
  });

  it('an existing insecure or malformed key file is refused, never replaced', async () => {
    const insecure = fresh();
    await writeWithMode(insecure, `${toBase64Url(nodeCrypto.randomBytes(32))}\n`, 0o644);
    expect(await codeOf(loadOrCreateKeyFile(insecure))).toBe('KEY_FILE_INSECURE');
    const malformed = fresh();
    await writeWithMode(malformed, 'not a key', 0o600);
    expect(await codeOf(loadOrCreateKeyFile(malformed))).toBe('CONFIG_INVALID');
    expect(await readFile(malformed, 'latin1')).toBe('not a key');
  });
});
