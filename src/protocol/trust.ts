/**
 * Who trusts whom (protocol.md §6): the client's trust policy for the server's static key, and the
 * server's list of authorised client keys. Pure decisions; the only I/O is through the `KnownHosts`
 * object (opening it, and the deferred `remember`).
 *
 * Every key comparison is constant-time and runs over every configured key (no early exit), so the
 * time taken says nothing about which key matched or how much of it did.
 */
import { NproError } from '../core/errors.js';
import { constantTimeEqual, toBase64Url } from '../utils/bytes.js';
import { KnownHosts } from '../utils/known-hosts.js';
import { parsePublicKey } from '../utils/keys.js';

export type TrustPolicy =
  | { kind: 'pinned'; keys: Uint8Array[] }
  | { kind: 'tofu'; store: KnownHosts; endpoint: string }
  | { kind: 'any' };

export type TrustDecision =
  | {
      ok: true;
      /**
       * TOFU, first contact only: records the key in known_hosts. The session driver calls it once
       * the first record from the server decrypts (protocol.md §6), never before.
       */
      pendingRemember?: () => Promise<void>;
    }
  | { ok: false; error: NproError };

/** True when `key` equals one of `keys`; every entry is compared, in constant time. */
function matchesAny(keys: readonly Uint8Array[], key: Uint8Array): boolean {
  let found = 0;
  for (const k of keys) found |= constantTimeEqual(k, key) ? 1 : 0;
  return found === 1;
}

function mismatch(message: string, details: Record<string, unknown>): TrustDecision {
  return { ok: false, error: new NproError('SERVER_KEY_MISMATCH', message, { details }) };
}

/**
 * Checks the server's static key against the client's policy, after WELCOME decrypts and before AUTH
 * is sent (protocol.md §3, §6). A refusal is `SERVER_KEY_MISMATCH`.
 */
export function checkServerKey(policy: TrustPolicy, serverStaticPublic: Uint8Array): TrustDecision {
  const presented = serverStaticPublic.length === 32 ? toBase64Url(serverStaticPublic) : `(${serverStaticPublic.length} bytes)`;
  switch (policy.kind) {
    case 'any':
      return { ok: true };
    case 'pinned':
      if (matchesAny(policy.keys, serverStaticPublic)) return { ok: true };
      return mismatch(`the server key ${presented} is not one of the ${policy.keys.length} pinned in security.server_public_key`, { presented });
    case 'tofu': {
      const { store, endpoint } = policy;
      const known = store.lookup(endpoint);
      if (known === undefined) {
        if (serverStaticPublic.length !== 32) return mismatch(`the server key of ${endpoint} is not 32 bytes`, { endpoint });
        const key = serverStaticPublic.slice();
        return { ok: true, pendingRemember: () => store.remember(endpoint, key) };
      }
      if (constantTimeEqual(known, serverStaticPublic)) return { ok: true };
      const expected = toBase64Url(known);
      return mismatch(
        `the server key of ${endpoint} changed: ${store.path} has ${expected}, the server presented ${presented}; ` +
          `if the change is expected, remove the ${endpoint} line from ${store.path}`,
        { endpoint, expected, presented },
      );
    }
  }
}

/**
 * Server side: whether a client's static key may open a session. An empty list admits any client
 * (security.authorized_clients, protocol.md §6).
 */
export function isClientAuthorized(authorized: readonly Uint8Array[], clientStaticPublic: Uint8Array): boolean {
  if (authorized.length === 0) return true;
  return matchesAny(authorized, clientStaticPublic);
}

/** The configuration values the client trust policy is made from. */
export interface TrustSettings {
  /** security.server_public_key: one key or a list, as 43-character base64url text or 32 bytes. */
  serverPublicKey?: string | Uint8Array | readonly (string | Uint8Array)[] | undefined;
  /** security.trust, only when set explicitly in the configuration. */
  trust?: 'pinned' | 'tofu' | 'any' | undefined;
  /** security.known_hosts. */
  knownHostsPath: string;
  /** The endpoint URL exactly as configured: the known_hosts key. */
  endpoint: string;
  /** True over `tls://` and `wss://`, where the certificate authenticates the server. */
  transportAuthenticatesServer?: boolean | undefined;
}

function toKey(k: string | Uint8Array): Uint8Array {
  if (typeof k === 'string') return parsePublicKey(k);
  if (k.length !== 32) throw new NproError('CONFIG_INVALID', `security.server_public_key: a key is 32 bytes, not ${k.length}`);
  return k.slice();
}

/**
 * The client trust policy (protocol.md §6), in order: `server_public_key` (one or a list) → pinned;
 * else `trust = "any"` set explicitly → any, with `warn: true` so the caller logs a warning; else, over
 * a transport whose certificate authenticates the server and with `trust` unset → any (no warning);
 * else trust on first use with the known_hosts store. `trust = "pinned"` without a key is
 * `CONFIG_INVALID`.
 */
export async function resolveTrustPolicy(
  settings: TrustSettings,
  openStore: (path: string) => Promise<KnownHosts> = (path) => KnownHosts.open(path),
): Promise<{ policy: TrustPolicy; warn: boolean }> {
  const raw = settings.serverPublicKey;
  const listed = raw === undefined ? [] : typeof raw === 'string' || raw instanceof Uint8Array ? [raw] : [...raw];
  if (listed.length > 0) return { policy: { kind: 'pinned', keys: listed.map(toKey) }, warn: false };
  if (settings.trust === 'pinned') {
    throw new NproError('CONFIG_INVALID', 'security.trust = "pinned" needs security.server_public_key');
  }
  if (settings.trust === 'any') return { policy: { kind: 'any' }, warn: true };
  if (settings.trust === undefined && settings.transportAuthenticatesServer === true) return { policy: { kind: 'any' }, warn: false };
  const store = await openStore(settings.knownHostsPath);
  return { policy: { kind: 'tofu', store, endpoint: settings.endpoint }, warn: false };
}
