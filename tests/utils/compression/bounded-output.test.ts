/**
 * Inputs that inflate far beyond the caller's limit (64–256 MiB of zeros in a few KiB) fail with
 * COMPRESSION_FAILED before the inflated output exists. Memory is measured around each call:
 * `arrayBuffers` for JS buffers, `rss` for the Zstandard WebAssembly heap (not an ArrayBuffer the
 * process counts); both stay far below the inflated size.
 */
import { NproError } from '../../../src/core/errors.js';
import {
  initCompression, lz4CompressBlock, lz4DecompressBlock, lz4FrameCompress, lz4FrameDecompress, zstdCompress, zstdDecompress,
} from '../../../src/utils/compression/index.js';
import { ToolDir, jsonText, randomBytes, runTool } from '../../fixtures/compression/inputs.js';

const MiB = 1 << 20;
const LIMIT = MiB;
const INFLATED = 64 * MiB;
let dir: ToolDir;

beforeAll(async () => {
  await initCompression();
  dir = new ToolDir();
  // Warm the decoders up so first-call setup is not counted below.
  zstdDecompress(zstdCompress(jsonText(1000), 3), LIMIT);
  lz4FrameDecompress(lz4FrameCompress(jsonText(1000)), LIMIT);
});
afterAll(() => {
  dir.remove();
});

interface Outcome {
  error: NproError;
  arrayBuffers: number;
  rss: number;
}

/** Runs `fn`, expects COMPRESSION_FAILED, and reports the memory it added (no GC in between). */
function failing(fn: () => unknown): Outcome {
  const before = process.memoryUsage();
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  const after = process.memoryUsage();
  if (!NproError.is(caught, 'COMPRESSION_FAILED')) throw new Error(`expected COMPRESSION_FAILED, got ${String(caught)}`);
  return { error: caught, arrayBuffers: after.arrayBuffers - before.arrayBuffers, rss: after.rss - before.rss };
}

function expectOverLimit(o: Outcome): void {
  expect(o.error.details?.['overLimit']).toBe(true);
}

function cli(tool: 'lz4' | 'zstd', args: readonly string[], input: string): Uint8Array {
  const output = dir.target(`.${tool}`);
  runTool(tool, ['-q', '-f', ...args, input, ...(tool === 'zstd' ? ['-o', output] : [output])]);
  return dir.read(output);
}

describe('LZ4 block (the wire form)', () => {
  const block = lz4CompressBlock(new Uint8Array(INFLATED));

  test('64 MiB of zeros (a 257 KiB block): its prefix is over the limit, nothing is allocated', () => {
    expect(block.length).toBeLessThan(INFLATED / 200);
    const o = failing(() => lz4DecompressBlock(block, LIMIT));
    expectOverLimit(o);
    expect(o.error.details).toMatchObject({ size: INFLATED, maxSize: LIMIT });
    expect(o.arrayBuffers).toBeLessThan(INFLATED / 16);
  });

  test('the same block behind a prefix that claims the limit stops at the limit (prefix mismatch)', () => {
    const lying = block.slice();
    lying.set([0, 0, 0x10, 0], 0); // 1 MiB
    const o = failing(() => lz4DecompressBlock(lying, LIMIT));
    expect(o.error.details?.['overLimit']).toBeUndefined();
    expect(o.arrayBuffers).toBeLessThan(INFLATED / 16);
  });
});

describe('LZ4 frame', () => {
  test('with a content size (npro writer): refused from the header', () => {
    const frame = lz4FrameCompress(new Uint8Array(INFLATED));
    const o = failing(() => lz4FrameDecompress(frame, LIMIT));
    expectOverLimit(o);
    expect(o.arrayBuffers).toBeLessThan(INFLATED / 16);
  });

  test('without a content size (lz4 tool, 16 blocks of 4 MiB): decoding stops at the limit', () => {
    const frame = cli('lz4', [], dir.zeros(INFLATED));
    expect(frame[4] & 0x08).toBe(0);
    const o = failing(() => lz4FrameDecompress(frame, LIMIT));
    expectOverLimit(o);
    expect(o.arrayBuffers).toBeLessThan(INFLATED / 16);
  });

  test('stored blocks that alone exceed the limit are refused before decoding', () => {
    const frame = cli('lz4', ['-B4'], dir.write(randomBytes(3 * LIMIT)));
    const o = failing(() => lz4FrameDecompress(frame, LIMIT));
    expectOverLimit(o);
    expect(o.arrayBuffers).toBeLessThan(LIMIT / 2);
  });
});

describe('Zstandard frame', () => {
  test('without a content size, compressed blocks (zstd --no-content-size, 64 MiB of a repeated pattern): decoding stops at the limit', () => {
    const pattern = randomBytes(1000, 9);
    const data = new Uint8Array(INFLATED);
    for (let i = 0; i < INFLATED; i += pattern.length) data.set(pattern.subarray(0, INFLATED - i), i);
    const frame = cli('zstd', ['--no-content-size'], dir.write(data));
    expect(frame[4] & 0xc0).toBe(0);
    expect(frame.length).toBeLessThan(INFLATED / 500);
    const o = failing(() => zstdDecompress(frame, LIMIT));
    expectOverLimit(o);
    expect(o.arrayBuffers).toBeLessThan(INFLATED / 16);
    expect(o.rss).toBeLessThan(INFLATED / 2);
  });

  test('without a content size, RLE blocks (zstd --no-content-size, 256 MiB of zeros in ~8 KiB): refused from the block headers', () => {
    const inflated = 4 * INFLATED;
    const frame = cli('zstd', ['--no-content-size'], dir.zeros(inflated));
    expect(frame[4] & 0xc0).toBe(0);
    expect(frame.length).toBeLessThan(inflated / 1000);
    const o = failing(() => zstdDecompress(frame, LIMIT));
    expectOverLimit(o);
    expect(o.arrayBuffers).toBeLessThan(inflated / 16);
    expect(o.rss).toBeLessThan(inflated / 4);
  });

  test('with a content size (zstd tool): refused from the header', () => {
    const frame = cli('zstd', [], dir.zeros(INFLATED));
    const o = failing(() => zstdDecompress(frame, LIMIT));
    expectOverLimit(o);
    expect(o.error.details).toMatchObject({ size: INFLATED });
    expect(o.arrayBuffers).toBeLessThan(INFLATED / 16);
    expect(o.rss).toBeLessThan(INFLATED / 4);
  });

  test('with a content size (npro writer, 16 MiB): refused from the header', () => {
    const frame = zstdCompress(new Uint8Array(16 * MiB), 3);
    expectOverLimit(failing(() => zstdDecompress(frame, LIMIT)));
  });
});
