/**
 * Compression for npro: the LZ4 block and Zstandard frame forms of record bodies (protocol.md §4),
 * and the LZ4 frame format for files and tools.
 *
 * LZ4 needs no setup. Zstandard runs libzstd compiled to WebAssembly: call `await initCompression()`
 * once (it is idempotent) before `zstdCompress` or `zstdDecompress`, which are synchronous.
 *
 * Every decompressor takes `maxSize`: an output over it fails with `COMPRESSION_FAILED` and
 * `details: { overLimit: true }` before that output is allocated. Corrupt input, or a size that
 * differs from the declared one, fails with `COMPRESSION_FAILED`.
 */
import { NproError } from '../../core/errors.js';
import { lz4CompressBlock, lz4DecompressBlock } from './lz4-block.js';
import { initZstd, zstdCompress, zstdDecompress } from './zstd.js';

export { LZ4_SIZE_PREFIX_BYTES, lz4CompressBlock, lz4DecompressBlock } from './lz4-block.js';
export { lz4FrameCompress, lz4FrameDecompress } from './lz4-frame.js';
export { ZSTD_MAX_BUFFER, ZSTD_MAX_LEVEL, ZSTD_MIN_LEVEL, isZstdReady, zstdCompress, zstdDecompress } from './zstd.js';
export { xxh32 } from './xxh32.js';

/** The algorithms of a record body (protocol.md §4 flags bits 0–1: 1 LZ4, 2 Zstd). */
export type CompressionAlgorithm = 'lz4' | 'zstd';

/** Readies everything that loads lazily (the Zstandard WebAssembly module). Idempotent. */
export async function initCompression(): Promise<void> {
  await initZstd();
}

/**
 * The compressed wire form of a body: `u32 LE size ‖ LZ4 block`, or one Zstandard frame at `level`
 * (1–22; LZ4 ignores it). The caller decides whether the result is worth sending (strictly smaller).
 */
export function compressBody(algorithm: CompressionAlgorithm, body: Uint8Array, level: number): Uint8Array {
  if (algorithm === 'lz4') return lz4CompressBlock(body);
  if (algorithm === 'zstd') return zstdCompress(body, level);
  throw new NproError('INVALID_ARGUMENT', `unknown compression algorithm ${String(algorithm)}`);
}

/** The body inside a compressed wire form, at most `maxSize` bytes (see `lz4DecompressBlock`, `zstdDecompress`). */
export function decompressBody(algorithm: CompressionAlgorithm, data: Uint8Array, maxSize: number): Uint8Array {
  if (algorithm === 'lz4') return lz4DecompressBlock(data, maxSize);
  if (algorithm === 'zstd') return zstdDecompress(data, maxSize);
  throw new NproError('INVALID_ARGUMENT', `unknown compression algorithm ${String(algorithm)}`);
}
