/** XXH32, the checksum of the LZ4 frame format: published values and lz4js's implementation. */
import { createRequire } from 'node:module';
import { xxh32 } from '../../../src/utils/compression/index.js';
import { randomBytes } from '../../fixtures/compression/inputs.js';

const lz4jsXxh32 = createRequire(import.meta.url)('lz4js/xxh32.js') as { hash(seed: number, b: Uint8Array, i: number, n: number): number };

test('published values (xxHash reference: seed 0 and seed 0x9E3779B1)', () => {
  const text = (s: string): Uint8Array => new TextEncoder().encode(s);
  expect(xxh32(new Uint8Array(0))).toBe(0x02cc5d05);
  expect(xxh32(text('abc'))).toBe(0x32d153ff);
  expect(xxh32(text('Nobody inspects the spammish repetition'))).toBe(0xe2293b2f);
  expect(xxh32(new Uint8Array(0), 0x9e3779b1)).toBe(0x36b78ae7);
});

test('agrees with lz4js on every length from 0 to 300 and on sub-ranges', () => {
  const data = randomBytes(1000, 5);
  for (let n = 0; n <= 300; n++) expect(xxh32(data.subarray(0, n))).toBe(lz4jsXxh32.hash(0, data, 0, n));
  for (const [start, end] of [[3, 40], [17, 999], [500, 516]]) {
    expect(xxh32(data, 0, start, end)).toBe(lz4jsXxh32.hash(0, data, start, end - start));
  }
});
