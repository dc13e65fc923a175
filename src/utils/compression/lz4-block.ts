/**
 * LZ4 as it travels in a v2 record body (protocol.md §4): the uncompressed size as a u32
 * little-endian, then one LZ4 block.
 */
import { NproError } from '../../core/errors.js';
import { checkMaxSize, compressionFailed, overLimit, readU32LE, writeU32LE } from './errors.js';
import {
  LZ4_MAX_INPUT_SIZE, compressBlockInto, decodeBlockInto, decodeErrorMessage, lz4BlockBound,
} from './lz4-block-codec.js';

/** Bytes of the uncompressed-size prefix in front of the block. */
export const LZ4_SIZE_PREFIX_BYTES = 4;
/**
 * An LZ4 block can expand at most 255 times: each match sequence costs at least one input byte per
 * 255 output bytes, literals one per byte. A prefix above this is a lie, refused before allocating.
 */
const MAX_EXPANSION = 255;
/** Compressed outputs up to this size are built in one reused buffer, then copied out at their size. */
const SCRATCH_LIMIT = 1 << 20;
let scratch = new Uint8Array(0);

/**
 * `u32 LE body.length ‖ LZ4 block of body` (protocol.md §4). The block follows the format's
 * end-of-block rules, so any conforming decoder given the prefix as its output size accepts it.
 */
export function lz4CompressBlock(body: Uint8Array): Uint8Array {
  const n = body.length;
  if (n > LZ4_MAX_INPUT_SIZE) {
    throw new NproError('INVALID_ARGUMENT', `an LZ4 block holds at most ${LZ4_MAX_INPUT_SIZE} bytes, got ${n}`);
  }
  const bound = LZ4_SIZE_PREFIX_BYTES + lz4BlockBound(n);
  if (bound > SCRATCH_LIMIT) {
    const out = new Uint8Array(bound);
    writeU32LE(out, 0, n);
    return out.slice(0, compressBlockInto(body, out, LZ4_SIZE_PREFIX_BYTES));
  }
  if (scratch.length < bound) scratch = new Uint8Array(Math.max(bound, 4096));
  writeU32LE(scratch, 0, n);
  return scratch.slice(0, compressBlockInto(body, scratch, LZ4_SIZE_PREFIX_BYTES));
}

/**
 * Decodes `u32 LE size ‖ LZ4 block` into exactly `size` bytes.
 * - `size > maxSize` → `COMPRESSION_FAILED` with `details.overLimit`, before anything is allocated;
 * - a size the block cannot reach (over 255 × its length), a truncated block, a bad offset, a block
 *   that decodes to more or fewer bytes than the prefix → `COMPRESSION_FAILED`.
 */
export function lz4DecompressBlock(data: Uint8Array, maxSize: number): Uint8Array {
  checkMaxSize(maxSize);
  if (data.length < LZ4_SIZE_PREFIX_BYTES) {
    throw compressionFailed(`LZ4 body of ${data.length} bytes is shorter than its 4-byte size prefix`);
  }
  const size = readU32LE(data, 0);
  if (size > maxSize) throw overLimit('LZ4 body', size, maxSize);
  const blockLength = data.length - LZ4_SIZE_PREFIX_BYTES;
  if (size > blockLength * MAX_EXPANSION) {
    throw compressionFailed(`LZ4 size prefix ${size} is more than a ${blockLength}-byte block can decode to`);
  }
  const out = new Uint8Array(size);
  const end = decodeBlockInto(data, LZ4_SIZE_PREFIX_BYTES, data.length, out, 0, 0, size);
  if (end < 0) throw compressionFailed(`LZ4 block ${decodeErrorMessage(end)} (size prefix ${size})`);
  if (end !== size) throw compressionFailed(`LZ4 block decodes to ${end} bytes, its size prefix says ${size}`);
  return out;
}
