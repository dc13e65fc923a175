/**
 * The LZ4 wire form of protocol.md §4: `u32 LE size ‖ LZ4 block`. Round trips, the format's
 * end-of-block rules, cross-checks with lz4js, and every kind of malformed block.
 */
import fc from 'fast-check';
import * as lz4js from 'lz4js';
import { NproError } from '../../../src/core/errors.js';
import { lz4CompressBlock, lz4DecompressBlock } from '../../../src/utils/compression/index.js';
import { compressBlockInto, lz4BlockBound } from '../../../src/utils/compression/lz4-block-codec.js';
import { expectSameBytes, flipBytes, jsonText, randomBytes, repetitive } from '../../fixtures/compression/inputs.js';

const MiB = 1 << 20;

function withPrefix(size: number, block: number[]): Uint8Array {
  return new Uint8Array([size & 0xff, (size >>> 8) & 0xff, (size >>> 16) & 0xff, size >>> 24, ...block]);
}

function expectFailure(fn: () => unknown, overLimit = false): NproError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(NproError.is(caught, 'COMPRESSION_FAILED')).toBe(true);
  const err = caught as NproError;
  expect(err.details?.['overLimit'] === true).toBe(overLimit);
  return err;
}

interface Match {
  start: number;
  end: number;
}

/** The matches of a block, as output positions; throws unless the block ends with a literal run. */
function matchesOf(block: Uint8Array): Match[] {
  const matches: Match[] = [];
  let s = 0;
  let out = 0;
  for (;;) {
    const token = block[s++];
    let lit = token >>> 4;
    if (lit === 15) for (let b = 255; b === 255; lit += b) b = block[s++];
    s += lit;
    out += lit;
    if (s === block.length) return matches;
    if (s > block.length) throw new Error('literal run past the end of the block');
    s += 2;
    let len = token & 15;
    if (len === 15) for (let b = 255; b === 255; len += b) b = block[s++];
    matches.push({ start: out, end: out + len + 4 });
    out += len + 4;
  }
}

const inputKinds: Array<[string, (n: number) => Uint8Array]> = [
  ['random', (n) => randomBytes(n, n + 7)],
  ['zeros', (n) => new Uint8Array(n)],
  ['repetitive', (n) => repetitive(n)],
  ['JSON text', (n) => jsonText(n, n)],
];
const sizes = [0, 1, 2, 4, 5, 12, 13, 14, 15, 16, 17, 19, 20, 31, 32, 33, 254, 255, 256, 270, 271, 4096, 65535, 65536, 65537, 300_000];

describe('lz4CompressBlock / lz4DecompressBlock round trips', () => {
  test('the empty body is the prefix 0 and a single empty token', () => {
    expect(Array.from(lz4CompressBlock(new Uint8Array(0)))).toEqual([0, 0, 0, 0, 0]);
    expect(lz4DecompressBlock(withPrefix(0, [0]), 0)).toEqual(new Uint8Array(0));
  });

  test('a 1-byte body is a literal-only block', () => {
    expect(Array.from(lz4CompressBlock(new Uint8Array([0x61])))).toEqual([1, 0, 0, 0, 0x10, 0x61]);
  });

  test.each(inputKinds)('%s inputs of many sizes come back byte for byte, with the size prefix', (_, make) => {
    for (const n of sizes) {
      const body = make(n);
      const wire = lz4CompressBlock(body);
      expect(wire[0] | (wire[1] << 8) | (wire[2] << 16) | (wire[3] << 24)).toBe(n);
      expectSameBytes(lz4DecompressBlock(wire, n), body);
    }
  });

  test('compressible inputs shrink, random ones grow by at most the format bound', () => {
    expect(lz4CompressBlock(jsonText(MiB)).length).toBeLessThan(MiB / 3);
    expect(lz4CompressBlock(new Uint8Array(MiB)).length).toBeLessThan(MiB / 200);
    const random = randomBytes(MiB);
    expect(lz4CompressBlock(random).length).toBeLessThanOrEqual(4 + MiB + Math.floor(MiB / 255) + 16);
  });

  test('property: any body round trips (random, small-alphabet and text content)', () => {
    const body = fc.oneof(
      fc.uint8Array({ maxLength: 5000 }),
      fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 70_000 }).map((a) => Uint8Array.from(a)),
      fc.string({ maxLength: 3000 }).map((s) => new TextEncoder().encode(s.repeat(3))),
      fc.tuple(fc.integer({ min: 0, max: 200_000 }), fc.integer({ min: 1, max: 1000 })).map(([n, seed]) => jsonText(n, seed)),
    );
    fc.assert(
      fc.property(body, (b) => {
        expectSameBytes(lz4DecompressBlock(lz4CompressBlock(b), b.length), b);
      }),
      { numRuns: 120 },
    );
  });

  test('property: blocks follow the end-of-block rules (last 5 bytes literal, last match starts ≥ 12 bytes before the end)', () => {
    const body = fc.oneof(
      fc.array(fc.integer({ min: 0, max: 2 }), { maxLength: 400 }).map((a) => Uint8Array.from(a)),
      fc.tuple(fc.integer({ min: 0, max: 5000 }), fc.integer({ min: 0, max: 99 })).map(([n, s]) => jsonText(n, s)),
    );
    fc.assert(
      fc.property(body, (b) => {
        const late = matchesOf(lz4CompressBlock(b).subarray(4)).filter((m) => m.start > b.length - 12 || m.end > b.length - 5);
        expect(late).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });
});

describe('the match table', () => {
  test('stays correct when its 31-bit position range wraps (after 2 GiB of input) and across calls', () => {
    const before = jsonText(70_000, 1);
    const first = lz4CompressBlock(before);
    expectSameBytes(lz4DecompressBlock(first, before.length), before);
    // Random input is scanned fastest (the search step grows after each run of failed probes).
    const filler = randomBytes(64 * MiB, 77);
    const scratch = new Uint8Array(lz4BlockBound(filler.length));
    for (let total = 0; total < 2 ** 31 + filler.length; total += filler.length) compressBlockInto(filler, scratch, 0);
    for (const body of [before, jsonText(70_000, 2), repetitive(1000), randomBytes(5000), new Uint8Array(3000)]) {
      expectSameBytes(lz4DecompressBlock(lz4CompressBlock(body), body.length), body);
    }
    // The same body compresses to the same bytes whatever was compressed before.
    expectSameBytes(lz4CompressBlock(before), first);
  });
});

describe('cross-checks with lz4js', () => {
  test('lz4js decodes npro blocks, and npro decodes lz4js blocks', () => {
    for (const n of [100, 4096, 70_000, 300_000]) {
      const body = jsonText(n, 3);
      const ours = lz4CompressBlock(body).subarray(4);
      const out = new Uint8Array(n);
      expect(lz4js.decompressBlock(ours, out, 0, ours.length, 0)).toBe(n);
      expectSameBytes(out, body);
      const dst = new Uint8Array(lz4js.compressBound(n));
      const theirs = dst.subarray(0, lz4js.compressBlock(body, dst, 0, n, new Uint32Array(1 << 16)));
      expect(theirs.length).toBeGreaterThan(0);
      const wire = new Uint8Array(4 + theirs.length);
      wire.set([n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24]);
      wire.set(theirs, 4);
      expectSameBytes(lz4DecompressBlock(wire, n), body);
    }
  });
});

describe('malformed blocks → COMPRESSION_FAILED, never an out-of-bounds access or a short result', () => {
  const cases: Array<[string, Uint8Array]> = [
    ['a match offset of 0', withPrefix(8, [0x14, 0x61, 0x00, 0x00, 0x10, 0x62])],
    ['an offset before the start of the output', withPrefix(8, [0x10, 0x61, 0x02, 0x00, 0x10, 0x62])],
    ['a match past the end of the output', withPrefix(4, [0x10, 0x61, 0x01, 0x00, 0x00])],
    ['a literal run past the end of the input', withPrefix(5, [0x50, 0x61, 0x62])],
    ['a literal length whose 255-continuation is cut off', withPrefix(300, [0xf0, 0xff])],
    ['a block cut inside an offset', withPrefix(5, [0x10, 0x61, 0x01])],
    ['a match length whose continuation is cut off', withPrefix(100, [0x1f, 0x61, 0x01, 0x00, 0xff])],
    ['a block that ends with a match (no final literal run)', withPrefix(5, [0x10, 0x61, 0x01, 0x00])],
    ['an empty block', withPrefix(0, [])],
    ['a block that decodes to fewer bytes than its prefix', withPrefix(6, [0x10, 0x61, 0x01, 0x00, 0x00])],
    ['a block that decodes to more bytes than its prefix', withPrefix(2, [0x30, 0x61, 0x62, 0x63])],
    ['a body shorter than its size prefix', new Uint8Array([5, 0, 0])],
    ['a prefix more than 255 times the block', withPrefix(2 * 255 + 1, [0x10, 0x61])],
  ];
  test.each(cases)('%s', (_, data) => {
    expectFailure(() => lz4DecompressBlock(data, 1 << 16));
  });

  test('the valid neighbour of those cases decodes (the checks are not over-eager)', () => {
    // 'a' then a match of 4 at offset 1 then a final run 'b': "aaaaab"
    expect(new TextDecoder().decode(lz4DecompressBlock(withPrefix(6, [0x10, 0x61, 0x01, 0x00, 0x10, 0x62]), 6))).toBe('aaaaab');
  });

  test('a prefix over maxSize fails with overLimit, a prefix equal to it decodes', () => {
    const body = jsonText(1000);
    const wire = lz4CompressBlock(body);
    expect(expectFailure(() => lz4DecompressBlock(wire, 999), true).details).toMatchObject({ size: 1000, maxSize: 999 });
    expectSameBytes(lz4DecompressBlock(wire, 1000), body);
  });

  test('a prefix that differs from the block by one byte either way is detected', () => {
    const wire = lz4CompressBlock(jsonText(5000));
    for (const size of [4999, 5001]) {
      const lying = wire.slice();
      lying.set([size & 0xff, size >>> 8], 0);
      expectFailure(() => lz4DecompressBlock(lying, 1 << 20));
    }
  });

  test('maxSize must be a non-negative integer', () => {
    for (const bad of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => lz4DecompressBlock(withPrefix(0, [0]), bad)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    }
  });

  test('property: random byte flips give COMPRESSION_FAILED or exactly the prefix size, nothing else', () => {
    const samples = [jsonText(3000, 1), repetitive(2000), new Uint8Array(5000), randomBytes(300)].map(lz4CompressBlock);
    const flips = fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 });
    fc.assert(
      fc.property(fc.integer({ min: 0, max: samples.length - 1 }), flips, (which, f) => {
        const data = flipBytes(samples[which], f);
        const prefix = (data[0] | (data[1] << 8) | (data[2] << 16) | (data[3] << 24)) >>> 0;
        try {
          expect(lz4DecompressBlock(data, 1 << 20).length).toBe(prefix);
        } catch (err) {
          expect(NproError.is(err, 'COMPRESSION_FAILED')).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
