/**
 * The framing of the raw echo systems: `[u32 LE payload length][payload]`, the thinnest framing a
 * request/response protocol can have, so the raw `node:net`/`node:tls` figures are a ceiling.
 */

/** Bytes of the length prefix. */
export const PREFIX_SIZE = 4;
/** Largest payload a raw echo peer accepts (the bench sends at most 1 MiB). */
export const MAX_ECHO_PAYLOAD = 16 * 1024 * 1024;

/** One frame: length prefix and payload in a new buffer. */
export function encodeFrame(payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(PREFIX_SIZE + payload.length);
  out.writeUInt32LE(payload.length, 0);
  out.set(payload, PREFIX_SIZE);
  return out;
}

/** The length prefix alone, for writing a large payload without copying it. */
export function encodePrefix(length: number): Buffer {
  const out = Buffer.allocUnsafe(PREFIX_SIZE);
  out.writeUInt32LE(length, 0);
  return out;
}

/** `copies` identical frames of `size` payload bytes back to back (pipelined sends slice it). */
export function frameBlock(size: number, copies: number): Buffer {
  const one = encodeFrame(Buffer.alloc(size, 0x61));
  const out = Buffer.allocUnsafe(one.length * copies);
  for (let i = 0; i < copies; i++) one.copy(out, i * one.length);
  return out;
}

/**
 * Finds frame boundaries in a byte stream without copying: after `scan(chunk)`, `end` is the offset
 * just past the last frame completed in `chunk` (−1 if none) and `frames` how many completed.
 * Used by the echo server (to write back whole frames) and by pipelined clients (to count replies).
 */
export class FrameScanner {
  end = -1;
  frames = 0;
  private readonly header = Buffer.alloc(PREFIX_SIZE);
  private headerHave = 0;
  private bodyLeft = 0;
  private inBody = false;

  scan(chunk: Uint8Array): void {
    const n = chunk.length;
    let i = 0;
    let end = -1;
    let frames = 0;
    while (i < n) {
      if (this.inBody) {
        const take = Math.min(this.bodyLeft, n - i);
        i += take;
        this.bodyLeft -= take;
        if (this.bodyLeft === 0) {
          this.inBody = false;
          end = i;
          frames++;
        }
        continue;
      }
      let length: number;
      if (this.headerHave === 0 && n - i >= PREFIX_SIZE) {
        length = chunk[i]! | (chunk[i + 1]! << 8) | (chunk[i + 2]! << 16) | (chunk[i + 3]! * 0x1000000);
        i += PREFIX_SIZE;
      } else {
        this.header[this.headerHave++] = chunk[i++]!;
        if (this.headerHave < PREFIX_SIZE) continue;
        this.headerHave = 0;
        length = this.header.readUInt32LE(0);
      }
      if (length > MAX_ECHO_PAYLOAD) throw new RangeError(`echo frame of ${length} bytes exceeds ${MAX_ECHO_PAYLOAD}`);
      if (length === 0) {
        end = i;
        frames++;
      } else {
        this.bodyLeft = length;
        this.inBody = true;
      }
    }
    this.end = end;
    this.frames = frames;
  }
}

/**
 * Cuts a byte stream into payloads. A frame wholly inside one chunk is handed out as a view of it;
 * a frame spread over chunks is gathered and copied once, when its last byte arrives.
 */
export class FrameReader {
  private parts: Buffer[] = [];
  private have = 0;
  /** Total bytes (prefix + payload) of the pending frame, or −1 while its prefix is incomplete. */
  private need = -1;

  constructor(private readonly onFrame: (payload: Buffer) => void) {}

  push(chunk: Buffer): void {
    let off = 0;
    const n = chunk.length;
    while (off < n) {
      if (this.have === 0) {
        if (n - off >= PREFIX_SIZE) {
          const length = chunk.readUInt32LE(off);
          if (length > MAX_ECHO_PAYLOAD) throw new RangeError(`echo frame of ${length} bytes exceeds ${MAX_ECHO_PAYLOAD}`);
          if (n - off - PREFIX_SIZE >= length) {
            this.onFrame(chunk.subarray(off + PREFIX_SIZE, off + PREFIX_SIZE + length));
            off += PREFIX_SIZE + length;
            continue;
          }
          this.need = PREFIX_SIZE + length;
        }
        this.parts.push(chunk.subarray(off));
        this.have = n - off;
        return;
      }
      if (this.need < 0) {
        const take = Math.min(PREFIX_SIZE - this.have, n - off);
        this.parts.push(chunk.subarray(off, off + take));
        this.have += take;
        off += take;
        if (this.have < PREFIX_SIZE) return;
        const length = Buffer.concat(this.parts, PREFIX_SIZE).readUInt32LE(0);
        if (length > MAX_ECHO_PAYLOAD) throw new RangeError(`echo frame of ${length} bytes exceeds ${MAX_ECHO_PAYLOAD}`);
        this.need = PREFIX_SIZE + length;
      }
      const take = Math.min(this.need - this.have, n - off);
      if (take > 0) this.parts.push(chunk.subarray(off, off + take));
      this.have += take;
      off += take;
      if (this.have < this.need) return;
      const frame = Buffer.concat(this.parts, this.need);
      this.parts = [];
      this.have = 0;
      this.need = -1;
      this.onFrame(frame.subarray(PREFIX_SIZE));
    }
  }
}
