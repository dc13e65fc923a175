/**
 * v2 records (protocol.md §4) as two sans-I/O objects per connection: a `RecordSealer` for the
 * direction this side sends, a `RecordOpener` for the direction it receives. Bytes in, bytes out;
 * the driver owns the socket.
 *
 * Every frame after AUTH carries one record: `payload = XChaCha20-Poly1305(key, nonce, aad = header,
 * flags ‖ body)`, or with plaintext records (feature bit 2) `payload = flags ‖ body`. A sealer coalesces
 * the messages it is given into as few records as the peer's `max_frame` allows (TLS-record style).
 *
 * Sealing path: the body is sized exactly (`encodedLength`), then written once into a buffer that
 * already has room for the 9-byte header, the flags byte and the tag; the ciphertext replaces the
 * plaintext in place, so that buffer is the frame. Opening path: subarrays all the way down.
 */
import { NproError } from '../core/errors.js';
import { HEADER_SIZE, LENGTH_OFFSET, VERSION_V2, writeHeader } from '../core/frame.js';
import type { Message } from '../core/message.js';
import { encodedLength } from '../core/message-codec.js';
import { ZSTD_MAX_LEVEL, ZSTD_MIN_LEVEL, isZstdReady } from '../utils/compression/index.js';
import { FEATURES } from './handshake-messages.js';
import { RECORD_TAG_LENGTH } from './record-cipher.js';
import { RecordDirection, checkMaxFrame, type DirectionOptions } from './record-direction.js';
import { bodyPieces, hasLargePayload, type BodyPieces } from './record-pieces.js';
import {
  ENTRY_HEADER_SIZE,
  RECORD_FLAGS,
  compressionApplies,
  maybeCompressBody,
  maxBodyLength,
  readEntries,
  recordBody,
  writeEntries,
  type CompressionSettings,
  type RecordItem,
} from './record-body.js';

export { REKEY_INTERVAL, MAX_RECORD_COUNTER, recordNonce, rekeyKey } from './record-cipher.js';
export { RECORD_FLAGS, RECORD_OVERHEAD, maybeCompressBody, encodeBody, maxBodyLength, readEntries, recordBody } from './record-body.js';
export type { CompressionAlgorithm, CompressionSettings, RecordItem } from './record-body.js';
export type { DirectionOptions } from './record-direction.js';

export interface RecordSealerOptions extends DirectionOptions {
  /** This side's compression settings, or `null` (default) when its `compression_enabled` is false. */
  compression?: CompressionSettings | null;
  /** The peer's advertised `max_frame`: the limit on every frame this sealer writes. */
  peerMaxFrame: number;
}

export interface RecordOpenerOptions extends DirectionOptions {
  /** The `max_frame` this side advertised: received bodies are limited to `localMaxFrame − 17`. */
  localMaxFrame: number;
}

export interface SealOptions {
  /**
   * The sender's last record (`Failure{0, code}` + `Disconnect`, or a plain `Disconnect`). Only such a
   * record may use the counter 2^48 − 1; without `final`, a batch that would need it fails with
   * `KEY_EXHAUSTED`, and the driver then seals `Failure{0, "KEY_EXHAUSTED"}` + `Disconnect` as final.
   */
  final?: boolean;
}

/** Messages of at least this many encoded bytes are sealed in a record of their own (a sender's choice, protocol.md §4). */
export const OWN_RECORD_BYTES = 65_536;

/** Settings that can be used as given: Zstd loaded and its level in range when it was negotiated. */
function checkCompression(settings: CompressionSettings | null, features: number): CompressionSettings | null {
  if (settings === null) return null;
  const { algorithm, threshold, level } = settings;
  if (algorithm !== 'lz4' && algorithm !== 'zstd') throw new NproError('INVALID_ARGUMENT', `unknown compression algorithm ${String(algorithm)}`);
  if (!Number.isSafeInteger(threshold) || threshold < 0) throw new NproError('INVALID_ARGUMENT', `compression threshold must be an integer ≥ 0, got ${threshold}`);
  if (algorithm === 'zstd' && (features & FEATURES.ZSTD) !== 0) {
    if (!Number.isInteger(level) || level < ZSTD_MIN_LEVEL || level > ZSTD_MAX_LEVEL) {
      throw new NproError('INVALID_ARGUMENT', `Zstd level must be an integer from ${ZSTD_MIN_LEVEL} to ${ZSTD_MAX_LEVEL}, got ${level}`);
    }
    if (!isZstdReady()) throw new NproError('INVALID_STATE', 'Zstd records need `await initCompression()` before the sealer is made');
  }
  return { algorithm, threshold, level };
}

/**
 * The sending direction. `sealMessages` turns a batch into whole frames (header included): one
 * record unless the batch exceeds the peer's `max_frame`. Nothing is sealed when any check fails.
 */
export class RecordSealer extends RecordDirection {
  /** The largest body of one record: the peer's `max_frame − 17`. */
  readonly maxBody: number;
  /** The largest encoded message that fits a record on its own. */
  readonly maxMessageLength: number;
  readonly #compression: CompressionSettings | null;
  readonly #peerMaxFrame: number;
  readonly #lengths: number[] = [];

  constructor(opts: RecordSealerOptions) {
    super(opts);
    checkMaxFrame('peerMaxFrame', opts.peerMaxFrame);
    this.#peerMaxFrame = opts.peerMaxFrame;
    this.maxBody = maxBodyLength(opts.peerMaxFrame);
    this.maxMessageLength = this.maxBody - ENTRY_HEADER_SIZE;
    this.#compression = checkCompression(opts.compression ?? null, this.features);
  }

  /**
   * `encodedLength(message)`, or `FRAME_TOO_LARGE` when the message cannot fit any record to this
   * peer. A driver calls it to turn a too-large reply into `Failure{id, "FRAME_TOO_LARGE"}`.
   */
  checkMessage(message: Message): number {
    return this.#sizeOf(message, 0);
  }

  /**
   * Seals `messages` in order into as few records as fit the peer's `max_frame` (a message of
   * `OWN_RECORD_BYTES` or more in a record of its own); returns whole frames.
   * A message too large for any record → `FRAME_TOO_LARGE` (`details.index` names it); a message
   * that cannot be encoded → its `MESSAGE_MALFORMED` (also with `details.index`); too few counters
   * left → `KEY_EXHAUSTED`. In every case nothing is sealed and the counter is unchanged: all bodies
   * are written before the first record is sealed.
   */
  sealMessages(messages: readonly Message[], opts: SealOptions = {}): Uint8Array[] {
    if (messages.length === 0) return [];
    const { ends, sizes } = this.#plan(messages);
    this.#reserve(ends.length, opts);
    const frames: Uint8Array[] = new Array<Uint8Array>(ends.length);
    for (let r = 0, start = 0; r < ends.length; r++) {
      frames[r] = this.#contiguousBody(messages, start, ends[r]!, sizes[r]!);
      start = ends[r]!;
    }
    for (let r = 0; r < frames.length; r++) frames[r] = this.#finishBody(frames[r]!, sizes[r]!);
    return frames;
  }

  /**
   * The same records as `sealMessages`, as a list of chunks for one `writev` (their concatenation is
   * the frames): a payload of at least `LARGE_PAYLOAD` bytes in an encrypted record that is not
   * compressed is encrypted straight from the caller's buffer, never copied. Same errors, same
   * all-or-nothing rule.
   */
  sealChunks(messages: readonly Message[], opts: SealOptions = {}): Uint8Array[] {
    if (messages.length === 0) return [];
    const { ends, sizes } = this.#plan(messages);
    this.#reserve(ends.length, opts);
    const bodies: (Uint8Array | BodyPieces)[] = new Array<Uint8Array | BodyPieces>(ends.length);
    for (let r = 0, start = 0; r < ends.length; r++) {
      const end = ends[r]!;
      bodies[r] = !this.plaintext && !compressionApplies(this.#compression, sizes[r]!, this.features) && hasLargePayload(messages, start, end)
        ? bodyPieces(messages, this.#lengths, start, end)
        : this.#contiguousBody(messages, start, end, sizes[r]!);
      start = end;
    }
    const chunks: Uint8Array[] = [];
    for (let r = 0; r < bodies.length; r++) {
      const body = bodies[r]!;
      if (body instanceof Uint8Array) {
        chunks.push(this.#finishBody(body, sizes[r]!));
        continue;
      }
      const { own, pieces } = body;
      own[HEADER_SIZE] = RECORD_FLAGS.NONE;
      const header = own.subarray(0, HEADER_SIZE);
      writeHeader(header, 0, VERSION_V2, 1 + sizes[r]! + RECORD_TAG_LENGTH);
      chunks.push(header, ...this.cipher.sealPieces(pieces, header));
      this.cipher.advance();
    }
    return chunks;
  }

  /**
   * Splits a batch into records: `ends[r]` is the index after record r's last message, `sizes[r]` its
   * body length. Small messages share records up to the peer's limit; a message of `OWN_RECORD_BYTES`
   * or more has a record of its own, so that the peer can open and answer it while the next one is
   * still arriving (two 1 MiB requests in one record make both ends wait for the whole of it).
   */
  #plan(messages: readonly Message[]): { ends: number[]; sizes: number[] } {
    const count = messages.length;
    const lengths = this.#lengths;
    lengths.length = count;
    const maxBody = this.maxBody;
    const ends: number[] = [];
    const sizes: number[] = [];
    let size = 0;
    let previousAlone = false;
    for (let i = 0; i < count; i++) {
      const n = this.#sizeOf(messages[i]!, i);
      const entry = ENTRY_HEADER_SIZE + n;
      const alone = n >= OWN_RECORD_BYTES;
      if (size > 0 && (size + entry > maxBody || alone || previousAlone)) {
        ends.push(i);
        sizes.push(size);
        size = 0;
      }
      size += entry;
      lengths[i] = n;
      previousAlone = alone;
    }
    ends.push(count);
    sizes.push(size);
    return { ends, sizes };
  }

  /** A frame buffer holding the entries of `messages[start … end)` at offset 10 (header and flags not yet written). */
  #contiguousBody(messages: readonly Message[], start: number, end: number, size: number): Uint8Array {
    const frame = this.#allocate(size);
    writeEntries(messages, this.#lengths, start, end, frame, HEADER_SIZE + 1);
    return frame;
  }

  /** The encoded length of `messages[index]`, with the index in any error. */
  #sizeOf(message: Message, index: number): number {
    let n: number;
    try {
      n = encodedLength(message);
    } catch (err) {
      if (!NproError.is(err)) throw err;
      throw new NproError(err.code, err.message, { cause: err, details: { index } });
    }
    if (n > this.maxMessageLength) {
      throw new NproError('FRAME_TOO_LARGE', `a ${message.type} of ${n} bytes does not fit the peer's max_frame of ${this.#peerMaxFrame}`, {
        details: { index, length: n, max: this.maxMessageLength },
      });
    }
    return n;
  }

  /**
   * Seals one record from a body of entries (uncompressed), applying this side's compression
   * policy. A body over `maxBody` → `FRAME_TOO_LARGE`.
   */
  sealBody(body: Uint8Array, opts: SealOptions = {}): Uint8Array {
    if (body.length > this.maxBody) {
      throw new NproError('FRAME_TOO_LARGE', `record body of ${body.length} bytes exceeds the peer's limit of ${this.maxBody}`);
    }
    this.#reserve(1, opts);
    const frame = this.#allocate(body.length);
    frame.set(body, HEADER_SIZE + 1);
    return this.#finishBody(frame, body.length);
  }

  /**
   * Seals a record plaintext (`flags ‖ body`) exactly as given, with no compression and no check of
   * its contents: vectors and adversarial tests. A payload over the peer's `max_frame` →
   * `FRAME_TOO_LARGE`.
   */
  sealRecord(recordPlaintext: Uint8Array, opts: SealOptions = {}): Uint8Array {
    const tag = this.plaintext ? 0 : RECORD_TAG_LENGTH;
    if (recordPlaintext.length + tag > this.#peerMaxFrame) {
      throw new NproError('FRAME_TOO_LARGE', `record of ${recordPlaintext.length + tag} bytes exceeds the peer's max_frame of ${this.#peerMaxFrame}`);
    }
    this.#reserve(1, opts);
    const frame = allocateBytes(HEADER_SIZE + recordPlaintext.length + tag);
    frame.set(recordPlaintext, HEADER_SIZE);
    return this.#seal(frame, recordPlaintext.length);
  }

  /** `KEY_EXHAUSTED` unless `records` counters are left (the last one only for a final record). */
  #reserve(records: number, opts: SealOptions): void {
    const usable = opts.final === true ? this.cipher.remaining : this.cipher.remaining - 1;
    if (records > usable) {
      throw new NproError('KEY_EXHAUSTED', this.cipher.remaining === 0
        ? 'the send direction used its last record counter (2^48 − 1)'
        : `only ${this.cipher.remaining} record counters are left; the last is reserved for the final record`);
    }
  }

  /** A frame buffer for an uncompressed body of `bodyLength`: header, flags, body, tag. */
  #allocate(bodyLength: number): Uint8Array {
    return allocateBytes(HEADER_SIZE + 1 + bodyLength + (this.plaintext ? 0 : RECORD_TAG_LENGTH));
  }

  /**
   * Compresses the body at `frame[10 …]` when the policy says so, then seals. Compression is an
   * option of the sender: should the compressor fail, the body goes out as it is.
   */
  #finishBody(frame: Uint8Array, bodyLength: number): Uint8Array {
    const bodyStart = HEADER_SIZE + 1;
    let compressed: { flags: number; data: Uint8Array } | null = null;
    try {
      compressed = maybeCompressBody(frame.subarray(bodyStart, bodyStart + bodyLength), this.#compression, this.features);
    } catch {
      compressed = null;
    }
    if (compressed === null) {
      frame[HEADER_SIZE] = RECORD_FLAGS.NONE;
      return this.#seal(frame, 1 + bodyLength);
    }
    const packed = allocateBytes(bodyStart + compressed.data.length + (this.plaintext ? 0 : RECORD_TAG_LENGTH));
    packed[HEADER_SIZE] = compressed.flags;
    packed.set(compressed.data, bodyStart);
    return this.#seal(packed, 1 + compressed.data.length);
  }

  /**
   * `frame` holds the record plaintext at offset 9 (and room for the tag after it). Writes the
   * header, seals in place, advances the counter; returns `frame`, now the whole frame.
   */
  #seal(frame: Uint8Array, plaintextLength: number): Uint8Array {
    const payloadLength = plaintextLength + (this.plaintext ? 0 : RECORD_TAG_LENGTH);
    writeHeader(frame, 0, VERSION_V2, payloadLength);
    if (!this.plaintext) {
      this.cipher.sealInto(frame.subarray(HEADER_SIZE, HEADER_SIZE + plaintextLength), frame.subarray(0, HEADER_SIZE), frame, HEADER_SIZE);
    }
    this.cipher.advance();
    return frame;
  }
}

/**
 * The receiving direction. `open(header, payload)` authenticates, decrypts and decodes one record.
 * A record that fails to authenticate → `RECORD_AUTH_FAILED` and the counter does not advance;
 * an authenticated record counts as received even if its contents are then refused.
 */
export class RecordOpener extends RecordDirection {
  /** The largest body accepted: this side's `max_frame − 17`. */
  readonly maxBody: number;

  constructor(opts: RecordOpenerOptions) {
    super(opts);
    checkMaxFrame('localMaxFrame', opts.localMaxFrame);
    if ((this.features & FEATURES.ZSTD) !== 0 && !isZstdReady()) {
      throw new NproError('INVALID_STATE', 'Zstd records need `await initCompression()` before the opener is made');
    }
    this.maxBody = maxBodyLength(opts.localMaxFrame);
  }

  /**
   * The messages of one record frame (`header` = its 9 bytes, `payload` = the rest). Errors:
   * `RECORD_AUTH_FAILED`, `KEY_EXHAUSTED`, `PROTOCOL_ERROR` (flags, sizes, entry framing),
   * `COMPRESSION_FAILED`. An entry that fails §2 decoding is a `MESSAGE_MALFORMED` item.
   */
  open(header: Uint8Array, payload: Uint8Array): RecordItem[] {
    const plaintext = this.openRecord(header, payload);
    return readEntries(recordBody(plaintext, this.features, this.maxBody));
  }

  /** Authenticates and decrypts one record; returns its plaintext (`flags ‖ body`, not yet checked). */
  openRecord(header: Uint8Array, payload: Uint8Array): Uint8Array {
    if (this.cipher.remaining === 0) {
      throw new NproError('KEY_EXHAUSTED', 'the receive direction would need record counter 2^48');
    }
    if (header.length !== HEADER_SIZE) throw new NproError('INVALID_ARGUMENT', `a frame header is ${HEADER_SIZE} bytes, got ${header.length}`);
    if (this.plaintext) {
      const at = LENGTH_OFFSET;
      const declared = ((header[at]! << 24) | (header[at + 1]! << 16) | (header[at + 2]! << 8) | header[at + 3]!) >>> 0;
      if (declared !== payload.length) {
        throw new NproError('INVALID_ARGUMENT', `the header declares ${declared} payload bytes, ${payload.length} were given`);
      }
      this.cipher.advance();
      return payload;
    }
    const plaintext = this.cipher.open(payload, header);
    if (plaintext === null) {
      throw new NproError('RECORD_AUTH_FAILED', `record ${this.cipher.counter} failed to authenticate`);
    }
    this.cipher.advance();
    return plaintext;
  }
}

/** Uninitialised bytes (every byte is written before use): Node's pooled allocator when present. */
function allocateBytes(length: number): Uint8Array {
  if (typeof Buffer === 'undefined') return new Uint8Array(length);
  const b = Buffer.allocUnsafe(length);
  return new Uint8Array(b.buffer, b.byteOffset, length);
}
