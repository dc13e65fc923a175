/**
 * The NPRO frame (protocol.md §1): the one place that describes the header layout.
 *
 * | offset | size | field   |
 * |--------|------|---------|
 * | 0      | 4    | magic `4E 50 52 4F` ("NPRO") |
 * | 4      | 1    | version `01` or `02` |
 * | 5      | 4    | payload length, u32 big-endian |
 * | 9      | n    | payload |
 */
import { NproError } from './errors.js';

export const MAGIC = new Uint8Array([0x4e, 0x50, 0x52, 0x4f]);
export const MAGIC_LENGTH = 4;
export const VERSION_OFFSET = 4;
export const LENGTH_OFFSET = 5;
export const HEADER_SIZE = 9;
export const VERSION_V1 = 0x01;
export const VERSION_V2 = 0x02;
/** Absolute ceiling of the length field (protocol.md §1). */
export const MAX_PAYLOAD = 16_777_216;
/** Ceiling of the length field until the handshake completes (protocol.md §1). */
export const PRE_HANDSHAKE_MAX_PAYLOAD = 4_096;

export type FrameVersion = typeof VERSION_V1 | typeof VERSION_V2;

/** Writes the 9-byte header at `offset` of `out`. */
export function writeHeader(out: Uint8Array, offset: number, version: FrameVersion, length: number): void {
  out[offset] = 0x4e;
  out[offset + 1] = 0x50;
  out[offset + 2] = 0x52;
  out[offset + 3] = 0x4f;
  out[offset + 4] = version;
  out[offset + 5] = (length >>> 24) & 0xff;
  out[offset + 6] = (length >>> 16) & 0xff;
  out[offset + 7] = (length >>> 8) & 0xff;
  out[offset + 8] = length & 0xff;
}

/** The 9-byte header of a frame of `length` payload bytes (also the AAD of a v2 record, §4). */
export function encodeHeader(version: FrameVersion, length: number): Uint8Array {
  checkLength(length, MAX_PAYLOAD);
  const h = allocate(HEADER_SIZE);
  writeHeader(h, 0, version, length);
  return h;
}

/**
 * One whole frame: header ‖ payload. Throws `FRAME_TOO_LARGE` (writing nothing) when the payload
 * exceeds `maxPayload` (default: the absolute ceiling). Frames under 4 KiB may be views of Node's
 * buffer pool: use their bytes, not their `.buffer`.
 */
export function encodeFrame(version: FrameVersion, payload: Uint8Array, maxPayload: number = MAX_PAYLOAD): Uint8Array {
  checkLength(payload.length, maxPayload);
  const out = allocate(HEADER_SIZE + payload.length);
  writeHeader(out, 0, version, payload.length);
  out.set(payload, HEADER_SIZE);
  return out;
}

function checkLength(length: number, max: number): void {
  if (length > max || length > MAX_PAYLOAD) {
    throw new NproError('FRAME_TOO_LARGE', `frame payload of ${length} bytes exceeds the limit of ${Math.min(max, MAX_PAYLOAD)}`);
  }
}

/**
 * `length` bytes for a writer that fills every one of them. V8 keeps typed arrays of up to 64 bytes
 * on its heap (cheap); up to 4 KiB, a view of Node's shared pool (uninitialised) is several times
 * cheaper than a new zeroed ArrayBuffer. Callers always get a plain Uint8Array.
 */
function allocate(length: number): Uint8Array {
  if (length <= 64 || length >= 4096) return new Uint8Array(length);
  const b = Buffer.allocUnsafe(length);
  return new Uint8Array(b.buffer, b.byteOffset, length);
}
