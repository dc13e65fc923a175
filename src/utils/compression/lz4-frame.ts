/**
 * The LZ4 frame format (lz4_Frame_format.md, what the `lz4` command-line tool reads and writes), for
 * files and tools; records carry bare blocks (`lz4-block.ts`).
 *
 * Frame: magic `04 22 4D 18` · FLG · BD · [content size u64 LE] · [dictionary id u32] · HC ·
 * blocks (u32 LE size, high bit = stored uncompressed; 0 ends the blocks) · [content checksum].
 *
 * Reading is strict: exactly one frame (no legacy frame, no skippable frame, nothing after it), no
 * dictionary, no block checksums (refused rather than skipped, so they are never mis-decoded),
 * reserved bits zero, header checksum and content checksum verified. Linked blocks (`lz4 -BD`) are
 * decoded. The output never exceeds `maxSize`: a declared content size, stored block sizes and the
 * block maximum bound it before anything is allocated.
 */
import { NproError } from '../../core/errors.js';
import { checkMaxSize, compressionFailed, overLimit, readU32LE, writeU32LE } from './errors.js';
import {
  LZ4_DECODE_ERROR, compressBlockInto, decodeBlockInto, decodeErrorMessage, lz4BlockBound,
} from './lz4-block-codec.js';
import { xxh32 } from './xxh32.js';

const MAGIC = 0x184d2204;
const LEGACY_MAGIC = 0x184c2102;
const SKIPPABLE_MASK = 0xfffffff0;
const SKIPPABLE_MAGIC = 0x184d2a50;

/** FLG bits. */
const FLG = {
  VERSION_MASK: 0xc0,
  VERSION_01: 0x40,
  BLOCK_INDEPENDENCE: 0x20,
  BLOCK_CHECKSUM: 0x10,
  CONTENT_SIZE: 0x08,
  CONTENT_CHECKSUM: 0x04,
  RESERVED: 0x02,
  DICT_ID: 0x01,
} as const;

/** BD: bits 6–4 name the block maximum size, the other bits are reserved. */
const BD_RESERVED = 0x8f;
const BLOCK_MAX_SIZES: Readonly<Record<number, number>> = { 4: 0x10000, 5: 0x40000, 6: 0x100000, 7: 0x400000 };
/** Frames written here use 4 MiB blocks (BD id 7), independent. */
const WRITE_BLOCK_ID = 7;
const WRITE_BLOCK_SIZE = 0x400000;
const UNCOMPRESSED_BIT = 0x80000000;

/**
 * One LZ4 frame of `data`: independent 4 MiB blocks, the content size and a content checksum in
 * the header and trailer (the `lz4` tool and lz4js read them).
 */
export function lz4FrameCompress(data: Uint8Array): Uint8Array {
  const n = data.length;
  const blocks = Math.max(1, Math.ceil(n / WRITE_BLOCK_SIZE));
  const out = new Uint8Array(15 + blocks * 4 + lz4BlockBound(n) + blocks * 16 + 8);
  writeU32LE(out, 0, MAGIC);
  out[4] = FLG.VERSION_01 | FLG.BLOCK_INDEPENDENCE | FLG.CONTENT_SIZE | FLG.CONTENT_CHECKSUM;
  out[5] = WRITE_BLOCK_ID << 4;
  writeU32LE(out, 6, n >>> 0);
  writeU32LE(out, 10, Math.floor(n / 0x100000000));
  out[14] = (xxh32(out, 0, 4, 14) >>> 8) & 0xff;
  let d = 15;
  for (let s = 0; s < n; s += WRITE_BLOCK_SIZE) {
    const block = data.subarray(s, Math.min(n, s + WRITE_BLOCK_SIZE));
    const end = compressBlockInto(block, out, d + 4);
    const size = end - d - 4;
    if (size < block.length) {
      writeU32LE(out, d, size);
      d = end;
    } else {
      writeU32LE(out, d, (UNCOMPRESSED_BIT | block.length) >>> 0);
      out.set(block, d + 4);
      d += 4 + block.length;
    }
  }
  writeU32LE(out, d, 0);
  writeU32LE(out, d + 4, xxh32(data));
  return out.slice(0, d + 8);
}

interface FrameLayout {
  /** Offset of the first block header. */
  blocksAt: number;
  blockMax: number;
  independent: boolean;
  contentChecksum: boolean;
  /** The declared content size, if the frame has one. */
  contentSize: number | undefined;
  /** Sum of the stored (uncompressed) blocks: the least the frame decodes to. */
  minSize: number;
  /** Stored blocks plus the block maximum per compressed block: the most it can decode to. */
  maxSize: number;
}

function readHeader(data: Uint8Array): Omit<FrameLayout, 'minSize' | 'maxSize'> {
  if (data.length < 4) throw compressionFailed(`LZ4 frame of ${data.length} bytes is truncated`);
  const magic = readU32LE(data, 0);
  if (magic === LEGACY_MAGIC) throw compressionFailed('legacy LZ4 frames (lz4 -l) are not supported');
  if (((magic & SKIPPABLE_MASK) >>> 0) === SKIPPABLE_MAGIC) throw compressionFailed('skippable LZ4 frames are not supported');
  if (magic !== MAGIC) throw compressionFailed('not an LZ4 frame (bad magic number)');
  if (data.length < 7) throw compressionFailed('LZ4 frame header is truncated');
  const flg = data[4];
  const bd = data[5];
  if ((flg & FLG.VERSION_MASK) !== FLG.VERSION_01) throw compressionFailed('LZ4 frame has an unsupported version');
  if ((flg & FLG.RESERVED) !== 0 || (bd & BD_RESERVED) !== 0) throw compressionFailed('LZ4 frame header has reserved bits set');
  if ((flg & FLG.DICT_ID) !== 0) throw compressionFailed('LZ4 frames with a dictionary are not supported');
  if ((flg & FLG.BLOCK_CHECKSUM) !== 0) {
    throw compressionFailed('LZ4 frames with block checksums (lz4 -BX) are not supported');
  }
  const blockMax = BLOCK_MAX_SIZES[(bd >>> 4) & 7];
  if (blockMax === undefined) throw compressionFailed(`LZ4 frame has an invalid block maximum size id ${(bd >>> 4) & 7}`);
  const hasSize = (flg & FLG.CONTENT_SIZE) !== 0;
  const hcAt = hasSize ? 14 : 6;
  if (data.length <= hcAt) throw compressionFailed('LZ4 frame header is truncated');
  if (((xxh32(data, 0, 4, hcAt) >>> 8) & 0xff) !== data[hcAt]) {
    throw compressionFailed('LZ4 frame header checksum does not match');
  }
  let contentSize: number | undefined;
  if (hasSize) {
    const high = readU32LE(data, 10);
    // Sizes from 2^53 up are not exact as numbers; they are over any limit anyway.
    contentSize = high >= 0x200000 ? Number.MAX_SAFE_INTEGER : high * 0x100000000 + readU32LE(data, 6);
  }
  return {
    blocksAt: hcAt + 1,
    blockMax,
    independent: (flg & FLG.BLOCK_INDEPENDENCE) !== 0,
    contentChecksum: (flg & FLG.CONTENT_CHECKSUM) !== 0,
    contentSize,
  };
}

/** Reads the header and walks the block headers (no decoding): the frame's shape and size bounds. */
function readLayout(data: Uint8Array): FrameLayout {
  const header = readHeader(data);
  let minSize = 0;
  let maxSize = 0;
  let p = header.blocksAt;
  for (;;) {
    if (data.length - p < 4) throw compressionFailed('LZ4 frame is truncated (block header missing)');
    const word = readU32LE(data, p);
    const size = word & 0x7fffffff;
    p += 4;
    if (size === 0) break;
    if (size > header.blockMax) throw compressionFailed(`LZ4 block of ${size} bytes exceeds the frame's block maximum ${header.blockMax}`);
    if (data.length - p < size) throw compressionFailed('LZ4 frame is truncated (block data missing)');
    p += size;
    const stored = word >>> 31 === 1;
    minSize += stored ? size : 0;
    maxSize += stored ? size : header.blockMax;
  }
  if (header.contentChecksum) p += 4;
  if (p > data.length) throw compressionFailed('LZ4 frame is truncated (content checksum missing)');
  if (p < data.length) throw compressionFailed(`${data.length - p} bytes follow the LZ4 frame (one frame expected)`);
  return { ...header, minSize, maxSize };
}

/**
 * The content of one LZ4 frame, at most `maxSize` bytes (`COMPRESSION_FAILED` with
 * `details.overLimit` otherwise, before allocating). Corrupt, truncated or unsupported frames →
 * `COMPRESSION_FAILED`.
 */
export function lz4FrameDecompress(data: Uint8Array, maxSize: number): Uint8Array {
  checkMaxSize(maxSize);
  const f = readLayout(data);
  let capacity: number;
  if (f.contentSize !== undefined) {
    if (f.contentSize > maxSize) throw overLimit('LZ4 frame', f.contentSize, maxSize);
    if (f.contentSize < f.minSize || f.contentSize > f.maxSize) {
      throw compressionFailed(`LZ4 frame declares ${f.contentSize} bytes, its blocks hold ${f.minSize} to ${f.maxSize}`);
    }
    capacity = f.contentSize;
  } else {
    if (f.minSize > maxSize) throw overLimit('LZ4 frame', f.minSize, maxSize);
    capacity = Math.min(f.maxSize, maxSize);
  }
  const out = new Uint8Array(capacity);
  const written = decodeBlocks(data, f, out, capacity < f.maxSize && f.contentSize === undefined, maxSize);
  if (f.contentSize !== undefined && written !== f.contentSize) {
    throw compressionFailed(`LZ4 frame decodes to ${written} bytes, its header declares ${f.contentSize}`);
  }
  if (f.contentChecksum && xxh32(out, 0, 0, written) !== readU32LE(data, data.length - 4)) {
    throw compressionFailed('LZ4 frame content checksum does not match');
  }
  return written === capacity ? out : out.slice(0, written);
}

function decodeBlocks(data: Uint8Array, f: FrameLayout, out: Uint8Array, limitedByMax: boolean, maxSize: number): number {
  const overflow = (): NproError => {
    if (limitedByMax) return overLimit('LZ4 frame', undefined, maxSize);
    if (f.contentSize !== undefined) return compressionFailed('LZ4 frame decodes to more than its declared content size');
    return compressionFailed(`LZ4 frame block decodes to more than the block maximum of ${f.blockMax} bytes`);
  };
  let p = f.blocksAt;
  let d = 0;
  for (;;) {
    const word = readU32LE(data, p);
    const size = word & 0x7fffffff;
    p += 4;
    if (size === 0) return d;
    if (word >>> 31 === 1) {
      if (size > out.length - d) throw overflow();
      out.set(data.subarray(p, p + size), d);
      d += size;
    } else {
      const end = Math.min(out.length, d + f.blockMax);
      const r = decodeBlockInto(data, p, p + size, out, f.independent ? d : 0, d, end);
      if (r === LZ4_DECODE_ERROR.OUTPUT_OVERFLOW) {
        throw end === out.length ? overflow() : compressionFailed(`LZ4 frame block decodes to more than the block maximum of ${f.blockMax} bytes`);
      }
      if (r < 0) throw compressionFailed(`LZ4 frame block at offset ${p} ${decodeErrorMessage(r)}`);
      d = r;
    }
    p += size;
  }
}
