/** Client trust policy and server authorisation (protocol.md §6). */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NproError } from '../../src/core/errors.js';
import { checkServerKey, isClientAuthorized, resolveTrustPolicy, type TrustPolicy } from '../../src/protocol/trust.js';
import { toBase64Url, toHex } from '../../src/utils/bytes.js';
import { nodeCrypto } from '../../src/utils/crypto/index.js';
import { KnownHosts } from '../../src/utils/known-hosts.js';

let dir: string;
let n = 0;
const freshPath = () => join(dir, `d${n++}`, 'known_hosts');
const key = () => nodeCrypto.randomBytes(32);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'npro-trust-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function refusal(policy: TrustPolicy, k: Uint8Array): NproError {
  const d = checkServerKey(policy, k);
  if (d.ok) throw new Error('expected a refusal');
  return d.error;
}

describe('checkServerKey', () => {
  it('pinned, one key: that key passes, any other is SERVER_KEY_MISMATCH', () => {
    const pinned = key();
    const policy: TrustPolicy = { kind: 'pinned', keys: [pinned] };
    expect(checkServerKey(policy, pinned.slice())).toEqual({ ok: true });
    const err = refusal(policy, key());
    expect(err.code).toBe('SERVER_KEY_MISMATCH');
    expect(refusal(policy, pinned.subarray(0, 31)).code).toBe('SERVER_KEY_MISMATCH');
  });

  it('pinned, a list: each listed key passes (first, middle, last), others fail', () => {
    const keys = [key(), key(), key()];
    const policy: TrustPolicy = { kind: 'pinned', keys };
    for (const k of keys) expect(checkServerKey(policy, k.slice()).ok).toBe(true);
    const near = keys[2]!.slice();
    near[31]! ^= 1;
    expect(refusal(policy, near).code).toBe('SERVER_KEY_MISMATCH');
  });

  it('any: every key passes, with nothing to remember', () => {
    expect(checkServerKey({ kind: 'any' }, key())).toEqual({ ok: true });
  });

  it('TOFU: first use is accepted and remembered only when pendingRemember runs; then same key ok, other key mismatch', async () => {
    const path = freshPath();
    const store = await KnownHosts.open(path);
    const endpoint = 'tcp://127.0.0.1:9000';
    const policy: TrustPolicy = { kind: 'tofu', store, endpoint };
    const serverKey = key();

    const first = checkServerKey(policy, serverKey);
    expect(first.ok).toBe(true);
    if (!first.ok || first.pendingRemember === undefined) throw new Error('expected a pending remember');
    // Not stored before the first record decrypts.
    expect(store.lookup(endpoint)).toBeUndefined();
    expect((await KnownHosts.open(path)).size).toBe(0);
    serverKey.fill(0); // the decision holds its own copy
    await first.pendingRemember();
    const stored = store.lookup(endpoint)!;
    expect(await readFile(path, 'utf8')).toBe(`${endpoint} ${toBase64Url(stored)}\n`);

    const again = checkServerKey(policy, stored.slice());
    expect(again).toEqual({ ok: true });

    const other = key();
    const err = refusal(policy, other);
    expect(err.code).toBe('SERVER_KEY_MISMATCH');
    expect(err.message).toContain(path);
    expect(err.message).toContain(endpoint);
    expect(err.details).toMatchObject({ endpoint, expected: toBase64Url(stored), presented: toBase64Url(other) });

    // After a reload from disk (a new process), the remembered key still decides.
    const reloaded: TrustPolicy = { kind: 'tofu', store: await KnownHosts.open(path), endpoint };
    expect(checkServerKey(reloaded, stored)).toEqual({ ok: true });
    expect(refusal(reloaded, other).code).toBe('SERVER_KEY_MISMATCH');
    // Another endpoint is a first contact of its own, even with the same key.
    expect(checkServerKey({ kind: 'tofu', store, endpoint: 'tcp://127.0.0.1:9001' }, stored).ok).toBe(true);
  });

  it('TOFU: two first contacts with different keys race; the second remember fails with SERVER_KEY_MISMATCH', async () => {
    const store = await KnownHosts.open(freshPath());
    const policy: TrustPolicy = { kind: 'tofu', store, endpoint: 'tcp://a:1' };
    const d1 = checkServerKey(policy, key());
    const d2 = checkServerKey(policy, key());
    if (!d1.ok || !d2.ok) throw new Error('both first contacts pass');
    await d1.pendingRemember!();
    await expect(d2.pendingRemember!()).rejects.toMatchObject({ code: 'SERVER_KEY_MISMATCH' });
  });
});

describe('isClientAuthorized', () => {
  it('an empty list admits any client', () => {
    expect(isClientAuthorized([], key())).toBe(true);
  });

  it('a list admits exactly its keys', () => {
    const keys = [key(), key(), key()];
    for (const k of keys) expect(isClientAuthorized(keys, k.slice())).toBe(true);
    expect(isClientAuthorized(keys, key())).toBe(false);
    expect(isClientAuthorized(keys, keys[0]!.subarray(0, 16))).toBe(false);
  });

  it('compares against every entry even when the first one matches (no early exit)', () => {
    const keys = [key(), key(), key(), key()];
    const read: number[] = [];
    const observed = new Proxy(keys, {
      get(target, prop, receiver) {
        if (typeof prop === 'string' && /^\d+$/.test(prop)) read.push(Number(prop));
        return Reflect.get(target, prop, receiver) as unknown;
      },
    });
    expect(isClientAuthorized(observed, keys[0]!.slice())).toBe(true);
    expect(read).toEqual([0, 1, 2, 3]);
  });
});

describe('resolveTrustPolicy', () => {
  const base = { knownHostsPath: '', endpoint: 'tcp://127.0.0.1:9000' };
  const noStore = () => Promise.reject(new Error('known_hosts must not be opened'));

  it('server_public_key, one or a list (text or bytes) → pinned, whatever trust says', async () => {
    const [a, b] = [key(), key()];
    const one = await resolveTrustPolicy({ ...base, serverPublicKey: toBase64Url(a) }, noStore);
    expect(one.warn).toBe(false);
    expect(one.policy.kind).toBe('pinned');
    expect((one.policy as { keys: Uint8Array[] }).keys.map(toHex)).toEqual([toHex(a)]);
    const list = await resolveTrustPolicy({ ...base, serverPublicKey: [toBase64Url(a), b], trust: 'any' }, noStore);
    expect((list.policy as { keys: Uint8Array[] }).keys.map(toHex)).toEqual([toHex(a), toHex(b)]);
    expect(list.warn).toBe(false);
  });

  it('a malformed server_public_key, or pinned without one, is CONFIG_INVALID', async () => {
    await expect(resolveTrustPolicy({ ...base, serverPublicKey: 'short' }, noStore)).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    await expect(resolveTrustPolicy({ ...base, serverPublicKey: [new Uint8Array(31)] }, noStore)).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    await expect(resolveTrustPolicy({ ...base, trust: 'pinned' }, noStore)).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    await expect(resolveTrustPolicy({ ...base, serverPublicKey: [], trust: 'pinned' }, noStore)).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });

  it('trust = "any" set explicitly → any with warn; unset over tls/wss → any without warning', async () => {
    expect(await resolveTrustPolicy({ ...base, trust: 'any' }, noStore)).toEqual({ policy: { kind: 'any' }, warn: true });
    expect(await resolveTrustPolicy({ ...base, transportAuthenticatesServer: true }, noStore)).toEqual({ policy: { kind: 'any' }, warn: false });
  });

  it('otherwise → TOFU with the known_hosts store at the configured path, keyed by the endpoint', async () => {
    const path = freshPath();
    const k = key();
    await (await KnownHosts.open(path)).remember('tcp://127.0.0.1:9000', k);
    for (const settings of [{ ...base, knownHostsPath: path }, { ...base, knownHostsPath: path, trust: 'tofu' as const, transportAuthenticatesServer: true }]) {
      const { policy, warn } = await resolveTrustPolicy(settings);
      expect(warn).toBe(false);
      if (policy.kind !== 'tofu') throw new Error(`expected tofu, got ${policy.kind}`);
      expect(policy.endpoint).toBe('tcp://127.0.0.1:9000');
      expect(policy.store.path).toBe(path);
      expect(toHex(policy.store.lookup(policy.endpoint)!)).toBe(toHex(k));
    }
  });
});
