/**
 * Properties of v2 records (protocol.md §4) over random batches and settings: round trips through
 * sealer → opener in every mode; a flipped bit, a replay, a reorder, a drop, a reflection or a
 * transplant never yields a message and never moves the receiver's counter; exhaustion at both ends;
 * broken bodies → PROTOCOL_ERROR; malformed entries → MESSAGE_MALFORMED items in place.
 */
import fc from 'fast-check';
import { NproError } from '../../src/core/errors.js';
import { FrameDecoder } from '../../src/core/frame-decoder.js';
import type { Message } from '../../src/core/message.js';
import { nodeCrypto } from '../../src/utils/crypto/index.js';
import { initCompression, lz4CompressBlock, zstdCompress } from '../../src/utils/compression/index.js';
import { FEATURES } from '../../src/protocol/handshake-messages.js';
import {
  MAX_RECORD_COUNTER, RecordOpener, RecordSealer, encodeBody, type CompressionSettings, type RecordItem,
} from '../../src/protocol/record.js';
import { arbMessage, splitFrame } from '../helpers/record-fixtures.js';

interface Setup {
  plaintext: boolean;
  compression: CompressionSettings | null;
  maxFrame: number;
  rekeyInterval: number;
  counter: number;
  key: Uint8Array;
}

const arbSetup: fc.Arbitrary<Setup> = fc.record({
  plaintext: fc.boolean(),
  compression: fc.option(
    fc.record({ algorithm: fc.constantFrom('lz4' as const, 'zstd' as const), threshold: fc.integer({ min: 0, max: 600 }), level: fc.integer({ min: 1, max: 6 }) }),
    { nil: null },
  ),
  maxFrame: fc.integer({ min: 1024, max: 6000 }),
  rekeyInterval: fc.integer({ min: 1, max: 5 }),
  counter: fc.oneof(fc.integer({ min: 0, max: 20 }), fc.integer({ min: MAX_RECORD_COUNTER - 40, max: MAX_RECORD_COUNTER - 30 })),
  key: fc.uint8Array({ minLength: 32, maxLength: 32 }),
});

function build(s: Setup, key = s.key) {
  const features = (s.plaintext ? FEATURES.PLAINTEXT_RECORDS : 0) | FEATURES.LZ4 | FEATURES.ZSTD;
  const common = { crypto: nodeCrypto, key, negotiatedFeatures: features, counter: s.counter, rekeyInterval: s.rekeyInterval };
  return {
    sealer: new RecordSealer({ ...common, peerMaxFrame: s.maxFrame, compression: s.compression }),
    opener: new RecordOpener({ ...common, localMaxFrame: s.maxFrame }),
  };
}

function messagesOf(items: RecordItem[]): Message[] {
  return items.map((i) => {
    if ('error' in i) throw i.error;
    return i.message;
  });
}

function openFrame(opener: RecordOpener, frame: Uint8Array): RecordItem[] {
  const { header, payload } = splitFrame(frame);
  return opener.open(header, payload);
}

function codeOf(fn: () => unknown): string | null {
  try {
    fn();
    return null;
  } catch (err) {
    if (!NproError.is(err)) throw err;
    return err.code;
  }
}

/** Compressible and incompressible messages both. */
const arbBatch = fc.array(
  fc.oneof(arbMessage(300), fc.nat({ max: 900 }).map((n): Message => ({ type: 'Custom', command: 'Z', payload: new Uint8Array(n).fill(0x7a) }))),
  { minLength: 1, maxLength: 25 },
);

beforeAll(async () => {
  await initCompression();
});

test('random batches round-trip in order, in every mode, within the peer max_frame', () => {
  fc.assert(
    fc.property(arbSetup, fc.array(arbBatch, { minLength: 1, maxLength: 4 }), (s, batches) => {
      const { sealer, opener } = build(s);
      for (const batch of batches) {
        const frames = sealer.sealMessages(batch);
        for (const f of frames) expect(f.length - 9).toBeLessThanOrEqual(s.maxFrame);
        expect(frames.flatMap((f) => messagesOf(openFrame(opener, f)))).toEqual(batch);
      }
      expect(opener.counter).toBe(sealer.counter);
      expect(opener.keyIndex).toBe(sealer.keyIndex);
    }),
    { numRuns: 60 },
  );
});

test('a flipped bit anywhere in an encrypted frame yields nothing and leaves the counter unchanged', () => {
  fc.assert(
    fc.property(arbSetup, arbBatch, fc.nat(), (s0, batch, bitSeed) => {
      const s = { ...s0, plaintext: false };
      const { sealer, opener } = build(s);
      const [frame] = sealer.sealMessages(batch);
      const bit = bitSeed % (frame!.length * 8);
      const bad = frame!.slice();
      bad[bit >> 3]! ^= 1 << (bit & 7);
      const decoder = new FrameDecoder({ maxPayload: s.maxFrame, version: 2 });
      decoder.setHandshakeComplete();
      let items: RecordItem[] | null = null;
      const code = codeOf(() => {
        decoder.push(bad);
        const f = decoder.next();
        if (f !== null) items = opener.open(f.header, f.payload);
      });
      expect(items).toBeNull();
      expect(code === null || ['RECORD_AUTH_FAILED', 'BAD_MAGIC', 'VERSION_UNSUPPORTED', 'FRAME_TOO_LARGE'].includes(code)).toBe(true);
      expect(opener.counter).toBe(s.counter);
      expect(messagesOf(openFrame(opener, frame!)).length).toBeGreaterThan(0);
    }),
    { numRuns: 150 },
  );
});

test('replayed, reordered, dropped, reflected or transplanted records → RECORD_AUTH_FAILED, counter unchanged', () => {
  const arbFault = fc.constantFrom('replay', 'reorder', 'drop', 'reflect', 'transplant');
  fc.assert(
    fc.property(arbSetup, fc.uint8Array({ minLength: 32, maxLength: 32 }), arbFault, (s0, otherKey, fault) => {
      const s = { ...s0, plaintext: false, compression: null };
      fc.pre(otherKey.some((b, i) => b !== s.key[i]));
      const c2s = build(s);
      const s2c = build(s, otherKey);
      const frames = [0, 1, 2].map((i) => c2s.sealer.sealMessages([{ type: 'Echo', text: `#${i}` }])[0]!);
      const o = c2s.opener;
      messagesOf(openFrame(o, frames[0]!));
      const before = o.counter;
      const wrong = {
        replay: frames[0]!,
        reorder: frames[2]!,
        drop: frames[2]!,
        reflect: s2c.sealer.sealMessages([{ type: 'Echo', text: '#1' }])[0]!,
        transplant: build({ ...s, counter: before }, otherKey).sealer.sealMessages([{ type: 'Echo', text: '#1' }])[0]!,
      }[fault];
      expect(codeOf(() => openFrame(o, wrong))).toBe('RECORD_AUTH_FAILED');
      expect(o.counter).toBe(before);
      expect(messagesOf(openFrame(o, frames[1]!))).toEqual([{ type: 'Echo', text: '#1' }]);
    }),
    { numRuns: 60 },
  );
});

test('KEY_EXHAUSTED at both ends, wherever the batch sizes fall', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 8 }), (sizes) => {
      const s: Setup = { plaintext: false, compression: null, maxFrame: 1024, rekeyInterval: 3, counter: MAX_RECORD_COUNTER - 5, key: new Uint8Array(32).fill(3) };
      const { sealer, opener } = build(s);
      const big: Message = { type: 'Custom', command: '', payload: new Uint8Array(900) };
      for (const n of sizes) {
        const batch = new Array<Message>(n).fill(big);
        const before = sealer.counter;
        const code = codeOf(() => sealer.sealMessages(batch).forEach((f) => openFrame(opener, f)));
        if (before + n <= MAX_RECORD_COUNTER) expect(code).toBeNull();
        else {
          expect(code).toBe('KEY_EXHAUSTED');
          expect(sealer.counter).toBe(before);
        }
      }
      if (!sealer.exhausted) {
        for (const f of sealer.sealMessages([{ type: 'Disconnect' }], { final: true })) openFrame(opener, f);
      }
      while (!sealer.exhausted) sealer.sealMessages([{ type: 'Ping' }], { final: true }).forEach((f) => openFrame(opener, f));
      expect(codeOf(() => sealer.sealMessages([{ type: 'Ping' }], { final: true }))).toBe('KEY_EXHAUSTED');
      expect(codeOf(() => opener.open(new Uint8Array(9), new Uint8Array(17)))).toBe('KEY_EXHAUSTED');
    }),
    { numRuns: 30 },
  );
});

test('broken entry framing → PROTOCOL_ERROR; a malformed entry → one MESSAGE_MALFORMED item in its place', () => {
  const arbEntry = fc.oneof(
    arbMessage(40).map((m) => ({ bytes: encodeBody([m]), ok: true })),
    fc.constantFrom(Uint8Array.of(5, 0, 0, 0, 9), Uint8Array.of(9, 0), Uint8Array.of(5, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0xff)).map((m) => ({
      bytes: Uint8Array.of(0, 0, 0, m.length, ...m), ok: false,
    })),
  );
  const arbBreak = fc.constantFrom('none', 'zero', 'truncated-length', 'past-end');
  fc.assert(
    fc.property(fc.array(arbEntry, { maxLength: 6 }), arbBreak, fc.boolean(), (entries, broken, plaintext) => {
      const s: Setup = { plaintext, compression: null, maxFrame: 4096, rekeyInterval: 4, counter: 0, key: new Uint8Array(32).fill(9) };
      const { sealer, opener } = build(s);
      const tail = { none: [], zero: [0, 0, 0, 0, 6, 0, 0, 0], 'truncated-length': [0, 0], 'past-end': [0, 0, 0, 50, 0, 0, 0, 0] }[broken];
      const body = Uint8Array.from([...entries.flatMap((e) => [...e.bytes]), ...tail]);
      const frame = sealer.sealRecord(Uint8Array.of(0, ...body));
      let items: RecordItem[] | null = null;
      const code = codeOf(() => {
        items = openFrame(opener, frame);
      });
      if (broken !== 'none' || entries.length === 0) {
        expect(code).toBe('PROTOCOL_ERROR');
        expect(items).toBeNull();
      } else {
        expect(code).toBeNull();
        const got = items! as RecordItem[];
        expect(got.map((i) => 'error' in i && i.error.code === 'MESSAGE_MALFORMED')).toEqual(entries.map((e) => !e.ok));
      }
    }),
    { numRuns: 150 },
  );
});

test('bad flags and oversize bodies → PROTOCOL_ERROR', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 255 }), fc.nat({ max: 3 }), (flags, features) => {
      const s: Setup = { plaintext: false, compression: null, maxFrame: 1024, rekeyInterval: 4, counter: 0, key: new Uint8Array(32).fill(5) };
      const common = { crypto: nodeCrypto, key: s.key, negotiatedFeatures: features };
      const sealer = new RecordSealer({ ...common, peerMaxFrame: 1024 });
      const opener = new RecordOpener({ ...common, localMaxFrame: 1024 });
      const algorithm = flags & 3;
      const valid = (flags & 0xfc) === 0 && (algorithm === 0 || (algorithm !== 3 && (features & algorithm) !== 0));
      const body = encodeBody([{ type: 'Ping' }]);
      const data = algorithm === 1 ? lz4CompressBlock(body) : algorithm === 2 ? zstdCompress(body, 1) : body;
      let items: RecordItem[] = [];
      const code = codeOf(() => {
        items = openFrame(opener, sealer.sealRecord(Uint8Array.of(flags, ...data)));
      });
      if (!valid) expect(code).toBe('PROTOCOL_ERROR');
      else expect({ code, items }).toEqual({ code: null, items: [{ message: { type: 'Ping' } }] });

      const big = new RecordSealer({ ...common, negotiatedFeatures: FEATURES.PLAINTEXT_RECORDS, peerMaxFrame: 1024 });
      const small = new RecordOpener({ ...common, negotiatedFeatures: FEATURES.PLAINTEXT_RECORDS, localMaxFrame: 1024 });
      const over = new Uint8Array(1024 - 17 + 1 + (flags % 16));
      expect(codeOf(() => openFrame(small, big.sealRecord(Uint8Array.of(0, ...over))))).toBe('PROTOCOL_ERROR');
    }),
    { numRuns: 100 },
  );
});
