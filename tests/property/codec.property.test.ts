/**
 * Properties of the frame decoder (protocol.md §1) and the message codec (protocol.md §2):
 * any split or coalescing of a frame stream decodes to the same frames, and decode ∘ encode is the
 * identity on every message variant.
 */
import fc from 'fast-check';
import { NproError } from '../../src/core/errors.js';
import { FrameDecoder, type DecodedFrame } from '../../src/core/frame-decoder.js';
import { encodeFrame, HEADER_SIZE, PRE_HANDSHAKE_MAX_PAYLOAD, type FrameVersion } from '../../src/core/frame.js';
import type { Message } from '../../src/core/message.js';
import { decodeMessage, encodedLength, encodeMessage, encodeMessageInto, MAX_MESSAGE_ID } from '../../src/core/message-codec.js';
import { concatBytes, toHex } from '../../src/utils/bytes.js';

// ---------------------------------------------------------------------------------------------
// Frames

const streamArb = fc.record({
  version: fc.constantFrom<FrameVersion>(1, 2),
  // The first frame stands for a handshake message (≤ 4 KiB); later ones may be larger.
  sizes: fc.array(fc.oneof(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: 5000 })), { minLength: 1, maxLength: 12 }),
  cuts: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 30 }),
  asBuffers: fc.boolean(),
  drainEachPush: fc.boolean(),
  limitBy: fc.constantFrom('handshake', 'maxPayload'),
});

function payloadOf(size: number, seed: number): Uint8Array {
  const p = new Uint8Array(size);
  for (let i = 0; i < size; i++) p[i] = (i * 13 + seed * 101) & 0xff;
  return p;
}

describe('frame decoder properties', () => {
  test('any split or coalescing of a frame stream decodes to the same frames, each in place or in one exact buffer', () => {
    fc.assert(
      fc.property(streamArb, ({ version, sizes, cuts, asBuffers, drainEachPush, limitBy }) => {
        sizes[0] = Math.min(sizes[0]!, PRE_HANDSHAKE_MAX_PAYLOAD);
        const frames = sizes.map((n, i) => encodeFrame(version, payloadOf(n, i)));
        const stream = concatBytes(...frames);
        const offsets = [...new Set(cuts.map((c) => Math.floor(c * stream.length)))].sort((a, b) => a - b);
        const chunks: Uint8Array[] = [];
        let prev = 0;
        for (const o of [...offsets, stream.length]) {
          if (o > prev) chunks.push(asBuffers ? Buffer.from(stream.subarray(prev, o)) : stream.slice(prev, o));
          prev = o;
        }

        const d = new FrameDecoder();
        const got: DecodedFrame[] = [];
        const take = (): void => {
          for (let f = d.next(); f !== null; f = d.next()) {
            got.push(f);
            // The driver adjusts the limit once the first frame (the handshake) is processed.
            if (got.length === 1) {
              if (limitBy === 'handshake') d.setHandshakeComplete();
              else {
                d.setHandshakeComplete();
                d.setMaxPayload(Math.max(...sizes));
              }
            }
          }
          expect(d.inFrame).toBe(d.buffered > 0);
        };
        for (const c of chunks) {
          d.push(c);
          if (drainEachPush) take();
        }
        take();

        expect(got.map((f) => f.version)).toEqual(frames.map(() => version));
        expect(got.map((f) => toHex(f.header) + toHex(f.payload))).toEqual(frames.map(toHex));
        expect(d.buffered).toBe(0);
        expect(d.inFrame).toBe(false);
        // Zero copy when one chunk held the frame; otherwise one buffer of exactly the frame's size.
        for (const f of got) {
          const chunk = chunks.find((c) => c.buffer === f.payload.buffer);
          if (chunk === undefined) expect(f.payload.buffer.byteLength).toBe(HEADER_SIZE + f.payload.length);
          else expect(f.header.buffer).toBe(chunk.buffer);
        }
      }),
      { numRuns: 150 },
    );
  });

  test('a frame over the limit in force is refused however the stream is cut', () => {
    fc.assert(
      fc.property(fc.integer({ min: 4097, max: 20_000 }), fc.integer({ min: 1, max: 50 }), (size, step) => {
        const stream = concatBytes(encodeFrame(2, payloadOf(10, 1)), encodeFrame(2, payloadOf(size, 2)));
        const d = new FrameDecoder();
        let error: unknown;
        let seen = 0;
        let maxBuffered = 0;
        try {
          for (let at = 0; at < stream.length; at += step) {
            d.push(stream.subarray(at, at + step));
            while (d.next() !== null) seen++;
            // Once the first frame is out, at most the 9-byte header of the second is held.
            maxBuffered = Math.max(maxBuffered, seen === 0 ? 0 : d.buffered);
          }
        } catch (err) {
          error = err;
        }
        expect(seen).toBe(1);
        expect(maxBuffered).toBeLessThanOrEqual(HEADER_SIZE);
        expect(NproError.is(error, 'FRAME_TOO_LARGE')).toBe(true);
      }),
      { numRuns: 60 },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Messages

const text = fc.oneof(
  fc.string({ maxLength: 100 }),
  fc.string({ unit: 'binary', maxLength: 80 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.string({ unit: 'binary-ascii', maxLength: 200 }),
);
const bytesArb = fc.uint8Array({ maxLength: 300 });
const id = fc.oneof(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 0, max: MAX_MESSAGE_ID }), fc.constant(MAX_MESSAGE_ID));
const fixedBytes = (n: number): fc.Arbitrary<Uint8Array> => fc.uint8Array({ minLength: n, maxLength: n });

export const messageArb: fc.Arbitrary<Message> = fc.oneof(
  fc.constantFrom<Message>({ type: 'Ping' }, { type: 'Pong' }, { type: 'Disconnect' }, { type: 'Unknown' }),
  fc.record({
    type: fc.constant('SecureHandshakeInit' as const),
    pubKey: fixedBytes(32),
    timestamp: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
    nonce: fixedBytes(16),
  }),
  fc.record({ type: fc.constant('SecureHandshakeResponse' as const), pubKey: fixedBytes(32), nonce: fixedBytes(16), nonceVerification: fixedBytes(32) }),
  fc.record({ type: fc.constant('SecureHandshakeConfirm' as const), nonceVerification: fixedBytes(32) }),
  fc.record({ type: fc.constant('Echo' as const), text }),
  fc.record({ type: fc.constant('Custom' as const), command: text, payload: bytesArb }),
  fc.record({ type: fc.constant('Request' as const), id, command: text, payload: bytesArb }),
  fc.record({ type: fc.constant('Response' as const), id, payload: bytesArb }),
  fc.record({ type: fc.constant('Failure' as const), id, code: text, message: text }),
  fc.record({ type: fc.constant('Cancel' as const), id }),
  fc.record({ type: fc.constant('GoAway' as const), lastId: id, reason: text }),
);

describe('message codec properties', () => {
  test('decode(encode(m)) = m for every variant, and the length is exact', () => {
    fc.assert(
      fc.property(messageArb, fc.integer({ min: 0, max: 16 }), (m, offset) => {
        const bytes = encodeMessage(m);
        expect(bytes.length).toBe(encodedLength(m));
        expect(decodeMessage(bytes)).toEqual(m);
        const out = new Uint8Array(offset + bytes.length + 3).fill(0x5a);
        expect(encodeMessageInto(m, out, offset)).toBe(offset + bytes.length);
        expect(toHex(out.subarray(offset, offset + bytes.length))).toBe(toHex(bytes));
        expect(out.subarray(offset + bytes.length).every((x) => x === 0x5a)).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  test('strings are their UTF-8 bytes behind a u64 LE length', () => {
    fc.assert(
      fc.property(text, (s) => {
        const bytes = encodeMessage({ type: 'Echo', text: s });
        const utf8 = Buffer.from(s, 'utf8');
        expect(toHex(bytes.subarray(4, 12))).toBe(toHex(Buffer.from([utf8.length & 0xff, (utf8.length >> 8) & 0xff, 0, 0, 0, 0, 0, 0])));
        expect(toHex(bytes.subarray(12))).toBe(toHex(utf8));
      }),
      { numRuns: 500 },
    );
  });

  test('a lone surrogate anywhere in a string is refused', () => {
    fc.assert(
      fc.property(text, text, fc.integer({ min: 0xd800, max: 0xdfff }), (a, z, unit) => {
        const s = a + String.fromCharCode(unit) + z;
        fc.pre(Buffer.from(s, 'utf8').toString('utf8') !== s);
        let caught: unknown;
        try {
          encodeMessage({ type: 'Failure', id: 1, code: 'X', message: s });
        } catch (err) {
          caught = err;
        }
        expect(NproError.is(caught, 'MESSAGE_MALFORMED')).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  test('arbitrary bytes decode to a message or fail with MESSAGE_MALFORMED, nothing else', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 15 }), fc.uint8Array({ maxLength: 80 }), (tag, rest) => {
        const input = concatBytes(new Uint8Array([tag, 0, 0, 0]), rest);
        for (const bytes of [input, rest]) {
          try {
            decodeMessage(bytes);
          } catch (err) {
            expect(NproError.is(err, 'MESSAGE_MALFORMED')).toBe(true);
          }
        }
      }),
      { numRuns: 500 },
    );
  });

  test('every strict prefix of an encoding is MESSAGE_MALFORMED', () => {
    fc.assert(
      fc.property(messageArb, fc.double({ min: 0, max: 1, noNaN: true }), (m, where) => {
        fc.pre(m.type !== 'Unknown');
        const bytes = encodeMessage(m);
        const cut = Math.min(bytes.length - 1, Math.floor(where * bytes.length));
        let caught: unknown;
        try {
          decodeMessage(bytes.subarray(0, cut));
        } catch (err) {
          caught = err;
        }
        expect(NproError.is(caught, 'MESSAGE_MALFORMED')).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});
