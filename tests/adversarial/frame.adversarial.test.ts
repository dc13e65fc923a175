/**
 * Hostile byte streams against the frame decoder (protocol.md §1): wrong magic, bad versions,
 * oversize lengths, garbage. Each refusal is an NproError with its code, raised as early as the bytes
 * allow, and no payload of a bad header is ever kept.
 */
import fc from 'fast-check';
import { NproError, type ErrorCode } from '../../src/core/errors.js';
import { FrameDecoder } from '../../src/core/frame-decoder.js';
import { encodeFrame, HEADER_SIZE, MAX_PAYLOAD } from '../../src/core/frame.js';
import { fromHex } from '../../src/utils/bytes.js';

/**
 * Feeds `bytes` one at a time, calling next() after each. Returns the 1-based index of the byte
 * whose arrival raised the error, the error, and the largest `buffered` seen before it.
 */
function feedByteByByte(d: FrameDecoder, bytes: Uint8Array): { at: number; error: unknown; maxBuffered: number } {
  let maxBuffered = 0;
  for (let i = 0; i < bytes.length; i++) {
    d.push(bytes.subarray(i, i + 1));
    maxBuffered = Math.max(maxBuffered, d.buffered);
    try {
      while (d.next() !== null) {
        // frames before the bad header are taken as they come
      }
    } catch (error) {
      return { at: i + 1, error, maxBuffered };
    }
  }
  return { at: -1, error: undefined, maxBuffered };
}

const FRAME_ERRORS: ErrorCode[] = ['BAD_MAGIC', 'VERSION_UNSUPPORTED', 'FRAME_TOO_LARGE'];

describe('acceptance: early rejection', () => {
  test('"GET / HTTP/1.1\\r\\n" is BAD_MAGIC at its first byte', () => {
    const http = new TextEncoder().encode('GET / HTTP/1.1\r\n');
    const r = feedByteByByte(new FrameDecoder(), http);
    expect(NproError.is(r.error, 'BAD_MAGIC')).toBe(true);
    expect(r.at).toBe(1);
    expect(r.at).toBeLessThanOrEqual(4);

    const whole = new FrameDecoder();
    whole.push(http);
    expect(() => whole.next()).toThrow(NproError);
    expect(whole.buffered).toBe(0);
  });

  test('a wrong magic byte at position k is refused when byte k arrives, not before', () => {
    for (let k = 0; k < 4; k++) {
      const header = fromHex('4e50524f0200000000');
      header[k] ^= 0x20;
      const r = feedByteByByte(new FrameDecoder(), header);
      expect(NproError.is(r.error, 'BAD_MAGIC')).toBe(true);
      expect(r.at).toBe(k + 1);
    }
  });

  test('length FF FF FF FF is FRAME_TOO_LARGE when the 9th byte arrives, with nothing allocated for it', () => {
    const before = process.memoryUsage().arrayBuffers;
    const d = new FrameDecoder();
    d.setHandshakeComplete();
    const header = fromHex('4e50524f02ffffffff');
    const r = feedByteByByte(d, header);
    expect(NproError.is(r.error, 'FRAME_TOO_LARGE')).toBe(true);
    expect(r.at).toBe(9);
    expect(r.maxBuffered).toBeLessThanOrEqual(HEADER_SIZE);
    expect(d.buffered).toBe(0);
    // Payload bytes that follow are never taken in.
    expect(() => d.push(new Uint8Array(1024))).toThrow(r.error as Error);
    expect(d.buffered).toBe(0);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(1 << 20);
  });

  test('a length one above the ceiling (16,777,217) is refused at byte 9 whatever the configuration', () => {
    const d = new FrameDecoder({ maxPayload: 2 ** 32 });
    d.setHandshakeComplete();
    const r = feedByteByByte(d, fromHex('4e50524f0101000001'));
    expect(NproError.is(r.error, 'FRAME_TOO_LARGE')).toBe(true);
    expect(r.at).toBe(9);
    expect(r.maxBuffered).toBeLessThanOrEqual(HEADER_SIZE);
  });

  test('a pre-handshake frame of 4,097 bytes is refused at byte 9, before its payload', () => {
    const frame = encodeFrame(2, new Uint8Array(4097));
    const r = feedByteByByte(new FrameDecoder(), frame);
    expect(NproError.is(r.error, 'FRAME_TOO_LARGE')).toBe(true);
    expect(r.at).toBe(9);
  });

  test.each([0x03, 0x00, 0xff, 0x7f])('version %i is VERSION_UNSUPPORTED at byte 5', (version) => {
    const header = fromHex('4e50524f0000000004');
    header[4] = version;
    const r = feedByteByByte(new FrameDecoder(), header);
    expect(NproError.is(r.error, 'VERSION_UNSUPPORTED')).toBe(true);
    expect(r.at).toBe(5);
    expect(r.maxBuffered).toBeLessThanOrEqual(5);
  });

  test('version 03 is VERSION_UNSUPPORTED when the header arrives whole with its payload', () => {
    const d = new FrameDecoder();
    d.push(fromHex('4e50524f030000000400000000'));
    let caught: unknown;
    try {
      d.next();
    } catch (err) {
      caught = err;
    }
    expect(NproError.is(caught, 'VERSION_UNSUPPORTED')).toBe(true);
    expect((caught as NproError).number).toBe(2);
  });
});

describe('garbage', () => {
  test('random bytes in random chunks: only frame errors, never more than the limit kept', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 600 }),
        fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 20 }),
        fc.boolean(),
        (garbage, sizes, withGoodPrefix) => {
          const d = new FrameDecoder({ maxPayload: 256 });
          const input = withGoodPrefix ? Buffer.concat([encodeFrame(2, new Uint8Array(10)), garbage]) : garbage;
          let at = 0;
          let s = 0;
          try {
            while (at < input.length) {
              const n = sizes[s++ % sizes.length]!;
              d.push(input.subarray(at, at + n));
              at += n;
              while (d.next() !== null) {
                // keep taking frames
              }
              // Once drained, only the start of one frame within the limit is held.
              expect(d.buffered).toBeLessThan(256 + HEADER_SIZE);
            }
          } catch (err) {
            expect(NproError.is(err) && FRAME_ERRORS.includes(err.code)).toBe(true);
            expect(d.buffered).toBe(0);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  test('a valid header then silence: waiting, not an error; inFrame stays true', () => {
    const d = new FrameDecoder();
    d.setHandshakeComplete();
    d.push(fromHex('4e50524f0200100000'));
    expect(d.next()).toBeNull();
    d.push(new Uint8Array(1000));
    expect(d.next()).toBeNull();
    expect(d.inFrame).toBe(true);
    expect(d.buffered).toBe(1009);
  });

  test('many empty frames in one chunk decode without error', () => {
    const one = encodeFrame(2, new Uint8Array(0));
    const chunk = Buffer.concat(Array.from({ length: 10_000 }, () => one));
    const d = new FrameDecoder();
    d.push(chunk);
    let n = 0;
    while (d.next() !== null) n++;
    expect(n).toBe(10_000);
  });

  test('the ceiling is 16,777,216 exactly: a header declaring it is accepted and waits for the payload', () => {
    const d = new FrameDecoder();
    d.setHandshakeComplete();
    d.push(fromHex('4e50524f0201000000'));
    expect(d.next()).toBeNull();
    expect(d.inFrame).toBe(true);
    expect(d.maxFrameLength).toBe(MAX_PAYLOAD);
  });
});
