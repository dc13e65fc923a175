/**
 * The LZ4 block format (lz4_Block_format.md): a compressor and a bounded decoder, shared by the wire
 * form of protocol.md §4 (`lz4-block.ts`) and the LZ4 frame format (`lz4-frame.ts`).
 *
 * A block is a run of sequences: `token` (high nibble: literal count, low nibble: match length − 4;
 * 15 means "more length bytes follow, each added, until one is below 255"), the literals, then a
 * 2-byte little-endian offset and the match. The last sequence has literals only.
 *
 * npro carries its own codec rather than lz4js's `compressBlock`/`decompressBlock`:
 * - lz4js's decoder checks no bound: an offset of 0 or before the output start, a match or literal
 *   run past either end, or a truncated block is not reported (typed-array writes out of range are
 *   dropped, reads past the input give `undefined`), so a corrupt block decodes "successfully" to
 *   wrong bytes. Checks around the call cannot see inside it.
 * - lz4js's encoder may start the last match 10 or 11 bytes before the end of the block; the format
 *   requires at least 12 (end-of-block rule 4), and the reference decoder (`LZ4_decompress_safe`
 *   with the exact output size, as a peer decoding the u32 size prefix would call it) rejects such
 *   blocks: about one JSON body in ten, measured with liblz4 1.9.4.
 * - its caller must clear (or reallocate) lz4js's 64 K-entry table before every call: 256 KiB of
 *   memset per body, or a fresh allocation that is slower still on small bodies; the table here is
 *   cleared only when its 31-bit position range wraps (see `claimTable`).
 *
 * The decoder is lenient about the end-of-block rules (it accepts any block that decodes within
 * its bounds, as lz4js's output), strict about everything that could read or write out of bounds.
 */

/** Bound once: a `Math.` lookup per call is slow where the global object is wrapped (jest's vm context). */
const imul = Math.imul;

const MIN_MATCH = 4;
/** The last 5 bytes of a block are always literals (end-of-block rule 2). */
const LAST_LITERALS = 5;
/** The last match starts at least 12 bytes before the end of the block (end-of-block rule 4). */
const MFLIMIT = 12;
const MAX_OFFSET = 65535;
const HASH_LOG = 14;
const HASH_SHIFT = 32 - HASH_LOG;
const HASH_PRIME = -1640531535; // 2654435761 (Knuth's multiplicative constant) as an int32
/** After 2^SKIP_TRIGGER failed probes in a row the search step grows by one (the reference's heuristic). */
const SKIP_TRIGGER = 6;
/** Largest input of one block (LZ4_MAX_INPUT_SIZE). */
export const LZ4_MAX_INPUT_SIZE = 0x7e000000;

/** Worst-case size of an LZ4 block holding `n` bytes (LZ4_COMPRESSBOUND). */
export function lz4BlockBound(n: number): number {
  return n + Math.floor(n / 255) + 16;
}

/**
 * The match finder's table: hash of 4 bytes → position + `base`. Each call claims positions above
 * everything stored before, so entries of earlier calls read as negative (empty) positions and the
 * table is cleared only when the 31-bit range wraps.
 */
const hashTable = new Int32Array(1 << HASH_LOG);
let nextBase = 1;

function claimTable(n: number): number {
  if (nextBase > 0x7fffffff - n - 1) {
    hashTable.fill(0);
    nextBase = 1;
  }
  const base = nextBase;
  nextBase += n + 1;
  return base;
}

function read32(b: Uint8Array, i: number): number {
  return b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24);
}

function hash(seq: number): number {
  return imul(seq, HASH_PRIME) >>> HASH_SHIFT;
}

/** Writes the extra length bytes of a length ≥ 15 (already reduced by 15). */
function writeLength(dst: Uint8Array, d: number, rest: number): number {
  if (rest >= 255) {
    const full = Math.floor(rest / 255);
    dst.fill(255, d, d + full);
    d += full;
    rest -= full * 255;
  }
  dst[d] = rest;
  return d + 1;
}

function copyLiterals(src: Uint8Array, from: number, to: number, dst: Uint8Array, d: number): number {
  if (to - from < 32) {
    while (from < to) dst[d++] = src[from++];
    return d;
  }
  dst.set(src.subarray(from, to), d);
  return d + (to - from);
}

function writeSequence(
  src: Uint8Array, anchor: number, start: number, offset: number, matchLength: number, dst: Uint8Array, d: number,
): number {
  const literals = start - anchor;
  const extra = matchLength - MIN_MATCH;
  const tokenAt = d++;
  let token = literals >= 15 ? 0xf0 : literals << 4;
  if (literals >= 15) d = writeLength(dst, d, literals - 15);
  d = copyLiterals(src, anchor, start, dst, d);
  dst[d++] = offset & 0xff;
  dst[d++] = offset >>> 8;
  if (extra >= 15) {
    token |= 15;
    d = writeLength(dst, d, extra - 15);
  } else {
    token |= extra;
  }
  dst[tokenAt] = token;
  return d;
}

/**
 * Compresses all of `src` as one LZ4 block written at `dst[d]`, and returns the end offset.
 * `dst` must have `lz4BlockBound(src.length)` bytes free. Greedy matching with the reference
 * encoder's hash of 4 bytes, skip heuristic and end-of-block rules.
 */
export function compressBlockInto(src: Uint8Array, dst: Uint8Array, d: number): number {
  const n = src.length;
  let anchor = 0;
  if (n > MFLIMIT) {
    const table = hashTable;
    const base = claimTable(n);
    const mflimit = n - MFLIMIT;
    const matchLimit = n - LAST_LITERALS;
    let ip = 0;
    let probes = 1 << SKIP_TRIGGER;
    while (ip <= mflimit) {
      const seq = read32(src, ip);
      const h = hash(seq);
      const ref = table[h] - base;
      table[h] = ip + base;
      // Positions of earlier calls read as negative; a candidate must lie 1…65535 bytes back and match.
      if (ref < 0 || (ip - ref - 1) >>> 0 >= MAX_OFFSET || read32(src, ref) !== seq) {
        ip += probes++ >>> SKIP_TRIGGER;
        continue;
      }
      probes = 1 << SKIP_TRIGGER;
      let start = ip;
      let from = ref;
      while (start > anchor && from > 0 && src[start - 1] === src[from - 1]) {
        start--;
        from--;
      }
      let end = ip + MIN_MATCH;
      let m = ref + MIN_MATCH;
      while (end < matchLimit && src[end] === src[m]) {
        end++;
        m++;
      }
      d = writeSequence(src, anchor, start, start - from, end - start, dst, d);
      anchor = end;
      ip = end;
      if (ip <= mflimit) table[hash(read32(src, ip - 2))] = ip - 2 + base;
    }
  }
  const literals = n - anchor;
  if (literals >= 15) {
    dst[d++] = 0xf0;
    d = writeLength(dst, d, literals - 15);
  } else {
    dst[d++] = literals << 4;
  }
  return copyLiterals(src, anchor, n, dst, d);
}

/** Negative results of `decodeBlockInto`. */
export const LZ4_DECODE_ERROR = {
  /** The block ends inside a sequence, or a literal run goes past its end. */
  TRUNCATED: -1,
  /** An offset of 0, or one reaching before the start of the window. */
  BAD_OFFSET: -2,
  /** The block decodes to more than `dEnd` allows. */
  OUTPUT_OVERFLOW: -3,
} as const;

/** A message for a negative result of `decodeBlockInto`. */
export function decodeErrorMessage(code: number): string {
  if (code === LZ4_DECODE_ERROR.TRUNCATED) return 'is truncated (a sequence or literal run goes past its end)';
  if (code === LZ4_DECODE_ERROR.BAD_OFFSET) return 'has a match offset of 0 or before the start of its output';
  return 'decodes past the end of its output';
}

/**
 * Decodes the LZ4 block `src[sPos, sEnd)` into `dst` from `dPos`, never writing at or past `dEnd`
 * and never reading a match from before `dLow` (the start of the block for independent blocks, of
 * the frame for linked ones). Returns the new output offset, or a negative `LZ4_DECODE_ERROR`.
 * An empty block is truncated: a block holds at least one token.
 */
export function decodeBlockInto(
  src: Uint8Array, sPos: number, sEnd: number, dst: Uint8Array, dLow: number, dPos: number, dEnd: number,
): number {
  for (;;) {
    if (sPos >= sEnd) return LZ4_DECODE_ERROR.TRUNCATED;
    const token = src[sPos++];
    let literals = token >>> 4;
    if (literals === 15) {
      let b = 255;
      while (b === 255) {
        if (sPos >= sEnd) return LZ4_DECODE_ERROR.TRUNCATED;
        b = src[sPos++];
        literals += b;
      }
    }
    if (literals !== 0) {
      if (literals > sEnd - sPos) return LZ4_DECODE_ERROR.TRUNCATED;
      if (literals > dEnd - dPos) return LZ4_DECODE_ERROR.OUTPUT_OVERFLOW;
      if (literals < 16) {
        for (let i = 0; i < literals; i++) dst[dPos + i] = src[sPos + i];
      } else {
        dst.set(src.subarray(sPos, sPos + literals), dPos);
      }
      sPos += literals;
      dPos += literals;
    }
    if (sPos === sEnd) return dPos;
    if (sEnd - sPos < 2) return LZ4_DECODE_ERROR.TRUNCATED;
    const offset = src[sPos] | (src[sPos + 1] << 8);
    sPos += 2;
    if (offset === 0 || offset > dPos - dLow) return LZ4_DECODE_ERROR.BAD_OFFSET;
    let length = token & 15;
    if (length === 15) {
      let b = 255;
      while (b === 255) {
        if (sPos >= sEnd) return LZ4_DECODE_ERROR.TRUNCATED;
        b = src[sPos++];
        length += b;
      }
    }
    length += MIN_MATCH;
    if (length > dEnd - dPos) return LZ4_DECODE_ERROR.OUTPUT_OVERFLOW;
    const m = dPos - offset;
    if (length < 32) {
      for (let i = 0; i < length; i++) dst[dPos + i] = dst[m + i];
      dPos += length;
    } else if (offset >= length) {
      dst.copyWithin(dPos, m, m + length);
      dPos += length;
    } else {
      // Overlapping match: [m, dPos) repeats with period `offset`; copying it doubles the run.
      const end = dPos + length;
      while (dPos < end) {
        const chunk = Math.min(dPos - m, end - dPos);
        dst.copyWithin(dPos, m, m + chunk);
        dPos += chunk;
      }
    }
  }
}
