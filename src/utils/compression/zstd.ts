/**
 * Zstandard for record bodies (protocol.md §4: exactly one frame, no dictionary, no skippable
 * frame, content size optional), on the reference library compiled to WebAssembly
 * (@bokuweb/zstd-wasm: libzstd's `ZSTD_compress_usingDict` and `ZSTD_decompress_usingDict` with an
 * empty dictionary, one reused context each). The module needs `await initZstd()` once; after that
 * every call is synchronous. The .wasm file is read from the package directory: no network.
 *
 * Both directions use libzstd rather than the pure-JS fzstd decoder, whose input checks are not
 * enough for bodies from a peer: a 49-byte frame whose Huffman weights are FSE-coded with a
 * single-symbol table makes fzstd 0.1.1 loop forever, and it checks neither the content checksum
 * nor that the output matches the declared content size. libzstd checks both, stops at the output
 * capacity it is given, and decodes 2–4 times faster than fzstd here.
 */
import {
  compressUsingDict, createCCtx, createDCtx, decompressUsingDict, init,
} from '@bokuweb/zstd-wasm';
import { NproError } from '../../core/errors.js';
import { checkMaxSize, compressionFailed, overLimit } from './errors.js';
import { readZstdFrame } from './zstd-frame.js';

/** Zstd levels npro accepts (behaviour.md `transport.compression_level`). */
export const ZSTD_MIN_LEVEL = 1;
export const ZSTD_MAX_LEVEL = 22;
/**
 * Largest input or output handled in one call. The WebAssembly heap holds the input, the output
 * and the contexts, grows to at most 2 GiB and never shrinks; 256 MiB keeps a call well inside it.
 */
export const ZSTD_MAX_BUFFER = 256 * 1024 * 1024;
/** libzstd's error code for "destination buffer is too small" (ZSTD_error_dstSize_tooSmall). */
const ZSTD_ERROR_DST_SIZE_TOO_SMALL = 70;

const NO_DICTIONARY = new Uint8Array(0);

interface Contexts {
  cctx: number;
  dctx: number;
}

let contexts: Contexts | undefined;
let loading: Promise<void> | undefined;

/** Loads the WebAssembly module and creates the contexts. Idempotent; a failed load can be retried. */
export function initZstd(): Promise<void> {
  loading ??= (async () => {
    await init();
    const cctx = createCCtx();
    const dctx = createDCtx();
    if (cctx === 0 || dctx === 0) throw new Error('libzstd could not allocate its contexts');
    contexts = { cctx, dctx };
  })().catch((err: unknown) => {
    loading = undefined;
    throw new NproError('COMPRESSION_FAILED', 'the Zstandard WebAssembly module could not be loaded', { cause: err });
  });
  return loading;
}

/** True once `initZstd()` has completed. */
export function isZstdReady(): boolean {
  return contexts !== undefined;
}

function ready(operation: string): Contexts {
  if (contexts === undefined) {
    throw new NproError('INVALID_STATE', `${operation} needs \`await initCompression()\` first (it loads the Zstandard WebAssembly module)`);
  }
  return contexts;
}

/**
 * One Zstandard frame of `body` at `level` (1–22), with the content size and no checksum (records
 * are authenticated by their AEAD tag). Needs `initCompression()`; otherwise `INVALID_STATE`.
 */
export function zstdCompress(body: Uint8Array, level: number): Uint8Array {
  const { cctx } = ready('zstdCompress');
  if (!Number.isInteger(level) || level < ZSTD_MIN_LEVEL || level > ZSTD_MAX_LEVEL) {
    throw new NproError('INVALID_ARGUMENT', `Zstd level must be an integer from ${ZSTD_MIN_LEVEL} to ${ZSTD_MAX_LEVEL}, got ${level}`);
  }
  if (body.length > ZSTD_MAX_BUFFER) {
    throw new NproError('INVALID_ARGUMENT', `zstdCompress takes at most ${ZSTD_MAX_BUFFER} bytes, got ${body.length}`);
  }
  try {
    return compressUsingDict(cctx, body, NO_DICTIONARY, level);
  } catch (err) {
    throw compressionFailed('Zstandard compression failed', err);
  }
}

/**
 * The content of one Zstandard frame, at most `maxSize` bytes. A declared content size over
 * `maxSize` → `COMPRESSION_FAILED` with `details.overLimit` before anything is allocated; without a
 * declared size the decoder's output buffer is `maxSize` (or less, from the block headers) and an
 * output that does not fit fails the same way. Everything else wrong → `COMPRESSION_FAILED`.
 * Needs `initCompression()`; otherwise `INVALID_STATE`.
 */
export function zstdDecompress(data: Uint8Array, maxSize: number): Uint8Array {
  checkMaxSize(maxSize);
  const { dctx } = ready('zstdDecompress');
  if (data.length > ZSTD_MAX_BUFFER) throw compressionFailed(`Zstandard frame of ${data.length} bytes is over ${ZSTD_MAX_BUFFER}`);
  const frame = readZstdFrame(data);
  const limit = Math.min(maxSize, ZSTD_MAX_BUFFER);
  let capacity: number;
  if (frame.contentSize !== undefined) {
    if (frame.contentSize > limit) throw overLimit('Zstandard frame', frame.contentSize, limit);
    capacity = frame.contentSize;
  } else {
    if (frame.minSize > limit) throw overLimit('Zstandard frame', frame.minSize, limit);
    capacity = Math.min(frame.maxSize, limit);
  }
  let out: Uint8Array;
  try {
    // With a declared content size the wrapper sizes the output from it; otherwise from `capacity`.
    out = decompressUsingDict(dctx, data, NO_DICTIONARY, { defaultHeapSize: capacity });
  } catch (err) {
    const limited = frame.contentSize === undefined && capacity < frame.maxSize;
    if (limited && zstdErrorCode(err) === ZSTD_ERROR_DST_SIZE_TOO_SMALL) throw overLimit('Zstandard frame', undefined, limit);
    throw compressionFailed('Zstandard frame is corrupt', err);
  }
  if (frame.contentSize !== undefined && out.length !== frame.contentSize) {
    throw compressionFailed(`Zstandard frame decodes to ${out.length} bytes, its header declares ${frame.contentSize}`);
  }
  if (out.length > maxSize) throw overLimit('Zstandard frame', out.length, maxSize);
  return out;
}

/**
 * The libzstd error code behind a failure of the wrapper. It reports the code only in its message
 * ("… with code -70"); a message without one gives `undefined` (treated as plain corruption).
 */
function zstdErrorCode(err: unknown): number | undefined {
  const match = err instanceof Error ? /code (-?\d+)/.exec(err.message) : null;
  if (match === null) return undefined;
  const value = Number(match[1]);
  return value < 0 ? -value : 2 ** 32 - value;
}
