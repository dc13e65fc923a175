/**
 * The v2 handshake on the wire (protocol.md §3): kind bytes, the big-endian payloads of HELLO,
 * WELCOME and AUTH, the frames that carry them, and REJECT. The one module that describes these
 * layouts; the state machines in `handshake.ts` import it.
 *
 * | kind   | name    | payload (big-endian)                                            | payload / Noise msg / frame |
 * |--------|---------|-----------------------------------------------------------------|-----------------------------|
 * | `0x01` | HELLO   | client_time u64 · features u32 · max_frame u32                  | 16 / 48 / 58                |
 * | `0x02` | WELCOME | server_time u64 · features u32 · max_frame u32 · max_streams u32 | 20 / 116 / 126              |
 * | `0x03` | AUTH    | features u32                                                    | 4 / 68 / 78                 |
 * | `0x7F` | REJECT  | code u16 · reason UTF-8 (0–256 bytes), not Noise                | frame payload 3–259         |
 */
import { NproError, WIRE_CODES, type WireErrorCode } from '../core/errors.js';
import { encodeFrame, VERSION_V2 } from '../core/frame.js';
import { utf8Encoder, utf8LossyDecoder } from '../utils/bytes.js';
import { DHLEN, TAGLEN } from './noise.js';

/** The kind byte that starts every handshake frame payload (protocol.md §3). */
export const HANDSHAKE_KIND = {
  HELLO: 0x01,
  WELCOME: 0x02,
  AUTH: 0x03,
  REJECT: 0x7f,
} as const;

export type HandshakeKind = (typeof HANDSHAKE_KIND)[keyof typeof HANDSHAKE_KIND];

/** The Noise prologue of every v2 handshake: "NPRO" ‖ version 02 (protocol.md §3). */
export const PROLOGUE: Uint8Array = new Uint8Array([0x4e, 0x50, 0x52, 0x4f, 0x02]);

/** Feature bits (protocol.md §3): a bit means "this side can decode it" (bit 2: "agrees to plaintext records"). */
export const FEATURES = {
  LZ4: 1 << 0,
  ZSTD: 1 << 1,
  PLAINTEXT_RECORDS: 1 << 2,
} as const;

export const HELLO_PAYLOAD_LENGTH = 16;
export const WELCOME_PAYLOAD_LENGTH = 20;
export const AUTH_PAYLOAD_LENGTH = 4;
/** `-> e`: e ‖ payload in clear. */
export const HELLO_NOISE_LENGTH = DHLEN + HELLO_PAYLOAD_LENGTH;
/** `<- e, ee, s, es`: e ‖ enc(s) ‖ enc(payload). */
export const WELCOME_NOISE_LENGTH = DHLEN + DHLEN + TAGLEN + WELCOME_PAYLOAD_LENGTH + TAGLEN;
/** `-> s, se`: enc(s) ‖ enc(payload). */
export const AUTH_NOISE_LENGTH = DHLEN + TAGLEN + AUTH_PAYLOAD_LENGTH + TAGLEN;

/** `max_frame` bounds (protocol.md §3). */
export const MAX_FRAME_MIN = 1_024;
export const MAX_FRAME_MAX = 16_777_216;
/** The server accepts client_time within [now − 30 s, now + 30 s] (protocol.md §3). */
export const TIMESTAMP_WINDOW_MS = 30_000;
/** REJECT reason bytes a sender writes at most and a receiver reads at most (protocol.md §3). */
export const REJECT_REASON_MAX = 256;

export interface HelloPayload {
  /** Unix ms; a full u64. */
  clientTime: bigint;
  features: number;
  maxFrame: number;
}

export interface WelcomePayload {
  /** Unix ms, informational; a full u64. */
  serverTime: bigint;
  features: number;
  maxFrame: number;
  maxStreams: number;
}

export interface AuthPayload {
  features: number;
}

export function encodeHello(p: HelloPayload): Uint8Array {
  const out = new Uint8Array(HELLO_PAYLOAD_LENGTH);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt.asUintN(64, p.clientTime));
  view.setUint32(8, p.features >>> 0);
  view.setUint32(12, p.maxFrame >>> 0);
  return out;
}

/** Decodes a HELLO payload; any length but 16 → `HANDSHAKE_FAILED`. */
export function decodeHello(bytes: Uint8Array): HelloPayload {
  const view = payloadView(bytes, HELLO_PAYLOAD_LENGTH, 'HELLO');
  return { clientTime: view.getBigUint64(0), features: view.getUint32(8), maxFrame: view.getUint32(12) };
}

export function encodeWelcome(p: WelcomePayload): Uint8Array {
  const out = new Uint8Array(WELCOME_PAYLOAD_LENGTH);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt.asUintN(64, p.serverTime));
  view.setUint32(8, p.features >>> 0);
  view.setUint32(12, p.maxFrame >>> 0);
  view.setUint32(16, p.maxStreams >>> 0);
  return out;
}

/** Decodes a WELCOME payload; any length but 20 → `HANDSHAKE_FAILED`. */
export function decodeWelcome(bytes: Uint8Array): WelcomePayload {
  const view = payloadView(bytes, WELCOME_PAYLOAD_LENGTH, 'WELCOME');
  return {
    serverTime: view.getBigUint64(0),
    features: view.getUint32(8),
    maxFrame: view.getUint32(12),
    maxStreams: view.getUint32(16),
  };
}

export function encodeAuth(p: AuthPayload): Uint8Array {
  const out = new Uint8Array(AUTH_PAYLOAD_LENGTH);
  new DataView(out.buffer).setUint32(0, p.features >>> 0);
  return out;
}

/** Decodes an AUTH payload; any length but 4 → `HANDSHAKE_FAILED`. */
export function decodeAuth(bytes: Uint8Array): AuthPayload {
  return { features: payloadView(bytes, AUTH_PAYLOAD_LENGTH, 'AUTH').getUint32(0) };
}

/** True when `maxFrame` is within 1,024 … 16,777,216 (protocol.md §3). */
export function isValidMaxFrame(maxFrame: number): boolean {
  return Number.isInteger(maxFrame) && maxFrame >= MAX_FRAME_MIN && maxFrame <= MAX_FRAME_MAX;
}

/** A v2 frame whose payload is `kind ‖ noiseMessage` (protocol.md §3). */
export function encodeHandshakeFrame(kind: HandshakeKind, noiseMessage: Uint8Array): Uint8Array {
  const payload = new Uint8Array(1 + noiseMessage.length);
  payload[0] = kind;
  payload.set(noiseMessage, 1);
  return encodeFrame(VERSION_V2, payload);
}

/**
 * The REJECT frame for `code` (protocol.md §3): always version 02; payload `7F ‖ code u16 BE ‖ reason`,
 * the reason's UTF-8 cut to at most 256 bytes at a character boundary.
 */
export function encodeRejectFrame(code: WireErrorCode, reason: string): Uint8Array {
  const reasonBytes = truncateUtf8(utf8Encoder.encode(reason), REJECT_REASON_MAX);
  const number = WIRE_CODES[code];
  const payload = new Uint8Array(3 + reasonBytes.length);
  payload[0] = HANDSHAKE_KIND.REJECT;
  payload[1] = number >>> 8;
  payload[2] = number & 0xff;
  payload.set(reasonBytes, 3);
  return encodeFrame(VERSION_V2, payload);
}

export interface DecodedReject {
  /** The code number as received (protocol.md §9). */
  number: number;
  /** The reason, decoded lossily from its first 256 bytes; for people only. */
  reason: string;
  /** The error to report: the code of `number`, or `HANDSHAKE_FAILED` (number kept) when unknown. */
  error: NproError;
}

/**
 * Decodes a REJECT frame payload (`7F ‖ code ‖ reason`). Reason bytes past 256 are ignored and the rest
 * is decoded lossily; a payload that is not a REJECT (shorter than 3 bytes, or another kind) →
 * `HANDSHAKE_FAILED`.
 */
export function decodeReject(payload: Uint8Array): DecodedReject {
  if (payload.length < 3 || payload[0] !== HANDSHAKE_KIND.REJECT) {
    const error = new NproError('HANDSHAKE_FAILED', `malformed REJECT (${payload.length} bytes)`);
    return { number: WIRE_CODES.HANDSHAKE_FAILED, reason: '', error };
  }
  const number = (payload[1]! << 8) | payload[2]!;
  const reason = utf8LossyDecoder.decode(payload.subarray(3, 3 + REJECT_REASON_MAX));
  return { number, reason, error: NproError.fromWireNumber(number, reason) };
}

/** The longest prefix of UTF-8 `bytes` of at most `max` bytes that ends on a character boundary. */
export function truncateUtf8(bytes: Uint8Array, max: number): Uint8Array {
  if (bytes.length <= max) return bytes;
  let end = max;
  // Step back over continuation bytes (10xxxxxx) so the cut falls before a lead byte.
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end -= 1;
  return bytes.subarray(0, end);
}

function payloadView(bytes: Uint8Array, length: number, name: string): DataView {
  if (bytes.length !== length) {
    throw new NproError('HANDSHAKE_FAILED', `${name} payload is ${bytes.length} bytes, expected ${length}`);
  }
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
