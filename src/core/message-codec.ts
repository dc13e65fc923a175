/**
 * Message encoding (protocol.md §2): the bincode-1 default layout of the crate's `Message` enum.
 *
 * Variant tag u32 little-endian; `String` and `Vec<u8>` = u64 LE length ‖ bytes; fixed arrays raw;
 * u64 LE; struct fields in declaration order. Encoders size first, allocate once, then write
 * ({@link encodedLength}, {@link encodeMessageInto}). Decoded byte fields (`payload`, `pubKey`,
 * `nonce`, `nonceVerification`) are views of the input, not copies: they stay valid as long as the
 * input bytes are left unchanged.
 */
import { NproError } from './errors.js';
import { MESSAGE_TAGS, type Message } from './message.js';
import { utf8Encoder } from '../utils/bytes.js';

/** Largest request id and `GoAway.last_id` (protocol.md §2): 2^53 − 1. */
export const MAX_MESSAGE_ID = Number.MAX_SAFE_INTEGER;
export const PUB_KEY_SIZE = 32;
export const NONCE_SIZE = 16;
export const NONCE_VERIFICATION_SIZE = 32;

const U64_MAX = (1n << 64n) - 1n;
/** Fatal UTF-8 decoding that keeps a leading U+FEFF (a BOM is text here, not a marker). */
const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
/** Strings up to this many UTF-16 units are sized and written by a JS loop, longer ones natively. */
const SHORT_STRING = 64;

const malformed = (message: string, cause?: unknown): NproError => new NproError('MESSAGE_MALFORMED', message, { cause });

/**
 * The exact number of bytes of `m` in the §2 layout. Validates every field, so that nothing is
 * allocated for a message that cannot be sent: throws `MESSAGE_MALFORMED` for a string with a lone
 * surrogate, a fixed array of the wrong size, an id above 2^53 − 1, a timestamp outside u64.
 */
export function encodedLength(m: Message): number {
  switch (m.type) {
    case 'Ping':
    case 'Pong':
    case 'Disconnect':
    case 'Unknown':
      return 4;
    case 'SecureHandshakeInit':
      fixed(m.pubKey, PUB_KEY_SIZE, 'pub_key');
      fixed(m.nonce, NONCE_SIZE, 'nonce');
      if (typeof m.timestamp !== 'bigint' || m.timestamp < 0n || m.timestamp > U64_MAX) {
        throw malformed('timestamp must be a bigint in the u64 range');
      }
      return 4 + PUB_KEY_SIZE + 8 + NONCE_SIZE;
    case 'SecureHandshakeResponse':
      fixed(m.pubKey, PUB_KEY_SIZE, 'pub_key');
      fixed(m.nonce, NONCE_SIZE, 'nonce');
      fixed(m.nonceVerification, NONCE_VERIFICATION_SIZE, 'nonce_verification');
      return 4 + PUB_KEY_SIZE + NONCE_SIZE + NONCE_VERIFICATION_SIZE;
    case 'SecureHandshakeConfirm':
      fixed(m.nonceVerification, NONCE_VERIFICATION_SIZE, 'nonce_verification');
      return 4 + NONCE_VERIFICATION_SIZE;
    case 'Echo':
      return 12 + utf8Length(m.text);
    case 'Custom':
      return 20 + utf8Length(m.command) + bytesLength(m.payload);
    case 'Request':
      checkId(m.id);
      return 28 + utf8Length(m.command) + bytesLength(m.payload);
    case 'Response':
      checkId(m.id);
      return 20 + bytesLength(m.payload);
    case 'Failure':
      checkId(m.id);
      return 28 + utf8Length(m.code) + utf8Length(m.message);
    case 'Cancel':
      checkId(m.id);
      return 12;
    case 'GoAway':
      checkId(m.lastId);
      return 20 + utf8Length(m.reason);
    default:
      throw malformed(`no message variant ${String((m as { type: unknown }).type)}`);
  }
}

function fixed(a: Uint8Array, size: number, field: string): void {
  if (!(a instanceof Uint8Array) || a.length !== size) throw malformed(`${field} must be exactly ${size} bytes`);
}

function bytesLength(a: Uint8Array): number {
  if (!(a instanceof Uint8Array)) throw malformed('a byte field must be a Uint8Array');
  return a.length;
}

function checkId(id: number): void {
  if (!Number.isSafeInteger(id) || id < 0) throw malformed(`id ${id} is not an integer in 0 … 2^53 − 1`);
}

/** UTF-8 length of `s`; refuses strings that are not valid Unicode (protocol.md §2). */
function utf8Length(s: string): number {
  if (typeof s !== 'string') throw malformed('a string field must be a string');
  const n = s.length;
  if (n > SHORT_STRING) {
    if (!isWellFormed(s)) throw malformed('string holds a lone surrogate');
    return Buffer.byteLength(s, 'utf8');
  }
  let bytes = n;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) bytes += 1;
    else if (c < 0xd800 || c > 0xdfff) bytes += 2;
    else {
      // A high surrogate followed by a low one: 2 units, 4 bytes.
      const d = i + 1 < n ? s.charCodeAt(i + 1) : 0;
      if (c > 0xdbff || d < 0xdc00 || d > 0xdfff) throw malformed('string holds a lone surrogate');
      bytes += 2;
      i++;
    }
  }
  return bytes;
}

/** `String.prototype.isWellFormed` (ES2024, native in Node 20), typed here for the ES2023 lib. */
const isWellFormed = (s: string): boolean => (s as unknown as { isWellFormed(): boolean }).isWellFormed();

/** `m` in the §2 layout, exactly {@link encodedLength} bytes (maybe a view of Node's buffer pool). */
export function encodeMessage(m: Message): Uint8Array {
  const out = allocate(encodedLength(m));
  writeMessage(m, out, 0);
  return out;
}

/**
 * Bytes that the encoder overwrites entirely. V8 keeps typed arrays of up to 64 bytes on its heap
 * (cheap); up to 4 KiB, a view of Node's pool (uninitialised) beats a new zeroed ArrayBuffer.
 */
function allocate(length: number): Uint8Array {
  if (length <= 64 || length >= 4096) return new Uint8Array(length);
  const b = Buffer.allocUnsafe(length);
  return new Uint8Array(b.buffer, b.byteOffset, length);
}

/**
 * Writes `m` at `offset` of `out` and returns the offset after it. Validates `m` as
 * {@link encodedLength} does and throws `INVALID_ARGUMENT`, writing nothing, when `out` is too small.
 */
export function encodeMessageInto(m: Message, out: Uint8Array, offset: number): number {
  const length = encodedLength(m);
  if (!Number.isInteger(offset) || offset < 0 || out.length - offset < length) {
    throw new NproError('INVALID_ARGUMENT', `${length} bytes do not fit at offset ${offset} of ${out.length}`);
  }
  return writeMessage(m, out, offset);
}

/** The variants whose last field is a byte payload: their encoding is a head followed by the payload bytes. */
export type PayloadMessage = Extract<Message, { type: 'Custom' | 'Request' | 'Response' }>;

/** True for a message whose encoding ends with its `payload` bytes (Custom, Request, Response). */
export function endsWithPayload(m: Message): m is PayloadMessage {
  return m.type === 'Custom' || m.type === 'Request' || m.type === 'Response';
}

/**
 * Writes `m` at `offset` of `out` without the bytes of its trailing payload (their length prefix
 * included): the encoding is this head followed by `m.payload`, which a record sealer feeds to the
 * cipher straight from the caller's buffer. `m` must have been sized by {@link encodedLength};
 * `out` must hold `encodedLength(m) − m.payload.length` bytes at `offset`. Returns the offset after the head.
 */
export function encodeMessageHeadInto(m: PayloadMessage, out: Uint8Array, offset: number): number {
  const head = encodedLength(m) - m.payload.length;
  if (!Number.isInteger(offset) || offset < 0 || out.length - offset < head) {
    throw new NproError('INVALID_ARGUMENT', `${head} bytes do not fit at offset ${offset} of ${out.length}`);
  }
  return writeMessage(m, out, offset, false);
}

/** Writes a message already checked by {@link encodedLength} (without its trailing payload bytes when `payload` is false). */
function writeMessage(m: Message, out: Uint8Array, o: number, payload = true): number {
  out[o] = MESSAGE_TAGS[m.type];
  out[o + 1] = out[o + 2] = out[o + 3] = 0;
  o += 4;
  switch (m.type) {
    case 'Ping':
    case 'Pong':
    case 'Disconnect':
    case 'Unknown':
      return o;
    case 'SecureHandshakeInit':
      out.set(m.pubKey, o);
      o = writeU64(out, o + PUB_KEY_SIZE, Number(m.timestamp & 0xffffffffn), Number(m.timestamp >> 32n));
      out.set(m.nonce, o);
      return o + NONCE_SIZE;
    case 'SecureHandshakeResponse':
      out.set(m.pubKey, o);
      out.set(m.nonce, o + PUB_KEY_SIZE);
      out.set(m.nonceVerification, o + PUB_KEY_SIZE + NONCE_SIZE);
      return o + PUB_KEY_SIZE + NONCE_SIZE + NONCE_VERIFICATION_SIZE;
    case 'SecureHandshakeConfirm':
      out.set(m.nonceVerification, o);
      return o + NONCE_VERIFICATION_SIZE;
    case 'Echo':
      return writeString(out, o, m.text);
    case 'Custom':
      return writeBytes(out, writeString(out, o, m.command), m.payload, payload);
    case 'Request':
      return writeBytes(out, writeString(out, writeId(out, o, m.id), m.command), m.payload, payload);
    case 'Response':
      return writeBytes(out, writeId(out, o, m.id), m.payload, payload);
    case 'Failure':
      return writeString(out, writeString(out, writeId(out, o, m.id), m.code), m.message);
    case 'Cancel':
      return writeId(out, o, m.id);
    case 'GoAway':
      return writeString(out, writeId(out, o, m.lastId), m.reason);
  }
}

function writeU64(out: Uint8Array, o: number, lo: number, hi: number): number {
  out[o] = lo;
  out[o + 1] = lo >>> 8;
  out[o + 2] = lo >>> 16;
  out[o + 3] = lo >>> 24;
  out[o + 4] = hi;
  out[o + 5] = hi >>> 8;
  out[o + 6] = hi >>> 16;
  out[o + 7] = hi >>> 24;
  return o + 8;
}

function writeId(out: Uint8Array, o: number, id: number): number {
  return writeU64(out, o, id >>> 0, Math.floor(id / 0x1_0000_0000));
}

function writeBytes(out: Uint8Array, o: number, bytes: Uint8Array, withBytes = true): number {
  const n = bytes.length;
  o = writeU64(out, o, n, 0);
  if (!withBytes) return o;
  if (n > 16) out.set(bytes, o);
  else for (let i = 0; i < n; i++) out[o + i] = bytes[i]!;
  return o + n;
}

/** u64 LE byte length ‖ UTF-8 bytes. ASCII strings of up to 64 units are copied by a JS loop. */
function writeString(out: Uint8Array, o: number, s: string): number {
  const start = o + 8;
  const n = s.length;
  let end = start;
  let i = 0;
  if (n <= SHORT_STRING) {
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      out[end++] = c;
    }
  }
  if (i < n) end = start + utf8Encoder.encodeInto(s, out.subarray(start)).written;
  writeU64(out, o, end - start, 0);
  return end;
}

/** Read position of the decoder in progress (decoding is synchronous and never re-entered). */
let at = 0;

/**
 * Decodes one message (protocol.md §2). A tag with no variant gives `Unknown` (the rest ignored);
 * bytes after a complete variant are ignored. Empty input, truncation, a length prefix larger than
 * the remaining bytes, invalid UTF-8 or an id above 2^53 − 1 → `MESSAGE_MALFORMED`; nothing of a
 * claimed length is allocated before it is checked against the bytes present.
 */
export function decodeMessage(bytes: Uint8Array): Message {
  if (bytes.length < 4) throw malformed(bytes.length === 0 ? 'empty message' : 'message tag truncated');
  const tag = (bytes[0]! | (bytes[1]! << 8) | (bytes[2]! << 16) | (bytes[3]! << 24)) >>> 0;
  at = 4;
  // Fields are read in declaration order: object literal properties are evaluated in source order.
  switch (tag) {
    case 0:
      return { type: 'Ping' };
    case 1:
      return { type: 'Pong' };
    case 2:
      return { type: 'SecureHandshakeInit', pubKey: readFixed(bytes, PUB_KEY_SIZE), timestamp: readU64(bytes), nonce: readFixed(bytes, NONCE_SIZE) };
    case 3:
      return {
        type: 'SecureHandshakeResponse',
        pubKey: readFixed(bytes, PUB_KEY_SIZE),
        nonce: readFixed(bytes, NONCE_SIZE),
        nonceVerification: readFixed(bytes, NONCE_VERIFICATION_SIZE),
      };
    case 4:
      return { type: 'SecureHandshakeConfirm', nonceVerification: readFixed(bytes, NONCE_VERIFICATION_SIZE) };
    case 5:
      return { type: 'Echo', text: readString(bytes) };
    case 6:
      return { type: 'Disconnect' };
    case 7:
      return { type: 'Custom', command: readString(bytes), payload: readBytes(bytes) };
    case 9:
      return { type: 'Request', id: readId(bytes), command: readString(bytes), payload: readBytes(bytes) };
    case 10:
      return { type: 'Response', id: readId(bytes), payload: readBytes(bytes) };
    case 11:
      return { type: 'Failure', id: readId(bytes), code: readString(bytes), message: readString(bytes) };
    case 12:
      return { type: 'Cancel', id: readId(bytes) };
    case 13:
      return { type: 'GoAway', lastId: readId(bytes), reason: readString(bytes) };
    default:
      // Tag 8 and every tag with no variant (protocol.md §2).
      return { type: 'Unknown' };
  }
}

function readU32(b: Uint8Array): number {
  const o = at;
  if (b.length - o < 4) throw malformed(`message truncated at byte ${o}`);
  at = o + 4;
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}

/** A full u64 (timestamps). */
function readU64(b: Uint8Array): bigint {
  const lo = readU32(b);
  const hi = readU32(b);
  return hi === 0 ? BigInt(lo) : (BigInt(hi) << 32n) | BigInt(lo);
}

function readId(b: Uint8Array): number {
  const lo = readU32(b);
  const hi = readU32(b);
  if (hi > 0x1f_ffff) throw malformed('id above 2^53 − 1');
  return hi * 0x1_0000_0000 + lo;
}

/** A u64 length prefix, checked against the bytes that remain (read as two u32 halves). */
function readLength(b: Uint8Array): number {
  const lo = readU32(b);
  const hi = readU32(b);
  if (hi !== 0 || lo > b.length - at) {
    throw malformed(`length prefix ${hi === 0 ? lo : 'above 2^32'} exceeds the ${b.length - at} bytes that remain`);
  }
  return lo;
}

function readFixed(b: Uint8Array, size: number): Uint8Array {
  const o = at;
  if (b.length - o < size) throw malformed(`message truncated at byte ${o}`);
  at = o + size;
  return b.subarray(o, o + size);
}

function readBytes(b: Uint8Array): Uint8Array {
  const n = readLength(b);
  const o = at;
  at = o + n;
  return b.subarray(o, o + n);
}

/** A `String`: short ASCII by a JS loop, anything else by the fatal UTF-8 decoder. */
function readString(b: Uint8Array): string {
  const n = readLength(b);
  const o = at;
  at = o + n;
  if (n <= 16) {
    let s = '';
    let i = o;
    for (; i < o + n; i++) {
      const c = b[i]!;
      if (c >= 0x80) break;
      s += String.fromCharCode(c);
    }
    if (i === o + n) return s;
  }
  try {
    return utf8Strict.decode(b.subarray(o, o + n));
  } catch (err) {
    throw malformed('string is not valid UTF-8', err);
  }
}
