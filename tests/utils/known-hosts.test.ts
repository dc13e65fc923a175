/** The trust-on-first-use store (protocol.md §6). */
import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NproError } from '../../src/core/errors.js';
import { toBase64Url, toHex } from '../../src/utils/bytes.js';
import { nodeCrypto } from '../../src/utils/crypto/index.js';
import { KnownHosts, parseKnownHosts } from '../../src/utils/known-hosts.js';

let dir: string;
let n = 0;
const freshPath = () => join(dir, `d${n++}`, 'known_hosts');
const key = () => nodeCrypto.randomBytes(32);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'npro-known-hosts-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function errorOf(p: Promise<unknown> | (() => unknown)): Promise<unknown> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    return e;
  }
  return undefined;
}

describe('KnownHosts', () => {
  it('a missing file is an empty store, and opening it creates nothing', async () => {
    const path = freshPath();
    const store = await KnownHosts.open(path);
    expect(store.size).toBe(0);
    expect(store.lookup('tcp://127.0.0.1:9000')).toBeUndefined();
    expect(await errorOf(stat(path))).toBeDefined();
  });

  it('remember writes "<endpoint> <key>" to a 0600 file in a 0700 directory; a reload sees it', async () => {
    const path = freshPath();
    const k = key();
    const store = await KnownHosts.open(path);
    await store.remember('tcp://127.0.0.1:9000', k);
    expect(toHex(store.lookup('tcp://127.0.0.1:9000')!)).toBe(toHex(k));
    expect(await readFile(path, 'utf8')).toBe(`tcp://127.0.0.1:9000 ${toBase64Url(k)}\n`);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await stat(join(path, '..'))).mode & 0o777).toBe(0o700);
    const reloaded = await KnownHosts.open(path);
    expect(toHex(reloaded.lookup('tcp://127.0.0.1:9000')!)).toBe(toHex(k));
    expect(await readdir(join(path, '..'))).toEqual(['known_hosts']);
  });

  it('keys by the endpoint URL exactly as configured', async () => {
    const store = await KnownHosts.open(freshPath());
    const k = key();
    await store.remember('tcp://host:1', k);
    expect(store.lookup('tcp://HOST:1')).toBeUndefined();
    expect(store.lookup('tcp://host:1/')).toBeUndefined();
    expect(store.lookup('tcp://host:1')).toBeDefined();
  });

  it('remembering the same key again writes nothing new; a different key is SERVER_KEY_MISMATCH and changes nothing', async () => {
    const path = freshPath();
    const store = await KnownHosts.open(path);
    const k = key();
    await store.remember('tcp://a:1', k);
    await store.remember('tcp://a:1', k.slice());
    const before = await readFile(path, 'utf8');
    expect(before.split('\n').filter(Boolean)).toHaveLength(1);
    expect(NproError.is(await errorOf(store.remember('tcp://a:1', key())), 'SERVER_KEY_MISMATCH')).toBe(true);
    expect(await readFile(path, 'utf8')).toBe(before);
    expect(toHex(store.lookup('tcp://a:1')!)).toBe(toHex(k));
  });

  it('keeps comments, blank lines and entries written by hand or by another process', async () => {
    const path = freshPath();
    const a = key();
    const b = key();
    const c = key();
    const first = await KnownHosts.open(path);
    const second = await KnownHosts.open(path);
    await first.remember('tcp://a:1', a);
    await second.remember('tcp://b:2', b);
    await writeFile(path, `# my servers\n\n${await readFile(path, 'utf8')}  # indented comment\r\nunix:///run/x.sock\t${toBase64Url(c)}`);
    await chmod(path, 0o600);
    await first.remember('tcp://d:4', key());
    const text = await readFile(path, 'utf8');
    expect(text.startsWith('# my servers\n\ntcp://a:1 ')).toBe(true);
    expect(text).toContain(`unix:///run/x.sock\t${toBase64Url(c)}\ntcp://d:4 `);
    const reloaded = await KnownHosts.open(path);
    expect(reloaded.size).toBe(4);
    expect(toHex(reloaded.lookup('tcp://b:2')!)).toBe(toHex(b));
    expect(toHex(first.lookup('unix:///run/x.sock')!)).toBe(toHex(c));
  });

  it('concurrent remembers on one object all land in the file', async () => {
    const path = freshPath();
    const store = await KnownHosts.open(path);
    await Promise.all(Array.from({ length: 12 }, (_, i) => store.remember(`tcp://h${i}:1`, key())));
    expect((await KnownHosts.open(path)).size).toBe(12);
  });

  it('refuses endpoints it could not write back and keys that are not 32 bytes', async () => {
    const store = await KnownHosts.open(freshPath());
    for (const endpoint of ['', 'tcp://a b:1', 'tcp://a:1\n', '#tcp://a:1']) {
      expect(NproError.is(await errorOf(store.remember(endpoint, key())), 'INVALID_ARGUMENT')).toBe(true);
    }
    expect(NproError.is(await errorOf(store.remember('tcp://a:1', new Uint8Array(31))), 'INVALID_ARGUMENT')).toBe(true);
    expect(store.size).toBe(0);
  });

  it('a file writable by group or others is refused with KEY_FILE_INSECURE', async () => {
    const path = freshPath();
    await (await KnownHosts.open(path)).remember('tcp://a:1', key());
    await chmod(path, 0o620);
    expect(NproError.is(await errorOf(KnownHosts.open(path)), 'KEY_FILE_INSECURE')).toBe(true);
    await chmod(path, 0o644);
    expect((await KnownHosts.open(path)).size).toBe(1);
  });
});

describe('parseKnownHosts', () => {
  const good = toBase64Url(new Uint8Array(32).fill(7));

  it.each([
    ['one field', `tcp://a:1 ${good}\ntcp://b:2\n`, 2],
    ['three fields', `# c\ntcp://a:1 ${good} extra\n`, 2],
    ['a 42-character key', `\n\ntcp://a:1 ${good.slice(0, 42)}\n`, 3],
    ['a padded key', `tcp://a:1 ${good}=\n`, 1],
    ['a key with + and /', `tcp://a:1 ${good.slice(0, 41)}+/\n`, 1],
    ['the same endpoint with two keys', `tcp://a:1 ${good}\ntcp://a:1 ${toBase64Url(new Uint8Array(32).fill(8))}\n`, 2],
  ])('refuses %s with CONFIG_INVALID naming the line', (_what, text, line) => {
    let err: unknown;
    try {
      parseKnownHosts(text, '/etc/npro/known_hosts');
    } catch (e) {
      err = e;
    }
    expect(NproError.is(err, 'CONFIG_INVALID')).toBe(true);
    expect((err as NproError).message).toContain(`/etc/npro/known_hosts line ${line}`);
    expect((err as NproError).details).toMatchObject({ line });
  });

  it('accepts the same endpoint twice with the same key, tabs, CRLF and indented comments', () => {
    const entries = parseKnownHosts(`  # x\r\ntcp://a:1\t\t${good}\r\ntcp://a:1 ${good}\n\n`, 'p');
    expect([...entries.keys()]).toEqual(['tcp://a:1']);
  });

  it('a malformed file on disk makes open fail with CONFIG_INVALID', async () => {
    const path = join(dir, 'malformed');
    await writeFile(path, `tcp://a:1 ${good}\ngarbage\n`, { mode: 0o600 });
    const err = await errorOf(KnownHosts.open(path));
    expect(NproError.is(err, 'CONFIG_INVALID')).toBe(true);
    expect((err as Error).message).toContain('line 2');
  });
});
