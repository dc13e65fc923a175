/**
 * Zstandard record bodies (protocol.md §4: exactly one frame, no dictionary, no skippable frame,
 * content size optional) against the `zstd` command-line tool in both directions, fzstd, and broken
 * or unsupported frames.
 */
import fc from 'fast-check';
import { decompress as fzstdDecompress } from 'fzstd';
import { NproError } from '../../../src/core/errors.js';
import { initCompression, zstdCompress, zstdDecompress } from '../../../src/utils/compression/index.js';
import {
  ToolDir, expectSameBytes, flipBytes, jsonText, randomBytes, repetitive, runTool,
  compressionFailure,
} from '../../fixtures/compression/inputs.js';

const MiB = 1 << 20;
const LIMIT = 64 * MiB;
let dir: ToolDir;

beforeAll(async () => {
  await initCompression();
  dir = new ToolDir();
});
afterAll(() => {
  dir.remove();
});

const failure = compressionFailure;

/** Compresses `data` with `zstd args…` from a file and returns the frame. */
function cliCompress(data: Uint8Array, args: readonly string[]): Uint8Array {
  const input = dir.write(data);
  const output = dir.target('.zst');
  runTool('zstd', ['-q', '-f', ...args, input, '-o', output]);
  return dir.read(output);
}

const inputs: Array<[string, Uint8Array]> = [
  ['empty', new Uint8Array(0)],
  ['1 byte', new Uint8Array([42])],
  ['JSON 300 KiB', jsonText(300 * 1024)],
  ['random 200 KiB', randomBytes(200 * 1024)],
  ['repetitive 3 MiB', repetitive(3 * MiB)],
];

describe('zstdCompress / zstdDecompress', () => {
  test.each(inputs)('%s round trips at levels 1, 3, 6 and 19', (_, data) => {
    for (const level of [1, 3, 6, 19]) {
      expectSameBytes(zstdDecompress(zstdCompress(data, level), data.length), data);
    }
  });

  test('levels 20–22 work; 0, 23 and non-integers are refused with INVALID_ARGUMENT', () => {
    const data = jsonText(20_000);
    for (const level of [20, 22]) expectSameBytes(zstdDecompress(zstdCompress(data, level), data.length), data);
    for (const level of [0, 23, -1, 2.5, Number.NaN]) {
      expect(() => zstdCompress(data, level)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    }
  });

  test('frames hold the content size, no dictionary id and no checksum; higher levels compress better', () => {
    const data = jsonText(MiB);
    const frame = zstdCompress(data, 3);
    expect(Array.from(frame.subarray(0, 4))).toEqual([0x28, 0xb5, 0x2f, 0xfd]);
    expect(frame[4] & 0xc0).not.toBe(0); // Frame_Content_Size present
    expect(frame[4] & 0x07).toBe(0); // no checksum, no dictionary id
    expect(zstdCompress(data, 19).length).toBeLessThan(frame.length);
    expect(frame.length).toBeLessThan(MiB / 4);
  });

  test('property: any content round trips', () => {
    const body = fc.oneof(
      fc.uint8Array({ maxLength: 5000 }),
      fc.tuple(fc.integer({ min: 0, max: 200_000 }), fc.integer({ min: 0, max: 99 })).map(([n, s]) => jsonText(n, s)),
    );
    fc.assert(
      fc.property(body, fc.integer({ min: 1, max: 9 }), (data, level) => {
        expectSameBytes(zstdDecompress(zstdCompress(data, level), data.length), data);
      }),
      { numRuns: 80 },
    );
  });

  test('fzstd, an independent decoder, reads npro frames', () => {
    for (const [, data] of inputs) expectSameBytes(fzstdDecompress(zstdCompress(data, 3)), data);
  });
});

describe('interoperability with the zstd command-line tool', () => {
  test.each(inputs)('zstd -d reads npro frames: %s', (_, data) => {
    const frame = dir.write(zstdCompress(data, 6), '.zst');
    expectSameBytes(new Uint8Array(runTool('zstd', ['-d', '-c', frame])), data);
  });

  const options: string[][] = [[], ['-1'], ['-19'], ['--ultra', '-22'], ['--no-check'], ['--no-content-size'], ['--no-content-size', '--no-check'], ['--long=27']];
  test.each(options.map((o) => [o.join(' ') || '(defaults)', o] as const))('npro reads frames of zstd %s', (_, args) => {
    for (const [, data] of inputs) expectSameBytes(zstdDecompress(cliCompress(data, args), LIMIT), data);
  });

  test('frames without a content size decode within a limit equal to their size', () => {
    const data = jsonText(500_000);
    const frame = cliCompress(data, ['--no-content-size']);
    expect(frame[4] & 0xc0).toBe(0);
    expectSameBytes(zstdDecompress(frame, data.length), data);
    expect(failure(() => zstdDecompress(frame, data.length - 1)).details?.['overLimit']).toBe(true);
  });

  test('a corrupted content checksum is refused', () => {
    const frame = cliCompress(jsonText(100_000), []);
    expect(frame[4] & 0x04).toBe(0x04);
    frame[frame.length - 1] ^= 0x01;
    failure(() => zstdDecompress(frame, LIMIT));
  });

  test('frames that need a dictionary (zstd -D) are refused', () => {
    const samples = Array.from({ length: 40 }, (_, i) => dir.write(jsonText(3000, i * 50)));
    const dict = dir.target('.dict');
    runTool('zstd', ['-q', '-f', '--train', ...samples, '-o', dict]);
    const input = dir.write(jsonText(3000, 7));
    const output = dir.target('.zst');
    runTool('zstd', ['-q', '-f', '-D', dict, input, '-o', output]);
    const frame = dir.read(output);
    expect(frame[4] & 0x03).not.toBe(0);
    expect(failure(() => zstdDecompress(frame, LIMIT)).message).toMatch(/dictionary/);
  });
});

describe('corrupt and unsupported frames → COMPRESSION_FAILED', () => {
  const data = jsonText(50_000);

  test('skippable frames, alone or around a frame, and two frames are refused', () => {
    const frame = zstdCompress(data, 3);
    const skippable = Uint8Array.from([0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 1, 2, 3]);
    failure(() => zstdDecompress(skippable, LIMIT));
    failure(() => zstdDecompress(Uint8Array.from([...skippable, ...frame]), LIMIT));
    failure(() => zstdDecompress(Uint8Array.from([...frame, ...skippable]), LIMIT));
    failure(() => zstdDecompress(Uint8Array.from([...frame, ...frame]), LIMIT));
    failure(() => zstdDecompress(Uint8Array.from([...frame, 0]), LIMIT));
  });

  test('a dictionary id field holding 0 (no dictionary) is accepted, any other id is refused', () => {
    const frame = zstdCompress(data, 3);
    expect(frame[4] & 0x20).toBe(0x20); // single segment: the dictionary id follows the descriptor
    const withId = (id: number): Uint8Array => Uint8Array.from([...frame.subarray(0, 4), frame[4] | 0x01, id, ...frame.subarray(5)]);
    expectSameBytes(zstdDecompress(withId(0), LIMIT), data);
    expect(failure(() => zstdDecompress(withId(9), LIMIT)).message).toMatch(/dictionary/);
  });

  test('the reserved header bit and the reserved block type are refused', () => {
    const frame = zstdCompress(data, 3);
    failure(() => zstdDecompress(flipBytes(frame, [[4, 0x08]]), LIMIT));
    const raw = zstdCompress(new Uint8Array(0), 3); // one empty last raw block: 01 00 00
    const at = raw.length - 3;
    expect(raw[at] & 0x07).toBe(0x01);
    failure(() => zstdDecompress(flipBytes(raw, [[at, 0x06]]), LIMIT));
  });

  test('every truncation of a frame is refused', () => {
    const frame = cliCompress(jsonText(3000), []);
    for (let n = 0; n < frame.length; n++) failure(() => zstdDecompress(frame.subarray(0, n), LIMIT));
  });

  test('a declared content size that differs from the content is refused', () => {
    const frame = zstdCompress(jsonText(1000), 3); // 2-byte content size field at offset 5: size − 256
    expect(frame[4] >>> 6).toBe(1);
    for (const delta of [1, -1]) {
      const lying = frame.slice();
      const declared = lying[5] + (lying[6] << 8) + delta;
      lying[5] = declared & 0xff;
      lying[6] = declared >>> 8;
      failure(() => zstdDecompress(lying, LIMIT));
    }
  });

  test('a frame whose Huffman weights use a single-symbol FSE table fails at once (fzstd 0.1.1 loops forever on it)', () => {
    const hex = '28b52ffd206445010022830206f003aaaa5580' + '11'.repeat(30);
    const frame = Uint8Array.from(hex.match(/../g)!.map((b) => parseInt(b, 16)));
    const start = performance.now();
    failure(() => zstdDecompress(frame, LIMIT));
    expect(performance.now() - start).toBeLessThan(1000);
  });

  test('property: random byte flips give COMPRESSION_FAILED or at most maxSize bytes, nothing else', () => {
    const samples = [zstdCompress(jsonText(5000), 3), zstdCompress(repetitive(20_000), 6), cliCompress(jsonText(3000), []), cliCompress(jsonText(4000), ['--no-content-size'])];
    const flips = fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 3 });
    fc.assert(
      fc.property(fc.integer({ min: 0, max: samples.length - 1 }), flips, (which, f) => {
        try {
          expect(zstdDecompress(flipBytes(samples[which], f), 30_000).length).toBeLessThanOrEqual(30_000);
        } catch (err) {
          expect(NproError.is(err, 'COMPRESSION_FAILED')).toBe(true);
        }
      }),
      { numRuns: 1500 },
    );
  });
});
