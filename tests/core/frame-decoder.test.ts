import { readFileSync } from 'node:fs';
import { NproError, type ErrorCode } from '../../src/core/errors.js';
import { FrameDecoder, type DecodedFrame } from '../../src/core/frame-decoder.js';
import { encodeFrame, HEADER_SIZE, MAX_PAYLOAD, type FrameVersion } from '../../src/core/frame.js';
import { concatBytes, fromHex, toHex } from '../../src/utils/bytes.js';

interface FrameVector {
  source: string;
  version: number;
  payload: string;
  hex: string;
}

const vectors = JSON.parse(readFileSync(new URL('../vectors/messages.json', import.meta.url), 'utf8')) as { frames: FrameVector[] };

function bytes(n: number, seed = 1): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + seed) & 0xff;
  return b;
}

function drain(d: FrameDecoder): DecodedFrame[] {
  const out: DecodedFrame[] = [];
  for (let f = d.next(); f !== null; f = d.next()) out.push(f);
  return out;
}

function expectCode(fn: () => unknown, code: ErrorCode): NproError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(NproError.is(caught, code)).toBe(true);
  return caught as NproError;
}

describe('FrameDecoder: whole frames', () => {
  test('decodes the plaintext Ping frame of §2', () => {
    const d = new FrameDecoder();
    d.push(fromHex('4e50524f010000000400000000'));
    const f = d.next();
    expect(f).not.toBeNull();
    expect(f!.version).toBe(1);
    expect(toHex(f!.header)).toBe('4e50524f0100000004');
    expect(toHex(f!.payload)).toBe('00000000');
    expect(d.next()).toBeNull();
    expect(d.buffered).toBe(0);
    expect(d.inFrame).toBe(false);
  });

  test.each(vectors.frames.map((f) => [f.source, f] as const))('golden frame, whole and byte by byte: %s', (_s, v) => {
    const frame = fromHex(v.hex);
    const whole = new FrameDecoder();
    whole.push(frame);
    const [a] = drain(whole);
    expect(a!.version).toBe(v.version);
    expect(toHex(a!.payload)).toBe(v.payload);
    const split = new FrameDecoder();
    const got: DecodedFrame[] = [];
    for (let i = 0; i < frame.length; i++) {
      split.push(frame.subarray(i, i + 1));
      got.push(...drain(split));
      if (i < frame.length - 1) expect(got).toHaveLength(0);
    }
    expect(got).toHaveLength(1);
    expect(toHex(got[0]!.header) + toHex(got[0]!.payload)).toBe(v.hex);
  });

  test('several frames coalesced in one chunk come out one at a time, in order', () => {
    const payloads = [bytes(0), bytes(1), bytes(100, 3), bytes(4096, 5)];
    const chunk = concatBytes(...payloads.map((p, i) => encodeFrame(((i % 2) + 1) as FrameVersion, p)));
    const d = new FrameDecoder({ version: 1 });
    d.push(chunk);
    const first = d.next();
    expect(first!.payload.length).toBe(0);
    expect(d.buffered).toBe(chunk.length - HEADER_SIZE);
    // The second frame is version 2 on a connection locked to 1.
    expectCode(() => d.next(), 'VERSION_UNSUPPORTED');

    const same = concatBytes(...payloads.map((p) => encodeFrame(2, p)));
    const d2 = new FrameDecoder();
    d2.push(same);
    const frames = drain(d2);
    expect(frames.map((f) => toHex(f.payload))).toEqual(payloads.map(toHex));
    expect(frames.every((f) => f.version === 2)).toBe(true);
  });

  test('chunks pushed before draining are queued and decoded in order', () => {
    const stream = concatBytes(encodeFrame(2, bytes(10)), encodeFrame(2, bytes(20)), encodeFrame(2, bytes(30)));
    const d = new FrameDecoder();
    d.push(stream.subarray(0, 5));
    d.push(stream.subarray(5, 25));
    d.push(new Uint8Array(0));
    d.push(stream.subarray(25));
    expect(d.buffered).toBe(stream.length);
    expect(drain(d).map((f) => f.payload.length)).toEqual([10, 20, 30]);
    expect(d.buffered).toBe(0);
  });
});

describe('FrameDecoder: memory', () => {
  test('a frame inside one chunk is returned as views of that chunk (no copy)', () => {
    const chunk = concatBytes(encodeFrame(2, bytes(64)), encodeFrame(2, bytes(64, 9)));
    const d = new FrameDecoder();
    d.push(chunk);
    const [a, b] = drain(d);
    for (const [f, at] of [[a!, 0], [b!, 73]] as const) {
      expect(f.payload.buffer).toBe(chunk.buffer);
      expect(f.header.buffer).toBe(chunk.buffer);
      expect(f.header.byteOffset).toBe(chunk.byteOffset + at);
      expect(f.payload.byteOffset).toBe(chunk.byteOffset + at + HEADER_SIZE);
    }
  });

  test('a Buffer chunk is also read in place', () => {
    const chunk = Buffer.from(encodeFrame(1, bytes(300)));
    const d = new FrameDecoder();
    d.push(chunk);
    const f = d.next()!;
    expect(f.payload.buffer).toBe(chunk.buffer);
    expect(f.payload.byteOffset).toBe(chunk.byteOffset + HEADER_SIZE);
    expect(toHex(f.payload)).toBe(toHex(bytes(300)));
  });

  test('a frame spanning chunks is assembled in one buffer of exactly its size', () => {
    const payload = bytes(5000);
    const frame = encodeFrame(2, payload);
    for (const cuts of [[3], [9], [10], [2, 7, 100, 4000], [5008]]) {
      const d = new FrameDecoder();
      d.setHandshakeComplete();
      let prev = 0;
      for (const c of [...cuts, frame.length]) {
        d.push(frame.slice(prev, c));
        prev = c;
      }
      const f = d.next()!;
      expect(f.payload.buffer.byteLength).toBe(HEADER_SIZE + payload.length);
      expect(f.header.buffer).toBe(f.payload.buffer);
      expect(toHex(f.header)).toBe(toHex(frame.subarray(0, HEADER_SIZE)));
      expect(toHex(f.payload)).toBe(toHex(payload));
    }
  });

  test('buffered and inFrame follow a frame from its first byte to its last', () => {
    const frame = encodeFrame(2, bytes(20));
    const d = new FrameDecoder();
    expect(d.inFrame).toBe(false);
    d.push(frame.subarray(0, 1));
    expect(d.inFrame).toBe(true);
    expect(d.next()).toBeNull();
    expect([d.buffered, d.inFrame]).toEqual([1, true]);
    d.push(frame.subarray(1, 12));
    expect(d.inFrame).toBe(true);
    expect(d.next()).toBeNull();
    expect([d.buffered, d.inFrame]).toEqual([12, true]);
    d.push(frame.subarray(12));
    expect(d.inFrame).toBe(false); // the last byte has arrived, the frame is waiting in next()
    expect(d.buffered).toBe(frame.length);
    expect(d.next()!.payload.length).toBe(20);
    expect([d.buffered, d.inFrame]).toEqual([0, false]);
  });

  test('inFrame looks across queued chunks before the frame is taken', () => {
    const frame = encodeFrame(2, bytes(20));
    const d = new FrameDecoder();
    d.push(frame.subarray(0, 4));
    d.push(frame.subarray(4, 10));
    expect(d.inFrame).toBe(true);
    d.push(frame.subarray(10));
    expect(d.inFrame).toBe(false);
    expect(d.next()!.payload.length).toBe(20);

    // Part of the header already collected by next(), the rest still queued.
    const e = new FrameDecoder();
    e.push(frame.subarray(0, 6));
    expect(e.next()).toBeNull();
    e.push(frame.subarray(6, 9));
    e.push(frame.subarray(9, 28));
    expect(e.inFrame).toBe(true);
    e.push(frame.subarray(28));
    expect(e.inFrame).toBe(false);
    expect(e.next()!.payload.length).toBe(20);
  });
});

describe('FrameDecoder: limits (protocol.md §1)', () => {
  test('until the handshake completes the cap is 4,096 bytes', () => {
    const d = new FrameDecoder();
    expect(d.maxFrameLength).toBe(4096);
    d.push(encodeFrame(2, bytes(4096)));
    expect(d.next()!.payload.length).toBe(4096);
    d.push(encodeFrame(2, bytes(4097)).subarray(0, HEADER_SIZE));
    const err = expectCode(() => d.next(), 'FRAME_TOO_LARGE');
    expect(err.details).toEqual({ length: 4097, limit: 4096 });
  });

  test('setHandshakeComplete lifts the cap for the frames not yet returned', () => {
    // AUTH and a first large record in one write: the record is checked once AUTH is processed.
    const chunk = concatBytes(encodeFrame(2, bytes(78)), encodeFrame(2, bytes(10_000)));
    const d = new FrameDecoder();
    d.push(chunk);
    expect(d.next()!.payload.length).toBe(78);
    d.setHandshakeComplete();
    expect(d.maxFrameLength).toBe(MAX_PAYLOAD);
    expect(d.next()!.payload.length).toBe(10_000);

    const refused = new FrameDecoder();
    refused.push(chunk);
    expect(refused.next()!.payload.length).toBe(78);
    expectCode(() => refused.next(), 'FRAME_TOO_LARGE');
  });

  test('setMaxPayload bounds every frame, before and after the handshake', () => {
    const d = new FrameDecoder({ maxPayload: 1000 });
    expect(d.maxFrameLength).toBe(1000);
    d.setHandshakeComplete();
    expect(d.maxFrameLength).toBe(1000);
    d.push(encodeFrame(2, bytes(1000)));
    expect(d.next()!.payload.length).toBe(1000);
    d.setMaxPayload(2000);
    d.push(encodeFrame(2, bytes(2000)));
    expect(d.next()!.payload.length).toBe(2000);
    d.setMaxPayload(100);
    d.push(encodeFrame(2, bytes(101)));
    expectCode(() => d.next(), 'FRAME_TOO_LARGE');
  });

  test('the absolute ceiling holds whatever max payload is configured', () => {
    const d = new FrameDecoder({ maxPayload: 2 ** 31 });
    d.setHandshakeComplete();
    expect(d.maxFrameLength).toBe(MAX_PAYLOAD);
    d.push(fromHex('4e50524f0201000001'));
    expectCode(() => d.next(), 'FRAME_TOO_LARGE');
  });

  test('a maximum of 0 accepts only empty frames', () => {
    const d = new FrameDecoder({ maxPayload: 0 });
    d.push(encodeFrame(1, bytes(0)));
    expect(d.next()!.payload.length).toBe(0);
    d.push(encodeFrame(1, bytes(1)));
    expectCode(() => d.next(), 'FRAME_TOO_LARGE');
  });

  test('an invalid max payload is refused with INVALID_ARGUMENT', () => {
    expectCode(() => new FrameDecoder({ maxPayload: -1 }), 'INVALID_ARGUMENT');
    expectCode(() => new FrameDecoder().setMaxPayload(1.5), 'INVALID_ARGUMENT');
    expectCode(() => new FrameDecoder().setMaxPayload(Number.NaN), 'INVALID_ARGUMENT');
  });
});

describe('FrameDecoder: versions', () => {
  test('the first frame locks the version; a later frame of the other version is refused', () => {
    const d = new FrameDecoder();
    expect(d.version).toBeNull();
    d.push(encodeFrame(1, bytes(4)));
    expect(d.next()!.version).toBe(1);
    expect(d.version).toBe(1);
    d.push(encodeFrame(2, bytes(4)));
    expectCode(() => d.next(), 'VERSION_UNSUPPORTED');
  });

  test('lockVersion refuses other versions from the first byte on, at byte 5', () => {
    const d = new FrameDecoder();
    d.lockVersion(2);
    const frame = encodeFrame(1, bytes(4));
    for (let i = 0; i < 4; i++) {
      d.push(frame.subarray(i, i + 1));
      expect(d.next()).toBeNull();
    }
    d.push(frame.subarray(4, 5));
    expectCode(() => d.next(), 'VERSION_UNSUPPORTED');
  });

  test('lockVersion: same version is a no-op, another is INVALID_STATE, a bad value INVALID_ARGUMENT', () => {
    const d = new FrameDecoder({ version: 2 });
    d.lockVersion(2);
    expect(d.version).toBe(2);
    expectCode(() => d.lockVersion(1), 'INVALID_STATE');
    expectCode(() => d.lockVersion(3 as FrameVersion), 'INVALID_ARGUMENT');
    d.push(encodeFrame(2, bytes(3)));
    expect(d.next()!.version).toBe(2);
  });
});

describe('FrameDecoder: failure is final', () => {
  test('after an error every call throws that same error and nothing stays buffered', () => {
    const d = new FrameDecoder();
    d.push(fromHex('4e50524f0300000000'));
    const err = expectCode(() => d.next(), 'VERSION_UNSUPPORTED');
    expect(d.buffered).toBe(0);
    expect(d.inFrame).toBe(false);
    let again: unknown;
    try {
      d.next();
    } catch (e) {
      again = e;
    }
    expect(again).toBe(err);
    let onPush: unknown;
    try {
      d.push(encodeFrame(2, bytes(1)));
    } catch (e) {
      onPush = e;
    }
    expect(onPush).toBe(err);
    expect(d.buffered).toBe(0);
  });

  test('frames before a bad header are handed out first; the error comes with the bad frame', () => {
    const d = new FrameDecoder();
    d.push(concatBytes(encodeFrame(2, bytes(5)), fromHex('4e50524f0200001001'), bytes(100)));
    expect(d.next()!.payload.length).toBe(5);
    expectCode(() => d.next(), 'FRAME_TOO_LARGE');
    expectCode(() => d.next(), 'FRAME_TOO_LARGE');
  });
});
