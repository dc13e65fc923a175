/**
 * The LZ4 frame format against the `lz4` command-line tool in both directions, lz4js, and broken or
 * unsupported frames: block checksums, legacy frames, bad checksums, trailing data, truncation.
 */
import fc from 'fast-check';
import * as lz4js from 'lz4js';
import { NproError } from '../../../src/core/errors.js';
import { lz4FrameCompress, lz4FrameDecompress, xxh32 } from '../../../src/utils/compression/index.js';
import {
  ToolDir, expectSameBytes, flipBytes, jsonText, randomBytes, repetitive, runTool,
  compressionFailure,
} from '../../fixtures/compression/inputs.js';

const MiB = 1 << 20;
const LIMIT = 64 * MiB;
let dir: ToolDir;

beforeAll(() => {
  dir = new ToolDir();
});
afterAll(() => {
  dir.remove();
});

const failure = compressionFailure;

/** Compresses `data` with `lz4 args…` from a file and returns the frame. */
function cliCompress(data: Uint8Array, args: readonly string[]): Uint8Array {
  const input = dir.write(data);
  const output = dir.target('.lz4');
  runTool('lz4', ['-q', '-f', ...args, input, output]);
  return dir.read(output);
}

const inputs: Array<[string, Uint8Array]> = [
  ['empty', new Uint8Array(0)],
  ['1 byte', new Uint8Array([42])],
  ['JSON 100 KiB', jsonText(100 * 1024)],
  ['random 70 KiB', randomBytes(70 * 1024)],
  ['repetitive 9 MiB (three 4 MiB blocks)', repetitive(9 * MiB)],
];

describe('lz4FrameCompress / lz4FrameDecompress', () => {
  test.each(inputs)('%s round trips', (_, data) => {
    expectSameBytes(lz4FrameDecompress(lz4FrameCompress(data), data.length), data);
  });

  test('frames carry the content size and a content checksum (FLG 0x6C, 4 MiB blocks)', () => {
    const frame = lz4FrameCompress(jsonText(1000));
    expect(Array.from(frame.subarray(0, 6))).toEqual([0x04, 0x22, 0x4d, 0x18, 0x6c, 0x70]);
    expect(frame[6] | (frame[7] << 8)).toBe(1000);
  });

  test('property: any content round trips', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), fc.integer({ min: 0, max: 3 }), (bytes, repeat) => {
        const data = new Uint8Array(bytes.length * (repeat + 1));
        for (let i = 0; i <= repeat; i++) data.set(bytes, i * bytes.length);
        expectSameBytes(lz4FrameDecompress(lz4FrameCompress(data), data.length), data);
      }),
      { numRuns: 100 },
    );
  });
});

describe('interoperability with the lz4 command-line tool', () => {
  test.each(inputs)('lz4 -d reads npro frames: %s', (_, data) => {
    const frame = dir.write(lz4FrameCompress(data), '.lz4');
    expectSameBytes(new Uint8Array(runTool('lz4', ['-d', '-c', frame])), data);
  });

  const options: string[][] = [[], ['-9'], ['--fast=3'], ['--no-frame-crc'], ['--content-size'], ['-B4'], ['-B5'], ['-B6'], ['-B7'], ['-B4D'], ['-BD', '--content-size']];
  test.each(options.map((o) => [o.join(' ') || '(defaults)', o] as const))('npro reads frames of lz4 %s', (_, args) => {
    for (const [, data] of inputs) {
      expectSameBytes(lz4FrameDecompress(cliCompress(data, args), LIMIT), data);
    }
  });

  test('linked blocks (lz4 -B4D) whose matches reach into the previous block decode', () => {
    const data = repetitive(300 * 1024, 'linked blocks reach back into the previous block ');
    const frame = cliCompress(data, ['-B4D']);
    expect(frame[4] & 0x20).toBe(0);
    expectSameBytes(lz4FrameDecompress(frame, data.length), data);
  });

  test('frames with block checksums (lz4 -BX) are refused, never mis-decoded', () => {
    for (const [, data] of inputs) {
      const frame = cliCompress(data, ['-BX']);
      expect(frame[4] & 0x10).toBe(0x10);
      expect(failure(() => lz4FrameDecompress(frame, LIMIT)).message).toMatch(/block checksum/);
    }
  });

  test('legacy frames (lz4 -l) are refused', () => {
    failure(() => lz4FrameDecompress(cliCompress(jsonText(5000), ['-l']), LIMIT));
  });
});

describe('corrupt and unsupported frames → COMPRESSION_FAILED', () => {
  const data = jsonText(50_000);
  const cliFrame = (): Uint8Array => cliCompress(data, []);

  test('a corrupted content checksum is refused (the content is otherwise intact)', () => {
    const frame = cliFrame();
    expect(frame[4] & 0x04).toBe(0x04);
    frame[frame.length - 1] ^= 0x01;
    failure(() => lz4FrameDecompress(frame, LIMIT));
  });

  test('a stored block with one changed byte is caught by the content checksum', () => {
    const frame = lz4FrameCompress(randomBytes(1000));
    frame[500] ^= 0x80;
    expect(failure(() => lz4FrameDecompress(frame, LIMIT)).message).toMatch(/content checksum/);
  });

  test('a corrupted header checksum is refused', () => {
    const frame = cliFrame();
    frame[6] ^= 0xff;
    expect(failure(() => lz4FrameDecompress(frame, LIMIT)).message).toMatch(/header checksum/);
  });

  test('reserved bits, a bad version, a dictionary id and a bad block size id are refused', () => {
    for (const [at, xor] of [[4, 0x02], [4, 0xc0], [4, 0x01], [5, 0x01], [5, 0x80], [5, 0x40]] as const) {
      const frame = lz4FrameCompress(data);
      frame[at] ^= xor;
      frame[14] = (xxh32(frame, 0, 4, 14) >>> 8) & 0xff;
      failure(() => lz4FrameDecompress(frame, LIMIT));
    }
  });

  test('bytes after the frame, two frames, a skippable frame, other magic numbers are refused', () => {
    const frame = lz4FrameCompress(data);
    const two = new Uint8Array(frame.length * 2);
    two.set(frame);
    two.set(frame, frame.length);
    failure(() => lz4FrameDecompress(two, LIMIT));
    failure(() => lz4FrameDecompress(Uint8Array.from([...frame, 0]), LIMIT));
    failure(() => lz4FrameDecompress(Uint8Array.from([0x50, 0x2a, 0x4d, 0x18, 0, 0, 0, 0]), LIMIT));
    failure(() => lz4FrameDecompress(Uint8Array.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0]), LIMIT));
  });

  test('every truncation of a frame is refused', () => {
    const frame = lz4FrameCompress(jsonText(3000));
    for (let n = 0; n < frame.length; n++) failure(() => lz4FrameDecompress(frame.subarray(0, n), LIMIT));
  });

  test('a declared content size that differs from the blocks is refused', () => {
    const frame = lz4FrameCompress(data);
    frame[6] ^= 0x01;
    frame[14] = (xxh32(frame, 0, 4, 14) >>> 8) & 0xff;
    failure(() => lz4FrameDecompress(frame, LIMIT));
  });

  test('property: random byte flips give COMPRESSION_FAILED or at most maxSize bytes, nothing else', () => {
    const samples = [lz4FrameCompress(jsonText(5000)), cliCompress(repetitive(20_000), ['-B4D', '--no-frame-crc']), cliCompress(jsonText(3000), [])];
    const flips = fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 3 });
    fc.assert(
      fc.property(fc.integer({ min: 0, max: samples.length - 1 }), flips, (which, f) => {
        try {
          expect(lz4FrameDecompress(flipBytes(samples[which], f), 30_000).length).toBeLessThanOrEqual(30_000);
        } catch (err) {
          expect(NproError.is(err, 'COMPRESSION_FAILED')).toBe(true);
        }
      }),
      { numRuns: 1500 },
    );
  });
});

describe('cross-checks with lz4js', () => {
  test('lz4js reads npro frames, npro reads lz4js frames', () => {
    for (const n of [0, 1, 5000, 5 * MiB]) {
      const data = jsonText(n, 11);
      expectSameBytes(lz4js.decompress(lz4FrameCompress(data), n), data);
      expectSameBytes(lz4FrameDecompress(lz4js.compress(data), n), data);
    }
  });
});
