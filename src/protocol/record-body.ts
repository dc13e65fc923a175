/**
 * The plaintext of a v2 record (protocol.md §4): `flags u8 ‖ body`.
 *
 * - `flags` bits 0–1: compression of `body` (0 none, 1 LZ4, 2 Zstd); 3, an algorithm that was not
 *   negotiated, or any of bits 2–7 set → `PROTOCOL_ERROR`.
 * - `body` (after decompression): one or more entries `length u32 BE ‖ message bytes (§2)`, length ≥ 1,
 *   at most `max_frame − 17` bytes in all (before compression and after decompression).
 * - LZ4 body: u32 LE uncompressed size ‖ LZ4 block. Zstd body: one Zstandard frame.
 *
 * Broken entry framing → `PROTOCOL_ERROR` and nothing from the record; one entry that fails §2
 * decoding → a `MESSAGE_MALFORMED` item in its place, its siblings decoded normally.
 */
import { NproError } from '../core/errors.js';
import type { Message } from '../core/message.js';
import { decodeMessage, encodedLength, encodeMessageInto } from '../core/message-codec.js';
import {
  LZ4_SIZE_PREFIX_BYTES, lz4CompressBlock, lz4DecompressBlock, zstdCompress, zstdDecompress, type CompressionAlgorithm,
} from '../utils/compression/index.js';
import { FEATURES } from './handshake-messages.js';

/** The compression field of `flags` (bits 0–1). */
export const RECORD_FLAGS = {
  NONE: 0,
  LZ4: 1,
  ZSTD: 2,
} as const;

/** Bytes of a record that are not body: the flags byte and the AEAD tag (protocol.md §4). */
export const RECORD_OVERHEAD = 17;
/** The `length u32 BE` in front of each entry. */
export const ENTRY_HEADER_SIZE = 4;

export type { CompressionAlgorithm };

/** A side's own compression settings (behaviour.md `transport.compression_*`). */
export interface CompressionSettings {
  algorithm: CompressionAlgorithm;
  /** `compression_threshold_bytes`: bodies shorter than this are sent as they are. */
  threshold: number;
  /** Zstd level 1–22 (ignored by LZ4). */
  level: number;
}

/** One entry of a received record: a decoded message, or the error of an entry that failed §2 decoding. */
export type RecordItem = { readonly message: Message } | { readonly error: NproError };

/** The largest body a record to a peer with this `max_frame` may hold (protocol.md §4). */
export function maxBodyLength(maxFrame: number): number {
  return maxFrame - RECORD_OVERHEAD;
}

/** The feature bit that must have been negotiated for a compression algorithm (protocol.md §3). */
export function compressionFeature(algorithm: CompressionAlgorithm): number {
  return algorithm === 'lz4' ? FEATURES.LZ4 : FEATURES.ZSTD;
}

/** Writes the `length u32 BE` that opens an entry of `n` message bytes at `out[o …]`. */
export function writeEntryLength(out: Uint8Array, o: number, n: number): void {
  out[o] = n >>> 24;
  out[o + 1] = (n >>> 16) & 0xff;
  out[o + 2] = (n >>> 8) & 0xff;
  out[o + 3] = n & 0xff;
}

/**
 * Writes the entries of `messages[start … end)` at `offset` of `out` (`lengths[i]` =
 * `encodedLength(messages[i])`, computed by the caller while sizing the buffer); returns the offset
 * after the last entry.
 */
export function writeEntries(
  messages: readonly Message[],
  lengths: readonly number[],
  start: number,
  end: number,
  out: Uint8Array,
  offset: number,
): number {
  let o = offset;
  for (let i = start; i < end; i++) {
    const n = lengths[i]!;
    writeEntryLength(out, o, n);
    const next = encodeMessageInto(messages[i]!, out, o + ENTRY_HEADER_SIZE);
    if (next !== o + ENTRY_HEADER_SIZE + n) {
      throw new NproError('INVALID_STATE', `message ${i} encoded to ${next - o - ENTRY_HEADER_SIZE} bytes, sized as ${n}`);
    }
    o = next;
  }
  return o;
}

/** The body of `messages`: their entries, uncompressed (protocol.md §4). */
export function encodeBody(messages: readonly Message[]): Uint8Array {
  const lengths = messages.map(encodedLength);
  let total = 0;
  for (const n of lengths) total += ENTRY_HEADER_SIZE + n;
  const out = new Uint8Array(total);
  writeEntries(messages, lengths, 0, messages.length, out, 0);
  return out;
}

/** True when a body of `length` bytes is one this side tries to compress (its threshold, a negotiated algorithm). */
export function compressionApplies(settings: CompressionSettings | null, length: number, negotiatedFeatures: number): boolean {
  return settings !== null && length >= settings.threshold && (negotiatedFeatures & compressionFeature(settings.algorithm)) !== 0;
}

/**
 * The compressed form of `body` (prefix included), or `null` when it is sent as it is: compression
 * off, its algorithm not negotiated, the body under the threshold, or the result not strictly smaller
 * (protocol.md §4).
 */
export function maybeCompressBody(
  body: Uint8Array,
  settings: CompressionSettings | null,
  negotiatedFeatures: number,
): { flags: number; data: Uint8Array } | null {
  if (settings === null || !compressionApplies(settings, body.length, negotiatedFeatures)) return null;
  const data = settings.algorithm === 'lz4' ? lz4CompressBlock(body) : zstdCompress(body, settings.level);
  if (data.length >= body.length) return null;
  return { flags: settings.algorithm === 'lz4' ? RECORD_FLAGS.LZ4 : RECORD_FLAGS.ZSTD, data };
}

/**
 * The uncompressed body of a record plaintext (`flags ‖ body`): a subarray when `flags` is 0.
 * Checks `flags` against the negotiated features and the size against `maxBody` (before allocating).
 */
export function recordBody(plaintext: Uint8Array, negotiatedFeatures: number, maxBody: number): Uint8Array {
  if (plaintext.length < 1) throw new NproError('PROTOCOL_ERROR', 'record plaintext has no flags byte');
  const flags = plaintext[0]!;
  const data = plaintext.subarray(1);
  if (flags === RECORD_FLAGS.NONE) {
    if (data.length > maxBody) throw oversize(data.length, maxBody);
    return data;
  }
  if (flags === RECORD_FLAGS.LZ4 && (negotiatedFeatures & FEATURES.LZ4) !== 0) return lz4Body(data, maxBody);
  if (flags === RECORD_FLAGS.ZSTD && (negotiatedFeatures & FEATURES.ZSTD) !== 0) return zstdBody(data, maxBody);
  throw new NproError('PROTOCOL_ERROR', `record flags 0x${flags.toString(16).padStart(2, '0')} are invalid or name an algorithm that was not negotiated`);
}

function lz4Body(data: Uint8Array, maxBody: number): Uint8Array {
  if (data.length < LZ4_SIZE_PREFIX_BYTES) throw new NproError('COMPRESSION_FAILED', 'LZ4 record body shorter than its size prefix');
  const declared = (data[0]! | (data[1]! << 8) | (data[2]! << 16) | (data[3]! << 24)) >>> 0;
  if (declared > maxBody) throw oversize(declared, maxBody);
  const body = lz4DecompressBlock(data, maxBody);
  if (body.length !== declared) {
    throw new NproError('COMPRESSION_FAILED', `LZ4 record body decoded to ${body.length} bytes, its prefix says ${declared}`);
  }
  return body;
}

function zstdBody(data: Uint8Array, maxBody: number): Uint8Array {
  try {
    return zstdDecompress(data, maxBody);
  } catch (err) {
    if (NproError.is(err, 'COMPRESSION_FAILED') && err.details?.['overLimit'] === true) {
      throw new NproError('PROTOCOL_ERROR', `Zstd record body decodes to more than ${maxBody} bytes`, { cause: err });
    }
    throw err;
  }
}

function oversize(length: number, maxBody: number): NproError {
  return new NproError('PROTOCOL_ERROR', `record body of ${length} bytes exceeds the limit of ${maxBody} (max_frame − 17)`);
}

/**
 * The entries of an uncompressed body, each decoded (protocol.md §4). Broken framing (a truncated
 * length, an entry past the end, a zero length, no entry) → `PROTOCOL_ERROR`, nothing returned.
 * Messages are decoded from subarrays of `body` (their byte fields are views of it).
 */
export function readEntries(body: Uint8Array): RecordItem[] {
  const end = body.length;
  if (end === 0) throw new NproError('PROTOCOL_ERROR', 'record body holds no entry');
  const items: RecordItem[] = [];
  let o = 0;
  while (o < end) {
    if (end - o < ENTRY_HEADER_SIZE) throw new NproError('PROTOCOL_ERROR', `record entry length truncated at offset ${o}`);
    const n = ((body[o]! << 24) | (body[o + 1]! << 16) | (body[o + 2]! << 8) | body[o + 3]!) >>> 0;
    const start = o + ENTRY_HEADER_SIZE;
    if (n === 0) throw new NproError('PROTOCOL_ERROR', `record entry of length 0 at offset ${o}`);
    if (n > end - start) throw new NproError('PROTOCOL_ERROR', `record entry of ${n} bytes at offset ${o} runs past the body (${end} bytes)`);
    o = start + n;
    let item: RecordItem;
    try {
      item = { message: decodeMessage(body.subarray(start, o)) };
    } catch (err) {
      item = { error: NproError.is(err, 'MESSAGE_MALFORMED') ? err : new NproError('MESSAGE_MALFORMED', 'record entry failed to decode', { cause: err }) };
    }
    items.push(item);
  }
  return items;
}
