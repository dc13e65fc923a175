/**
 * Shared fixtures of the handshake tests: the golden v2 sessions (tests/vectors/npro-golden.json),
 * both crypto providers, and builders for client/server pairs with injected keys and clocks.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { NproError } from '../../src/core/errors.js';
import { constantTimeEqual, fromHex } from '../../src/utils/bytes.js';
import { nobleCrypto, nodeCrypto, type CryptoProvider } from '../../src/utils/crypto/index.js';
import { x25519KeyPair, type X25519KeyPair } from '../../src/protocol/noise.js';
import {
  ClientHandshake, ServerHandshake, type ClientHandshakeOptions, type HandshakeFrame, type ServerHandshakeOptions,
} from '../../src/protocol/handshake.js';

const here = dirname(fileURLToPath(import.meta.url));

export function loadVectors<T>(name: string): T {
  return JSON.parse(readFileSync(join(here, '..', 'vectors', name), 'utf8')) as T;
}

export const PROVIDERS: readonly CryptoProvider[] = [nodeCrypto, nobleCrypto];

export interface GoldenStep {
  step: string;
  dir: string;
  fields: Record<string, number>;
  payload: string;
  noise_message: string;
  frame: string;
}

export interface GoldenSession {
  name: string;
  inputs: {
    client_static_secret: string; client_static_public: string; client_ephemeral_secret: string;
    server_static_secret: string; server_static_public: string; server_ephemeral_secret: string;
    client_clock_ms: number; server_clock_ms: number; client_features: number; server_features: number;
    client_max_frame: number; server_max_frame: number; server_max_streams: number; authorized_clients: string[];
  };
  handshake: GoldenStep[];
  keys: { session_id: string; negotiated_features: number; c2s: string[]; s2c: string[] };
}

export interface GoldenReject {
  server_clock_ms: number;
  trigger: string;
  code: string;
  number: number;
  reason: string;
  frame: string;
}

export interface Golden {
  v2_sessions: GoldenSession[];
  reject_frames: GoldenReject[];
}

export const golden = loadVectors<Golden>('npro-golden.json');

/** A whole frame as the frame decoder would return it (the bytes are trusted to be one frame). */
export function asFrame(bytes: Uint8Array): HandshakeFrame {
  return { version: bytes[4]!, header: bytes.subarray(0, 9), payload: bytes.subarray(9) };
}

/** A trust check that accepts exactly `pinned` (constant-time), else SERVER_KEY_MISMATCH. */
export function pinTo(pinned: Uint8Array): (k: Uint8Array) => NproError | null {
  return (k) => (constantTimeEqual(k, pinned) ? null : new NproError('SERVER_KEY_MISMATCH', 'server key differs from the pinned key'));
}

export const acceptAny = (): NproError | null => null;

/** Builds the client and server of a golden session with its injected keys, clocks and parameters. */
export function goldenPair(s: GoldenSession, crypto: CryptoProvider): { client: ClientHandshake; server: ServerHandshake } {
  const i = s.inputs;
  const authorized = i.authorized_clients.map(fromHex);
  const client = new ClientHandshake({
    crypto,
    staticKey: x25519KeyPair(crypto, fromHex(i.client_static_secret)),
    ephemeralSecret: fromHex(i.client_ephemeral_secret),
    now: () => i.client_clock_ms,
    features: i.client_features,
    maxFrame: i.client_max_frame,
    checkServerKey: pinTo(fromHex(i.server_static_public)),
  });
  const server = new ServerHandshake({
    crypto,
    staticKey: x25519KeyPair(crypto, fromHex(i.server_static_secret)),
    ephemeralSecret: fromHex(i.server_ephemeral_secret),
    now: () => i.server_clock_ms,
    features: i.server_features,
    maxFrame: i.server_max_frame,
    maxStreams: i.server_max_streams,
    ...(authorized.length === 0 ? {} : { authorize: (k: Uint8Array) => authorized.some((a) => constantTimeEqual(a, k)) }),
  });
  return { client, server };
}

export interface PairOptions {
  crypto: CryptoProvider;
  clientKey?: X25519KeyPair;
  serverKey?: X25519KeyPair;
  clientNow?: () => number;
  serverNow?: () => number;
  client?: Partial<ClientHandshakeOptions>;
  server?: Partial<ServerHandshakeOptions>;
}

/** A client/server pair with fresh ephemerals; the client pins the server's key unless told otherwise. */
export function freshPair(o: PairOptions): { client: ClientHandshake; server: ServerHandshake; serverKey: X25519KeyPair } {
  const serverKey = o.serverKey ?? x25519KeyPair(o.crypto, o.crypto.x25519GenerateSecret());
  const clientKey = o.clientKey ?? x25519KeyPair(o.crypto, o.crypto.x25519GenerateSecret());
  const client = new ClientHandshake({
    crypto: o.crypto, staticKey: clientKey, features: 3, maxFrame: 65_536,
    checkServerKey: pinTo(serverKey.publicKey), now: o.clientNow ?? (() => 1_700_000_000_000), ...o.client,
  });
  const server = new ServerHandshake({
    crypto: o.crypto, staticKey: serverKey, features: 1, maxFrame: 65_536, maxStreams: 100,
    now: o.serverNow ?? (() => 1_700_000_000_000), ...o.server,
  });
  return { client, server, serverKey };
}

/** Low-order Curve25519 u-coordinates (RFC 7748 §5 discussion; libsodium's blocklist): DH with them is all zeros. */
export const LOW_ORDER_POINTS: readonly string[] = [
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0100000000000000000000000000000000000000000000000000000000000000',
  'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800',
  '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
];
