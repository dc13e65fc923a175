/**
 * The module entry points: Zstandard before and after `initCompression()`, and the
 * `compressBody` / `decompressBody` pair a record layer uses (protocol.md §4).
 */
import { NproError } from '../../../src/core/errors.js';
import {
  compressBody, decompressBody, initCompression, isZstdReady, lz4DecompressBlock, zstdCompress, zstdDecompress,
} from '../../../src/utils/compression/index.js';
import { expectSameBytes, jsonText } from '../../fixtures/compression/inputs.js';

// A Zstandard frame of "hello" (RFC 8878 §3.1.1): single segment, content size 5, one last raw block.
const HELLO_FRAME = Uint8Array.from([0x28, 0xb5, 0x2f, 0xfd, 0x20, 0x05, 0x29, 0x00, 0x00, 0x68, 0x65, 0x6c, 0x6c, 0x6f]);

describe('before initCompression()', () => {
  test('zstdCompress and zstdDecompress fail with INVALID_STATE; LZ4 needs no setup', () => {
    expect(isZstdReady()).toBe(false);
    expect(() => zstdCompress(jsonText(100), 3)).toThrow(expect.objectContaining({ code: 'INVALID_STATE' }));
    expect(() => zstdDecompress(HELLO_FRAME, 100)).toThrow(expect.objectContaining({ code: 'INVALID_STATE' }));
    const body = jsonText(2000);
    expectSameBytes(decompressBody('lz4', compressBody('lz4', body, 0), body.length), body);
  });
});

describe('after initCompression()', () => {
  beforeAll(async () => {
    await Promise.all([initCompression(), initCompression()]);
    await initCompression();
  });

  test('initCompression is idempotent and readies Zstandard', () => {
    expect(isZstdReady()).toBe(true);
    expect(new TextDecoder().decode(zstdDecompress(HELLO_FRAME, 5))).toBe('hello');
  });

  test.each(['lz4', 'zstd'] as const)('compressBody / decompressBody round trip with %s', (algorithm) => {
    for (const n of [0, 1, 600, 100_000]) {
      const body = jsonText(n, n);
      const data = compressBody(algorithm, body, 6);
      expectSameBytes(decompressBody(algorithm, data, n), body);
      if (n >= 600) expect(data.length).toBeLessThan(n);
    }
  });

  test.each(['lz4', 'zstd'] as const)('decompressBody(%s) over maxSize → COMPRESSION_FAILED with overLimit', (algorithm) => {
    const data = compressBody(algorithm, jsonText(10_000), 3);
    let caught: unknown;
    try {
      decompressBody(algorithm, data, 9_999);
    } catch (err) {
      caught = err;
    }
    expect(NproError.is(caught, 'COMPRESSION_FAILED')).toBe(true);
    expect((caught as NproError).details).toMatchObject({ overLimit: true, size: 10_000, maxSize: 9_999 });
  });

  test('an LZ4 body handed to the Zstandard decoder (and the reverse) is COMPRESSION_FAILED', () => {
    const body = jsonText(5000);
    expect(() => decompressBody('zstd', compressBody('lz4', body, 0), 10_000)).toThrow(expect.objectContaining({ code: 'COMPRESSION_FAILED' }));
    expect(() => lz4DecompressBlock(compressBody('zstd', body, 3), 10_000)).toThrow(expect.objectContaining({ code: 'COMPRESSION_FAILED' }));
  });

  test('an unknown algorithm name is INVALID_ARGUMENT', () => {
    const name = 'brotli' as unknown as 'lz4';
    expect(() => compressBody(name, jsonText(10), 1)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => decompressBody(name, jsonText(10), 1)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});
