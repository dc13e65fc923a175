/**
 * Reading the shape of a Zstandard frame (RFC 8878 §3.1.1) without decoding it: the frame header
 * (magic, frame header descriptor, window descriptor, dictionary id, frame content size) and the
 * 3-byte block headers up to the last block and the optional checksum.
 *
 * protocol.md §4 allows exactly one Zstandard frame, no dictionary, no skippable frame, the content
 * size optional. Checking that here, before the decoder runs, means nothing is allocated for a
 * frame that is refused, and gives the bounds the decoder's output buffer is sized from.
 */
import { compressionFailed, readU32LE } from './errors.js';

const MAGIC = 0xfd2fb528;
const SKIPPABLE_MASK = 0xfffffff0;
const SKIPPABLE_MAGIC = 0x184d2a50;
/** Block_Maximum_Size is at most 128 KiB (RFC 8878 §3.1.1.2). */
export const ZSTD_BLOCK_SIZE_MAX = 128 * 1024;

const BLOCK_TYPE = { RAW: 0, RLE: 1, COMPRESSED: 2, RESERVED: 3 } as const;

export interface ZstdFrameInfo {
  /** Frame_Content_Size when the header has one (values from 2^53 up read as MAX_SAFE_INTEGER). */
  contentSize: number | undefined;
  /** Window_Size (the content size for single-segment frames). */
  windowSize: number;
  /** Whether a 4-byte content checksum (low bits of XXH64) ends the frame. */
  hasChecksum: boolean;
  /** Raw and RLE blocks regenerate exactly their size: the least the frame decodes to. */
  minSize: number;
  /** Raw and RLE sizes plus Block_Maximum_Size per compressed block: the most it can decode to. */
  maxSize: number;
}

/** Little-endian unsigned integer of `n` ≤ 4 bytes. */
function readLE(b: Uint8Array, at: number, n: number): number {
  let v = 0;
  for (let i = n - 1; i >= 0; i--) v = v * 256 + b[at + i];
  return v;
}

/**
 * Checks that `data` is exactly one Zstandard frame npro accepts, and returns its sizes.
 * Skippable frames, dictionaries, reserved bits, reserved block types, blocks over the maximum,
 * truncation and trailing bytes → `COMPRESSION_FAILED`.
 */
export function readZstdFrame(data: Uint8Array): ZstdFrameInfo {
  const n = data.length;
  if (n < 4) throw compressionFailed(`Zstandard frame of ${n} bytes is truncated`);
  const magic = readU32LE(data, 0);
  if (((magic & SKIPPABLE_MASK) >>> 0) === SKIPPABLE_MAGIC) throw compressionFailed('skippable Zstandard frames are not accepted');
  if (magic !== MAGIC) throw compressionFailed('not a Zstandard frame (bad magic number)');
  if (n < 5) throw compressionFailed('Zstandard frame header is truncated');
  const fhd = data[4];
  const fcsFlag = fhd >>> 6;
  const singleSegment = (fhd & 0x20) !== 0;
  const hasChecksum = (fhd & 0x04) !== 0;
  const didSize = [0, 1, 2, 4][fhd & 3];
  const fcsSize = fcsFlag === 0 ? (singleSegment ? 1 : 0) : 1 << fcsFlag;
  if ((fhd & 0x08) !== 0) throw compressionFailed('Zstandard frame header has its reserved bit set');
  let p = 5;
  const headerEnd = p + (singleSegment ? 0 : 1) + didSize + fcsSize;
  if (n < headerEnd) throw compressionFailed('Zstandard frame header is truncated');
  let windowSize = 0;
  if (!singleSegment) {
    const wd = data[p++];
    const windowBase = 2 ** (10 + (wd >>> 3));
    windowSize = windowBase + (windowBase / 8) * (wd & 7);
  }
  if (didSize > 0 && readLE(data, p, didSize) !== 0) {
    throw compressionFailed('Zstandard frames that need a dictionary are not accepted');
  }
  p += didSize;
  let contentSize: number | undefined;
  if (fcsSize === 8) {
    const high = readU32LE(data, p + 4);
    contentSize = high >= 0x200000 ? Number.MAX_SAFE_INTEGER : high * 0x100000000 + readU32LE(data, p);
  } else if (fcsSize > 0) {
    contentSize = readLE(data, p, fcsSize) + (fcsSize === 2 ? 256 : 0);
  }
  p += fcsSize;
  if (singleSegment) windowSize = contentSize ?? 0;
  const blockMax = Math.min(windowSize, ZSTD_BLOCK_SIZE_MAX);
  let minSize = 0;
  let maxSize = 0;
  for (;;) {
    if (n - p < 3) throw compressionFailed('Zstandard frame is truncated (block header missing)');
    const header = data[p] | (data[p + 1] << 8) | (data[p + 2] << 16);
    p += 3;
    const type = (header >>> 1) & 3;
    const size = header >>> 3;
    if (type === BLOCK_TYPE.RESERVED) throw compressionFailed('Zstandard block has the reserved block type');
    if (type === BLOCK_TYPE.COMPRESSED) {
      if (size > ZSTD_BLOCK_SIZE_MAX) throw compressionFailed(`Zstandard compressed block of ${size} bytes exceeds 128 KiB`);
      maxSize += blockMax;
    } else {
      if (size > blockMax) throw compressionFailed(`Zstandard block of ${size} bytes exceeds the block maximum ${blockMax}`);
      minSize += size;
      maxSize += size;
    }
    const stored = type === BLOCK_TYPE.RLE ? 1 : size;
    if (n - p < stored) throw compressionFailed('Zstandard frame is truncated (block data missing)');
    p += stored;
    if ((header & 1) === 1) break;
  }
  if (hasChecksum) p += 4;
  if (p > n) throw compressionFailed('Zstandard frame is truncated (checksum missing)');
  if (p < n) throw compressionFailed(`${n - p} bytes follow the Zstandard frame (exactly one frame expected)`);
  if (contentSize !== undefined && (contentSize < minSize || contentSize > maxSize)) {
    throw compressionFailed(`Zstandard frame declares ${contentSize} bytes, its blocks hold ${minSize} to ${maxSize}`);
  }
  return { contentSize, windowSize, hasChecksum, minSize, maxSize };
}
