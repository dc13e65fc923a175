/**
 * The errors of the compression module (protocol.md §4, §9).
 *
 * Every failure to decompress is `COMPRESSION_FAILED`. An output that would exceed the caller's
 * limit carries `details: { overLimit: true }` and is thrown before that output is allocated, so a
 * record layer can tell "declared or decoded size over the limit" (`PROTOCOL_ERROR` on the wire)
 * from "corrupt compressed body" (`COMPRESSION_FAILED`).
 */
import { NproError } from '../../core/errors.js';

/** A corrupt, truncated or unsupported compressed input. */
export function compressionFailed(message: string, cause?: unknown): NproError {
  return new NproError('COMPRESSION_FAILED', message, cause === undefined ? {} : { cause });
}

/**
 * An output over `maxSize`. `size` is the declared or smallest possible output size when known,
 * `undefined` when decoding stopped as soon as the running total passed the limit.
 */
export function overLimit(what: string, size: number | undefined, maxSize: number): NproError {
  const amount = size === undefined ? 'more than' : `${size} bytes, over`;
  return new NproError('COMPRESSION_FAILED', `${what} decodes to ${amount} the limit of ${maxSize} bytes`, {
    details: size === undefined ? { overLimit: true, maxSize } : { overLimit: true, size, maxSize },
  });
}

/** Checks a caller's output limit: a non-negative safe integer. */
export function checkMaxSize(maxSize: number): void {
  if (!Number.isSafeInteger(maxSize) || maxSize < 0) {
    throw new NproError('INVALID_ARGUMENT', `maxSize must be a non-negative integer, got ${String(maxSize)}`);
  }
}

/** Little-endian u32 at `offset` (the caller has checked that 4 bytes are there). */
export function readU32LE(b: Uint8Array, offset: number): number {
  return (b[offset] | (b[offset + 1] << 8) | (b[offset + 2] << 16) | (b[offset + 3] << 24)) >>> 0;
}

/** Writes `value` as a little-endian u32 at `offset`. */
export function writeU32LE(b: Uint8Array, offset: number, value: number): void {
  b[offset] = value & 0xff;
  b[offset + 1] = (value >>> 8) & 0xff;
  b[offset + 2] = (value >>> 16) & 0xff;
  b[offset + 3] = (value >>> 24) & 0xff;
}
