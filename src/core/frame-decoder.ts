/**
 * The incremental NPRO frame decoder (protocol.md §1).
 *
 * Bytes go in with {@link FrameDecoder.push} in chunks of any size; whole frames come out one at a
 * time with {@link FrameDecoder.next}. Handing frames out one at a time lets a driver change the limit
 * between two frames: a client may write AUTH and its first records in one write, and each frame is
 * checked against the limit in force once every earlier frame has been returned (protocol.md §1).
 *
 * Validation is as early as the bytes allow: each magic byte as it arrives (`BAD_MAGIC`), the version
 * at byte 5 (`VERSION_UNSUPPORTED`), the length at byte 9 (`FRAME_TOO_LARGE`), before a single payload
 * byte is kept. After an error the decoder is failed for good: every later call throws that error.
 *
 * Memory: a frame that lies wholly inside one pushed chunk is returned as views of that chunk (no
 * copy), so the caller must not modify a chunk after pushing it. A frame that spans chunks is copied
 * into one allocation of exactly its size (header ‖ payload), made once its header is known and valid.
 */
import { NproError } from './errors.js';
import { HEADER_SIZE, MAX_PAYLOAD, PRE_HANDSHAKE_MAX_PAYLOAD, VERSION_V1, VERSION_V2, type FrameVersion } from './frame.js';

/** One decoded frame. `header` is its 9 bytes (the AAD of a v2 record, protocol.md §4). */
export interface DecodedFrame {
  version: FrameVersion;
  /** The 9 header bytes. */
  header: Uint8Array;
  /** The payload: a view of the pushed chunk when that chunk held the whole frame. */
  payload: Uint8Array;
}

export interface FrameDecoderOptions {
  /** `max_payload_size`: the largest length field accepted (never above 16,777,216). */
  maxPayload?: number;
  /** Accept only frames of this version from the first byte on. */
  version?: FrameVersion;
}

const EMPTY = new Uint8Array(0);
const M0 = 0x4e;
const M1 = 0x50;
const M2 = 0x52;
const M3 = 0x4f;

export class FrameDecoder {
  /** The chunk being read and the read position in it. */
  private chunk: Uint8Array = EMPTY;
  private pos = 0;
  /** Chunks pushed while `chunk` still had unread bytes, oldest first. */
  private readonly queue: Uint8Array[] = [];
  private queued = 0;
  /** Header bytes of a frame whose header spans chunks. */
  private readonly head = new Uint8Array(HEADER_SIZE);
  private headLength = 0;
  /** The frame being assembled across chunks (header ‖ payload) and how much of it is filled. */
  private frame: Uint8Array | null = null;
  private frameFill = 0;

  private maxPayload: number;
  private handshakeComplete = false;
  private limit: number;
  private locked: FrameVersion | 0;
  private failure: NproError | null = null;

  constructor(options: FrameDecoderOptions = {}) {
    this.maxPayload = checkMaxPayload(options.maxPayload ?? MAX_PAYLOAD);
    this.locked = options.version ?? 0;
    this.limit = this.computeLimit();
  }

  /**
   * Sets `max_payload_size` for the frames not yet returned (protocol.md §1); values above
   * 16,777,216 are capped there.
   */
  setMaxPayload(n: number): void {
    this.maxPayload = checkMaxPayload(n);
    this.limit = this.computeLimit();
  }

  /** Lifts the 4,096-byte cap that holds until the handshake completes (protocol.md §1). */
  setHandshakeComplete(): void {
    this.handshakeComplete = true;
    this.limit = this.computeLimit();
  }

  /**
   * Accepts only frames of version `v` from now on. The first frame's version locks the decoder by
   * itself (every later frame on a connection carries the same version, protocol.md preamble).
   */
  lockVersion(v: FrameVersion): void {
    if (v !== VERSION_V1 && v !== VERSION_V2) throw new NproError('INVALID_ARGUMENT', `no protocol version ${String(v)}`);
    if (this.locked !== 0 && this.locked !== v) {
      throw new NproError('INVALID_STATE', `the decoder is already locked to version ${this.locked}`);
    }
    this.locked = v;
  }

  /** The version every frame must carry, or null before the first version byte. */
  get version(): FrameVersion | null {
    return this.locked === 0 ? null : this.locked;
  }

  /** The length limit in force for the next frame. */
  get maxFrameLength(): number {
    return this.limit;
  }

  /** Bytes received and not yet returned in a frame. */
  get buffered(): number {
    return this.chunk.length - this.pos + this.queued + this.headLength + this.frameFill;
  }

  /**
   * True while the decoder holds the start of a frame whose last byte has not arrived: the span a
   * driver's `frame_timeout` covers (protocol.md §1). It looks at the first frame not yet returned,
   * so a driver reads it once next() has returned null.
   */
  get inFrame(): boolean {
    if (this.failure !== null) return false;
    const available = this.chunk.length - this.pos + this.queued;
    if (this.frame !== null) return this.frameFill + available < this.frame.length;
    const have = this.headLength + available;
    if (have === 0) return false;
    if (have < HEADER_SIZE) return true;
    const n = ((this.peek(5) << 24) | (this.peek(6) << 16) | (this.peek(7) << 8) | this.peek(8)) >>> 0;
    return have < HEADER_SIZE + n;
  }

  /** Hands `chunk` to the decoder. The decoder keeps a reference: do not modify it afterwards. */
  push(chunk: Uint8Array): void {
    if (this.failure !== null) throw this.failure;
    if (chunk.length === 0) return;
    // A plain Uint8Array view makes every later subarray cheaper than one of a Buffer.
    const view = chunk.constructor === Uint8Array ? chunk : new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length);
    if (this.pos === this.chunk.length && this.queued === 0) {
      this.chunk = view;
      this.pos = 0;
    } else {
      this.queue.push(view);
      this.queued += view.length;
    }
  }

  /**
   * The next whole frame, or null until more bytes arrive. Throws `BAD_MAGIC`,
   * `VERSION_UNSUPPORTED` or `FRAME_TOO_LARGE` (protocol.md §1); the decoder then stays failed.
   *
   * Hot path: a frame wholly inside the current chunk costs the result object and two subarrays.
   */
  next(): DecodedFrame | null {
    if (this.failure !== null) throw this.failure;
    const chunk = this.chunk;
    const pos = this.pos;
    if (this.headLength === 0 && this.frame === null && chunk.length - pos >= HEADER_SIZE) {
      const version = chunk[pos + 4]!;
      if (
        chunk[pos] !== M0 || chunk[pos + 1] !== M1 || chunk[pos + 2] !== M2 || chunk[pos + 3] !== M3 ||
        version !== this.locked
      ) {
        this.checkHeaderBytes(chunk, pos, 5, 0);
      }
      const n = ((chunk[pos + 5]! << 24) | (chunk[pos + 6]! << 16) | (chunk[pos + 7]! << 8) | chunk[pos + 8]!) >>> 0;
      if (n > this.limit) this.fail(tooLarge(n, this.limit));
      const end = pos + HEADER_SIZE + n;
      if (end <= chunk.length) {
        this.pos = end;
        if (end === chunk.length) this.release();
        return { version: version as FrameVersion, header: chunk.subarray(pos, pos + HEADER_SIZE), payload: chunk.subarray(pos + HEADER_SIZE, end) };
      }
    }
    return this.nextSlow();
  }

  /** Frames that span chunks, and headers cut by a chunk boundary. */
  private nextSlow(): DecodedFrame | null {
    for (;;) {
      let avail = this.chunk.length - this.pos;
      if (avail === 0) {
        if (this.queue.length === 0) return null;
        this.chunk = this.queue.shift()!;
        this.pos = 0;
        this.queued -= this.chunk.length;
        avail = this.chunk.length;
        // At a frame boundary the fresh chunk may hold whole frames: take the fast path.
        if (this.headLength === 0 && this.frame === null) return this.next();
      }
      if (this.frame === null) {
        // Collect the header byte by byte, validating each as it arrives.
        const take = Math.min(HEADER_SIZE - this.headLength, avail);
        this.checkHeaderBytes(this.chunk, this.pos, take, this.headLength);
        this.head.set(this.chunk.subarray(this.pos, this.pos + take), this.headLength);
        this.headLength += take;
        this.pos += take;
        if (this.headLength < HEADER_SIZE) continue;
        const h = this.head;
        const n = ((h[5]! << 24) | (h[6]! << 16) | (h[7]! << 8) | h[8]!) >>> 0;
        if (n > this.limit) this.fail(tooLarge(n, this.limit));
        this.frame = new Uint8Array(HEADER_SIZE + n);
        this.frame.set(h);
        this.frameFill = HEADER_SIZE;
        this.headLength = 0;
      } else {
        const take = Math.min(this.frame.length - this.frameFill, avail);
        this.frame.set(this.chunk.subarray(this.pos, this.pos + take), this.frameFill);
        this.frameFill += take;
        this.pos += take;
      }
      if (this.pos === this.chunk.length) this.release();
      const frame = this.frame;
      if (frame.length === this.frameFill) {
        this.frame = null;
        this.frameFill = 0;
        return { version: frame[4] as FrameVersion, header: frame.subarray(0, HEADER_SIZE), payload: frame.subarray(HEADER_SIZE) };
      }
    }
  }

  /**
   * Validates `count` header bytes read from `bytes[at…]`, the first being header byte `index`:
   * magic bytes one by one, then the version (protocol.md §1). Locks the version on first sight.
   */
  private checkHeaderBytes(bytes: Uint8Array, at: number, count: number, index: number): void {
    for (let i = 0; i < count; i++, index++) {
      const b = bytes[at + i]!;
      if (index < 4) {
        if (b !== MAGIC_BYTES[index]) {
          this.fail(new NproError('BAD_MAGIC', `byte ${index} of the frame header is 0x${hex(b)}, not the NPRO magic`));
        }
      } else if (index === 4) {
        if (b !== VERSION_V1 && b !== VERSION_V2) {
          this.fail(new NproError('VERSION_UNSUPPORTED', `frame version 0x${hex(b)} is not supported`));
        }
        if (this.locked === 0) this.locked = b;
        else if (b !== this.locked) {
          this.fail(new NproError('VERSION_UNSUPPORTED', `frame version 0x${hex(b)} on a connection of version ${this.locked}`));
        }
      }
    }
  }

  /** Byte `i` of the frame being read: collected header bytes first, then unread input. */
  private peek(i: number): number {
    if (i < this.headLength) return this.head[i]!;
    i -= this.headLength;
    const inChunk = this.chunk.length - this.pos;
    if (i < inChunk) return this.chunk[this.pos + i]!;
    i -= inChunk;
    for (const q of this.queue) {
      if (i < q.length) return q[i]!;
      i -= q.length;
    }
    return 0;
  }

  /** Drops the reference to a fully read chunk so that it can be collected. */
  private release(): void {
    this.chunk = EMPTY;
    this.pos = 0;
  }

  private fail(err: NproError): never {
    this.failure = err;
    this.chunk = EMPTY;
    this.pos = 0;
    this.queue.length = 0;
    this.queued = 0;
    this.headLength = 0;
    this.frame = null;
    this.frameFill = 0;
    throw err;
  }

  private computeLimit(): number {
    const cap = this.handshakeComplete ? MAX_PAYLOAD : PRE_HANDSHAKE_MAX_PAYLOAD;
    return Math.min(cap, this.maxPayload);
  }
}

const MAGIC_BYTES = [M0, M1, M2, M3] as const;

function checkMaxPayload(n: number): number {
  if (!Number.isInteger(n) || n < 0) throw new NproError('INVALID_ARGUMENT', `max payload must be a non-negative integer, got ${n}`);
  return Math.min(n, MAX_PAYLOAD);
}

function tooLarge(n: number, limit: number): NproError {
  return new NproError('FRAME_TOO_LARGE', `frame length ${n} exceeds the limit of ${limit}`, { details: { length: n, limit } });
}

function hex(b: number): string {
  return b.toString(16).padStart(2, '0');
}
