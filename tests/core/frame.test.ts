import { readFileSync } from 'node:fs';
import { NproError } from '../../src/core/errors.js';
import {
  encodeFrame,
  encodeHeader,
  HEADER_SIZE,
  LENGTH_OFFSET,
  MAGIC,
  MAX_PAYLOAD,
  PRE_HANDSHAKE_MAX_PAYLOAD,
  VERSION_OFFSET,
  VERSION_V1,
  VERSION_V2,
  writeHeader,
  type FrameVersion,
} from '../../src/core/frame.js';
import { fromHex, toHex } from '../../src/utils/bytes.js';

interface FrameVector {
  source: string;
  version: number;
  payload: string;
  hex: string;
}

const vectors = JSON.parse(readFileSync(new URL('../vectors/messages.json', import.meta.url), 'utf8')) as { frames: FrameVector[] };

function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

describe('frame header layout (protocol.md §1)', () => {
  test('constants follow the table of §1', () => {
    expect(toHex(MAGIC)).toBe('4e50524f');
    expect(Buffer.from(MAGIC).toString('ascii')).toBe('NPRO');
    expect([VERSION_OFFSET, LENGTH_OFFSET, HEADER_SIZE]).toEqual([4, 5, 9]);
    expect([VERSION_V1, VERSION_V2]).toEqual([1, 2]);
    expect(MAX_PAYLOAD).toBe(16_777_216);
    expect(PRE_HANDSHAKE_MAX_PAYLOAD).toBe(4_096);
  });

  test('the plaintext Ping frame of §2', () => {
    expect(toHex(encodeFrame(VERSION_V1, fromHex('00000000')))).toBe('4e50524f010000000400000000');
  });

  test('the length is a big-endian u32', () => {
    expect(toHex(encodeHeader(VERSION_V2, 0x010203))).toBe('4e50524f0200010203');
    expect(toHex(encodeHeader(VERSION_V1, 0))).toBe('4e50524f0100000000');
    expect(toHex(encodeHeader(VERSION_V2, MAX_PAYLOAD))).toBe('4e50524f0201000000');
  });

  test('writeHeader writes exactly 9 bytes at the offset', () => {
    const out = new Uint8Array(14).fill(0xee);
    writeHeader(out, 3, VERSION_V2, 0xa1b2c3d4);
    expect(toHex(out)).toBe('eeeeee4e50524f02a1b2c3d4eeee');
  });

  test.each(vectors.frames.map((f) => [f.source, f] as const))('golden frame: %s', (_source, f) => {
    const encoded = encodeFrame(f.version as FrameVersion, fromHex(f.payload));
    expect(toHex(encoded)).toBe(f.hex);
    expect(toHex(encodeHeader(f.version as FrameVersion, f.payload.length / 2))).toBe(f.hex.slice(0, 18));
  });

  test('encoders return plain Uint8Arrays of exactly the frame size', () => {
    for (const n of [0, 1, 55, 56, 100, 4086, 4087, 4096, 70_000]) {
      const frame = encodeFrame(VERSION_V2, new Uint8Array(n).fill(7));
      expect(frame.constructor).toBe(Uint8Array);
      expect(frame.length).toBe(HEADER_SIZE + n);
      expect(frame.subarray(HEADER_SIZE).every((b) => b === 7)).toBe(true);
    }
    expect(encodeHeader(VERSION_V1, 5).constructor).toBe(Uint8Array);
  });
});

describe('frame size limits on encode', () => {
  test('a payload above 16,777,216 bytes is refused with FRAME_TOO_LARGE', () => {
    expect(NproError.is(thrownBy(() => encodeHeader(VERSION_V2, MAX_PAYLOAD + 1)), 'FRAME_TOO_LARGE')).toBe(true);
    const big = new Uint8Array(MAX_PAYLOAD + 1);
    expect(NproError.is(thrownBy(() => encodeFrame(VERSION_V2, big)), 'FRAME_TOO_LARGE')).toBe(true);
  });

  test('a payload above the given maximum is refused; at the maximum it is accepted', () => {
    const p = new Uint8Array(PRE_HANDSHAKE_MAX_PAYLOAD + 1);
    expect(NproError.is(thrownBy(() => encodeFrame(VERSION_V2, p, PRE_HANDSHAKE_MAX_PAYLOAD)), 'FRAME_TOO_LARGE')).toBe(true);
    expect(encodeFrame(VERSION_V2, p.subarray(1), PRE_HANDSHAKE_MAX_PAYLOAD).length).toBe(HEADER_SIZE + PRE_HANDSHAKE_MAX_PAYLOAD);
  });

  test('a maximum above the absolute ceiling does not lift the ceiling', () => {
    const big = new Uint8Array(MAX_PAYLOAD + 1);
    expect(NproError.is(thrownBy(() => encodeFrame(VERSION_V2, big, 2 ** 31)), 'FRAME_TOO_LARGE')).toBe(true);
  });
});
