/**
 * Hostile records (protocol.md §4, behaviour.md "Records"): every flipped bit, replay, reorder, drop,
 * reflection and transplant → RECORD_AUTH_FAILED with nothing returned and the counter unchanged; an
 * authenticated peer that sends bad flags, bad sizes, bad compressed bodies or broken entry framing →
 * the error of §4 and nothing from that record.
 */
import { NproError, type ErrorCode } from '../../src/core/errors.js';
import { FrameDecoder } from '../../src/core/frame-decoder.js';
import type { Message } from '../../src/core/message.js';
import { nodeCrypto } from '../../src/utils/crypto/index.js';
import { initCompression, lz4CompressBlock, zstdCompress } from '../../src/utils/compression/index.js';
import { FEATURES } from '../../src/protocol/handshake-messages.js';
import { MAX_RECORD_COUNTER, RecordOpener, RecordSealer, encodeBody, type RecordItem } from '../../src/protocol/record.js';
import { splitFrame } from '../helpers/record-fixtures.js';

const MAX_FRAME = 2048;
const C2S = new Uint8Array(32).fill(0xc2);
const S2C = new Uint8Array(32).fill(0x5c);

function direction(key: Uint8Array, features = 0, counter = 0) {
  const common = { crypto: nodeCrypto, key, negotiatedFeatures: features, counter };
  return {
    sealer: new RecordSealer({ ...common, peerMaxFrame: MAX_FRAME }),
    opener: new RecordOpener({ ...common, localMaxFrame: MAX_FRAME }),
  };
}

/** Runs `fn` and returns the code it throws (or null), plus whatever it returned. */
function attempt(fn: () => RecordItem[]): { code: ErrorCode | null; items: RecordItem[] | null } {
  try {
    return { code: null, items: fn() };
  } catch (err) {
    if (!NproError.is(err)) throw err;
    return { code: err.code, items: null };
  }
}

function open(opener: RecordOpener, frame: Uint8Array): RecordItem[] {
  const { header, payload } = splitFrame(frame);
  return opener.open(header, payload);
}

const batch: Message[] = [{ type: 'Request', id: 1, command: 'ECHO', payload: Uint8Array.of(1, 2, 3) }, { type: 'Ping' }];

beforeAll(async () => {
  await initCompression();
});

describe('tampering and misdelivery', () => {
  test('every single flipped bit of a frame, header included, read through the frame decoder', () => {
    const { sealer, opener } = direction(C2S);
    const [frame] = sealer.sealMessages(batch);
    const outcomes = new Set<string>();
    for (let bit = 0; bit < frame!.length * 8; bit++) {
      const bad = frame!.slice();
      bad[bit >> 3]! ^= 1 << (bit & 7);
      const decoder = new FrameDecoder({ maxPayload: MAX_FRAME, version: 2 });
      decoder.setHandshakeComplete();
      const r = attempt(() => {
        decoder.push(bad);
        const f = decoder.next();
        return f === null ? [] : opener.open(f.header, f.payload);
      });
      outcomes.add(r.code ?? 'waiting for more bytes');
      if (r.code === null) expect(r.items).toEqual([]);
      else expect(['RECORD_AUTH_FAILED', 'BAD_MAGIC', 'VERSION_UNSUPPORTED', 'FRAME_TOO_LARGE']).toContain(r.code);
      expect(opener.counter).toBe(0);
    }
    expect(outcomes).toContain('RECORD_AUTH_FAILED');
    expect(outcomes).toContain('BAD_MAGIC');
    expect(open(opener, frame!).map((i) => ('message' in i ? i.message : i.error))).toEqual(batch);
  });

  test('with the header split as sent, every flipped bit fails authentication', () => {
    const { sealer, opener } = direction(C2S);
    const [frame] = sealer.sealMessages(batch);
    for (let bit = 0; bit < frame!.length * 8; bit++) {
      const bad = frame!.slice();
      bad[bit >> 3]! ^= 1 << (bit & 7);
      expect(attempt(() => open(opener, bad)).code).toBe('RECORD_AUTH_FAILED');
    }
    expect(opener.counter).toBe(0);
  });

  test('replayed, reordered, dropped, reflected and transplanted records → RECORD_AUTH_FAILED', () => {
    const c2s = direction(C2S);
    const s2c = direction(S2C);
    const frames = [0, 1, 2, 3].map((i) => c2s.sealer.sealMessages([{ type: 'Echo', text: `r${i}` }])[0]!);
    const reply = s2c.sealer.sealMessages([{ type: 'Pong' }])[0]!;
    const o = c2s.opener;
    expect(open(o, frames[0]!)).toHaveLength(1);
    expect(attempt(() => open(o, frames[0]!)).code).toBe('RECORD_AUTH_FAILED'); // replay
    expect(attempt(() => open(o, frames[2]!)).code).toBe('RECORD_AUTH_FAILED'); // reorder / drop of 1
    expect(attempt(() => open(s2c.opener, frames[1]!)).code).toBe('RECORD_AUTH_FAILED'); // reflected: c2s record to the s2c opener
    expect(attempt(() => open(o, reply)).code).toBe('RECORD_AUTH_FAILED'); // s2c record fed back c2s
    const other = direction(new Uint8Array(32).fill(0x99));
    expect(attempt(() => open(o, other.sealer.sealMessages([{ type: 'Ping' }])[0]!)).code).toBe('RECORD_AUTH_FAILED'); // transplanted
    expect(o.counter).toBe(1);
    expect(open(o, frames[1]!)).toHaveLength(1);
  });

  test('a payload shorter than the tag, or a tag with nothing in it', () => {
    const { sealer, opener } = direction(C2S);
    expect(attempt(() => opener.open(Uint8Array.of(0x4e, 0x50, 0x52, 0x4f, 2, 0, 0, 0, 15), new Uint8Array(15))).code).toBe('RECORD_AUTH_FAILED');
    expect(attempt(() => open(opener, sealer.sealRecord(new Uint8Array(0)))).code).toBe('PROTOCOL_ERROR');
  });

  test('a receiver that would need counter 2^48 → KEY_EXHAUSTED, before any crypto', () => {
    const { sealer, opener } = direction(C2S, 0, MAX_RECORD_COUNTER);
    const last = sealer.sealMessages([{ type: 'Disconnect' }], { final: true })[0]!;
    expect(open(opener, last)).toEqual([{ message: { type: 'Disconnect' } }]);
    expect(attempt(() => open(opener, last)).code).toBe('KEY_EXHAUSTED');
  });
});

describe('an authenticated peer sending bad records', () => {
  const good = encodeBody([{ type: 'Ping' }]);
  const u32be = (n: number) => [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
  const u32le = (n: number) => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24];

  function sendPlaintext(plaintext: Uint8Array | number[], features = 0): { code: ErrorCode | null; items: RecordItem[] | null } {
    const { sealer, opener } = direction(C2S, features);
    const frame = sealer.sealRecord(Uint8Array.from(plaintext));
    const r = attempt(() => open(opener, frame));
    expect(opener.counter).toBe(1);
    return r;
  }

  test.each([
    ['3', 3], ['bit 2', 4], ['bit 7', 0x80], ['LZ4 | bit 3', 0x09], ['0xff', 0xff],
  ])('flags %s → PROTOCOL_ERROR', (_n, flags) => {
    expect(sendPlaintext([flags, ...good], FEATURES.LZ4 | FEATURES.ZSTD).code).toBe('PROTOCOL_ERROR');
  });

  test('a compression flag that was not negotiated → PROTOCOL_ERROR', () => {
    expect(sendPlaintext([1, ...lz4CompressBlock(good)], FEATURES.ZSTD).code).toBe('PROTOCOL_ERROR');
    expect(sendPlaintext([2, ...zstdCompress(good, 3)], FEATURES.LZ4).code).toBe('PROTOCOL_ERROR');
    expect(sendPlaintext([1, ...lz4CompressBlock(good)], FEATURES.LZ4).items).toEqual([{ message: { type: 'Ping' } }]);
  });

  test.each([
    ['empty body', []],
    ['a truncated length', [0, 0, 0]],
    ['a zero length', [0, 0, 0, 0, ...good]],
    ['an entry past the end', [0, 0, 0, 9, 0, 0, 0, 0]],
    ['a good entry then a truncated length', [...good, 0, 0]],
    ['a good entry then an entry past the end', [...good, 0, 0, 0, 5, 0, 0, 0, 0]],
    ['a length of 2^32 − 1', [0xff, 0xff, 0xff, 0xff, 0]],
  ])('broken entry framing (%s) → PROTOCOL_ERROR, nothing returned', (_n, body) => {
    const r = sendPlaintext([0, ...body]);
    expect(r.code).toBe('PROTOCOL_ERROR');
    expect(r.items).toBeNull();
  });

  test('no flags byte at all → PROTOCOL_ERROR', () => {
    expect(sendPlaintext([]).code).toBe('PROTOCOL_ERROR');
  });

  test('a malformed entry among good ones → one MESSAGE_MALFORMED item in place, the others decoded', () => {
    const bad = [5, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0xc3, 0x28]; // Echo with invalid UTF-8
    const r = sendPlaintext([0, ...good, ...u32be(bad.length), ...bad, ...good, ...u32be(1), 0]);
    expect(r.code).toBeNull();
    const kinds = r.items!.map((i) => ('message' in i ? i.message.type : i.error.code));
    expect(kinds).toEqual(['Ping', 'MESSAGE_MALFORMED', 'Ping', 'MESSAGE_MALFORMED']);
  });

  test('an uncompressed body over max_frame − 17 → PROTOCOL_ERROR (sender with a larger limit)', () => {
    const sealer = new RecordSealer({ crypto: nodeCrypto, key: C2S, negotiatedFeatures: FEATURES.PLAINTEXT_RECORDS, peerMaxFrame: 4 * MAX_FRAME });
    const opener = new RecordOpener({ crypto: nodeCrypto, key: C2S, negotiatedFeatures: FEATURES.PLAINTEXT_RECORDS, localMaxFrame: MAX_FRAME });
    const body = encodeBody([{ type: 'Custom', command: '', payload: new Uint8Array(MAX_FRAME - 17 - 4 - 20 + 1) }]);
    expect(body.length).toBe(MAX_FRAME - 17 + 1);
    expect(attempt(() => open(opener, sealer.sealBody(body))).code).toBe('PROTOCOL_ERROR');
  });

  test('LZ4: a declared size over the limit → PROTOCOL_ERROR before allocating (even 4 GiB)', () => {
    expect(sendPlaintext([1, ...u32le(MAX_FRAME - 17 + 1), 0x10, 0x41], FEATURES.LZ4).code).toBe('PROTOCOL_ERROR');
    expect(sendPlaintext([1, ...u32le(0xffffffff), 0x10, 0x41], FEATURES.LZ4).code).toBe('PROTOCOL_ERROR');
  });

  test('LZ4: a block that decodes past its small prefix (and past the limit) → COMPRESSION_FAILED', () => {
    const big = lz4CompressBlock(new Uint8Array(MAX_FRAME * 4));
    big.set(u32le(8), 0);
    expect(sendPlaintext([1, ...big], FEATURES.LZ4).code).toBe('COMPRESSION_FAILED');
  });

  test('LZ4: corrupt block, truncated prefix, or a size other than the prefix → COMPRESSION_FAILED', () => {
    const block = lz4CompressBlock(new Uint8Array(600).fill(7));
    expect(sendPlaintext([1, ...block.subarray(0, block.length - 3)], FEATURES.LZ4).code).toBe('COMPRESSION_FAILED');
    expect(sendPlaintext([1, 1, 0], FEATURES.LZ4).code).toBe('COMPRESSION_FAILED');
    const wrong = block.slice();
    wrong.set(u32le(599), 0);
    expect(sendPlaintext([1, ...wrong], FEATURES.LZ4).code).toBe('COMPRESSION_FAILED');
    expect(sendPlaintext([1, 16, 0, 0, 0, 0xff, 0xff, 0xff], FEATURES.LZ4).code).toBe('COMPRESSION_FAILED');
  });

  test('Zstd: a declared content size over the limit → PROTOCOL_ERROR; a corrupt frame → COMPRESSION_FAILED', () => {
    const big = zstdCompress(new Uint8Array(MAX_FRAME), 3);
    expect(sendPlaintext([2, ...big], FEATURES.ZSTD).code).toBe('PROTOCOL_ERROR');
    const ok = zstdCompress(new Uint8Array([...good, ...good]), 3);
    expect(sendPlaintext([2, ...ok], FEATURES.ZSTD).items).toHaveLength(2);
    expect(sendPlaintext([2, ...ok.subarray(0, ok.length - 1)], FEATURES.ZSTD).code).toBe('COMPRESSION_FAILED');
    expect(sendPlaintext([2, 1, 2, 3], FEATURES.ZSTD).code).toBe('COMPRESSION_FAILED');
  });

  test('a compressed body that decodes to broken framing → PROTOCOL_ERROR', () => {
    expect(sendPlaintext([1, ...lz4CompressBlock(Uint8Array.of(0, 0, 0, 0, ...new Uint8Array(64)))], FEATURES.LZ4).code).toBe('PROTOCOL_ERROR');
  });
});
