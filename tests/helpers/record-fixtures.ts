/**
 * Shared fixtures of the record tests: golden messages (tests/vectors/npro-golden.json, whose
 * field names are those of protocol.md §2) turned into `Message` values, message generators for
 * property tests, and a frame splitter.
 */
import fc from 'fast-check';
import type { Message } from '../../src/core/message.js';
import { fromHex } from '../../src/utils/bytes.js';
import { loadVector } from './load-vector.js';

/** A message as the golden file writes it: `type` plus the §2 fields, bytes in hex. */
export type GoldenMessage = { type: string } & Record<string, string | number>;

export interface GoldenRecord {
  dir: 'c2s' | 's2c';
  counter: number;
  note: string;
  key?: string;
  nonce?: string;
  aad: string;
  flags: number;
  messages: GoldenMessage[];
  body: string;
  plaintext: string;
  frame: string;
}

export interface GoldenRecordSession {
  name: string;
  inputs: {
    client_features: number;
    server_features: number;
    client_max_frame: number;
    server_max_frame: number;
    rekey_interval: number;
    client_compression: string;
    server_compression: string;
  };
  keys: { negotiated_features: number; c2s: string[]; s2c: string[] };
  records: GoldenRecord[];
}

export interface GoldenV1 {
  inputs: {
    client_ephemeral_secret: string;
    server_ephemeral_secret: string;
    client_nonce: string;
    server_nonce: string;
    client_time_ms: number;
    server_clock_ms: number;
  };
  handshake: { step: string; dir: string; message: GoldenMessage; frame: string }[];
  key: string;
  records: { dir: string; nonce: string; message: GoldenMessage; frame: string }[];
}

export const golden = loadVector<{ v2_sessions: GoldenRecordSession[]; v1: GoldenV1 }>('npro-golden.json');

function str(m: GoldenMessage, field: string): string {
  const v = m[field];
  if (typeof v !== 'string') throw new TypeError(`golden ${m.type}.${field} is not a string`);
  return v;
}

function num(m: GoldenMessage, field: string): number {
  const v = m[field];
  if (typeof v !== 'number') throw new TypeError(`golden ${m.type}.${field} is not a number`);
  return v;
}

/** The `Message` of a golden message object. */
export function fromGolden(m: GoldenMessage): Message {
  switch (m.type) {
    case 'Ping':
    case 'Pong':
    case 'Disconnect':
    case 'Unknown':
      return { type: m.type };
    case 'Echo':
      return { type: 'Echo', text: str(m, 'text') };
    case 'Custom':
      return { type: 'Custom', command: str(m, 'command'), payload: fromHex(str(m, 'payload')) };
    case 'Request':
      return { type: 'Request', id: num(m, 'id'), command: str(m, 'command'), payload: fromHex(str(m, 'payload')) };
    case 'Response':
      return { type: 'Response', id: num(m, 'id'), payload: fromHex(str(m, 'payload')) };
    case 'Failure':
      return { type: 'Failure', id: num(m, 'id'), code: str(m, 'code'), message: str(m, 'message') };
    case 'Cancel':
      return { type: 'Cancel', id: num(m, 'id') };
    case 'GoAway':
      return { type: 'GoAway', lastId: num(m, 'last_id'), reason: str(m, 'reason') };
    case 'SecureHandshakeInit':
      return { type: 'SecureHandshakeInit', pubKey: fromHex(str(m, 'pub_key')), timestamp: BigInt(num(m, 'timestamp')), nonce: fromHex(str(m, 'nonce')) };
    case 'SecureHandshakeResponse':
      return {
        type: 'SecureHandshakeResponse', pubKey: fromHex(str(m, 'pub_key')), nonce: fromHex(str(m, 'nonce')),
        nonceVerification: fromHex(str(m, 'nonce_verification')),
      };
    case 'SecureHandshakeConfirm':
      return { type: 'SecureHandshakeConfirm', nonceVerification: fromHex(str(m, 'nonce_verification')) };
    default:
      throw new TypeError(`golden message type ${m.type}`);
  }
}

/** Header and payload of one whole frame (the bytes are trusted to be exactly one frame). */
export function splitFrame(frame: Uint8Array): { header: Uint8Array; payload: Uint8Array } {
  return { header: frame.subarray(0, 9), payload: frame.subarray(9) };
}

const text = fc.string({ unit: 'grapheme', maxLength: 24 });
const bytes = (max: number): fc.Arbitrary<Uint8Array> => fc.uint8Array({ maxLength: max });
const id = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });

/** Any v2 record message (every variant), payloads up to `maxPayload` bytes. */
export function arbMessage(maxPayload = 256): fc.Arbitrary<Message> {
  return fc.oneof(
    fc.constantFrom<Message>({ type: 'Ping' }, { type: 'Pong' }, { type: 'Disconnect' }, { type: 'Unknown' }),
    text.map((t): Message => ({ type: 'Echo', text: t })),
    fc.record({ command: text, payload: bytes(maxPayload) }).map((r): Message => ({ type: 'Custom', ...r })),
    fc.record({ id, command: text, payload: bytes(maxPayload) }).map((r): Message => ({ type: 'Request', ...r })),
    fc.record({ id, payload: bytes(maxPayload) }).map((r): Message => ({ type: 'Response', ...r })),
    fc.record({ id, code: text, message: text }).map((r): Message => ({ type: 'Failure', ...r })),
    id.map((i): Message => ({ type: 'Cancel', id: i })),
    fc.record({ lastId: id, reason: text }).map((r): Message => ({ type: 'GoAway', ...r })),
  );
}
