/**
 * Records sealed in chunks (`RecordSealer.sealChunks`): the bytes on the wire are exactly those of
 * `sealMessages`, large payloads are chunks of their own, and the all-or-nothing rule holds.
 */
import fc from 'fast-check';
import { NproError } from '../../src/core/errors.js';
import type { Message } from '../../src/core/message.js';
import { encodeMessage, encodeMessageHeadInto, encodedLength } from '../../src/core/message-codec.js';
import { concatBytes, toHex } from '../../src/utils/bytes.js';
import { nobleCrypto, nodeCrypto, type CryptoProvider } from '../../src/utils/crypto/index.js';
import { initCompression } from '../../src/utils/compression/index.js';
import { FEATURES } from '../../src/protocol/handshake-messages.js';
import { OWN_RECORD_BYTES, RecordOpener, RecordSealer, type CompressionSettings } from '../../src/protocol/record.js';
import { LARGE_PAYLOAD } from '../../src/protocol/record-pieces.js';
import { arbMessage, splitFrame } from '../helpers/record-fixtures.js';

const KEY = Uint8Array.from({ length: 32 }, (_, i) => 200 - i);

function sealers(opts: { crypto?: CryptoProvider; maxFrame: number; features?: number; compression?: CompressionSettings | null }) {
  const common = { crypto: opts.crypto ?? nodeCrypto, key: KEY, negotiatedFeatures: opts.features ?? 0 };
  const make = (): RecordSealer => new RecordSealer({ ...common, peerMaxFrame: opts.maxFrame, compression: opts.compression ?? null });
  return { contiguous: make(), chunked: make(), opener: new RecordOpener({ ...common, localMaxFrame: opts.maxFrame }) };
}

function payloadOf(n: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);
}

beforeAll(async () => {
  await initCompression();
});

describe('encodeMessageHeadInto', () => {
  it.each([
    { type: 'Request', id: 77, command: 'PUT', payload: payloadOf(300, 1) },
    { type: 'Response', id: 2 ** 40, payload: payloadOf(9, 2) },
    { type: 'Custom', command: 'évènement', payload: new Uint8Array(0) },
  ] as Message[])('$type: head ‖ payload is the whole encoding', (m) => {
    const payload = (m as { payload: Uint8Array }).payload;
    const head = new Uint8Array(encodedLength(m) - payload.length);
    expect(encodeMessageHeadInto(m as Extract<Message, { payload: Uint8Array }>, head, 0)).toBe(head.length);
    expect(toHex(concatBytes(head, payload))).toBe(toHex(encodeMessage(m)));
  });

  it('refuses an output too small for the head', () => {
    const m = { type: 'Response', id: 1, payload: payloadOf(40, 3) } as const;
    expect(() => encodeMessageHeadInto(m, new Uint8Array(10), 0)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});

describe('sealChunks', () => {
  it.each([nodeCrypto, nobleCrypto])('gives the bytes of sealMessages, the large payload in its own chunk ($name)', (crypto) => {
    const big = payloadOf(LARGE_PAYLOAD * 3 + 5, 7);
    const batch: Message[] = [
      { type: 'Ping' },
      { type: 'Request', id: 1, command: 'PUT', payload: big },
      { type: 'Echo', text: 'after' },
      { type: 'Response', id: 9, payload: payloadOf(LARGE_PAYLOAD, 9) },
    ];
    const { contiguous, chunked, opener } = sealers({ crypto, maxFrame: 1 << 20 });
    const frames = contiguous.sealMessages(batch);
    const chunks = chunked.sealChunks(batch);
    expect(frames).toHaveLength(1);
    // header, [flags … Request head], payload, [Echo … Response head], payload, tag
    expect(chunks.map((c) => c.length)).toEqual([9, expect.any(Number), big.length, expect.any(Number), LARGE_PAYLOAD, 16]);
    expect(toHex(concatBytes(...chunks))).toBe(toHex(frames[0]!));
    expect(chunked.counter).toBe(1);
    const { header, payload } = splitFrame(concatBytes(...chunks));
    const items = opener.open(header, payload);
    expect(items.map((i) => ('message' in i ? i.message.type : i.error.code))).toEqual(['Ping', 'Request', 'Echo', 'Response']);
    expect(toHex((items[1] as { message: { payload: Uint8Array } }).message.payload)).toBe(toHex(big));
  });

  it('seals a compressed or plaintext record contiguously, with the same bytes as sealMessages', () => {
    const batch: Message[] = [{ type: 'Custom', command: 'C', payload: new Uint8Array(LARGE_PAYLOAD * 2) }];
    const lz4 = sealers({ maxFrame: 1 << 20, features: FEATURES.LZ4, compression: { algorithm: 'lz4', threshold: 0, level: 1 } });
    const a = lz4.contiguous.sealMessages(batch);
    const b = lz4.chunked.sealChunks(batch);
    expect(b).toHaveLength(1);
    expect(toHex(b[0]!)).toBe(toHex(a[0]!));
    expect(b[0]!.length).toBeLessThan(LARGE_PAYLOAD);
    const plain = sealers({ maxFrame: 1 << 20, features: FEATURES.PLAINTEXT_RECORDS });
    const c = plain.chunked.sealChunks(batch);
    expect(c).toHaveLength(1);
    expect(toHex(c[0]!)).toBe(toHex(plain.contiguous.sealMessages(batch)[0]!));
  });

  it('seals nothing and keeps the counter when one message cannot be sent', () => {
    const { chunked } = sealers({ maxFrame: 1 << 16 });
    const batch: Message[] = [
      { type: 'Request', id: 1, command: 'A', payload: payloadOf(LARGE_PAYLOAD, 1) },
      { type: 'Request', id: 2, command: 'B', payload: new Uint8Array(1 << 16) },
    ];
    let err: unknown;
    try {
      chunked.sealChunks(batch);
    } catch (e) {
      err = e;
    }
    expect(NproError.is(err, 'FRAME_TOO_LARGE')).toBe(true);
    expect((err as NproError).details?.['index']).toBe(1);
    expect(chunked.counter).toBe(0);
  });

  it('equals sealMessages on random batches with large payloads, split over several records', () => {
    const arbLarge: fc.Arbitrary<Message> = fc.record({
      type: fc.constant('Response' as const),
      id: fc.nat(),
      payload: fc.integer({ min: LARGE_PAYLOAD, max: LARGE_PAYLOAD * 3 }).map((n) => payloadOf(n, n)),
    });
    fc.assert(
      fc.property(fc.array(fc.oneof(arbMessage(), arbLarge), { minLength: 1, maxLength: 12 }), (batch) => {
        const { contiguous, chunked } = sealers({ maxFrame: LARGE_PAYLOAD * 4 });
        expect(toHex(concatBytes(...chunked.sealChunks(batch)))).toBe(toHex(concatBytes(...contiguous.sealMessages(batch))));
        expect(chunked.counter).toBe(contiguous.counter);
      }),
      { numRuns: 60 },
    );
  });
});

describe('records per batch', () => {
  const frameCount = (chunks: Uint8Array[]): number => {
    const wire = concatBytes(...chunks);
    let frames = 0;
    for (let o = 0; o < wire.length; frames++) o += 9 + ((wire[o + 5]! << 24) | (wire[o + 6]! << 16) | (wire[o + 7]! << 8) | wire[o + 8]!);
    return frames;
  };

  it('coalesces small messages and gives a message of OWN_RECORD_BYTES or more a record of its own', () => {
    const big = (id: number): Message => ({ type: 'Response', id, payload: payloadOf(OWN_RECORD_BYTES, id) });
    const small = (id: number): Message => ({ type: 'Response', id, payload: payloadOf(100, id) });
    const cases: [Message[], number][] = [
      [[small(1), small(2), small(3)], 1],
      [[big(1), big(2)], 2],
      [[small(1), small(2), big(3), small(4), small(5)], 3],
      [[big(1), small(2)], 2],
      [[{ type: 'Response', id: 9, payload: payloadOf(OWN_RECORD_BYTES - 40, 9) }, small(2)], 1],
    ];
    for (const [batch, records] of cases) {
      const { contiguous, chunked, opener } = sealers({ maxFrame: 1 << 20 });
      const frames = contiguous.sealMessages(batch);
      expect(frames).toHaveLength(records);
      expect(frameCount(chunked.sealChunks(batch))).toBe(records);
      const ids = frames.flatMap((f) => {
        const { header, payload } = splitFrame(f);
        return opener.open(header, payload).map((i) => ('message' in i && i.message.type === 'Response' ? i.message.id : -1));
      });
      expect(ids).toEqual(batch.map((m) => (m as { id: number }).id));
    }
  });
});
