/**
 * v2 records (protocol.md §4): nonce and key schedule, the HChaCha20-once construction, counters and
 * their limits, coalescing and splitting against the peer's max_frame, compression policy, plaintext
 * records.
 */
import { NproError } from '../../src/core/errors.js';
import type { Message } from '../../src/core/message.js';
import { encodedLength } from '../../src/core/message-codec.js';
import { toHex, utf8Encoder } from '../../src/utils/bytes.js';
import { nobleCrypto, nodeCrypto, type CryptoProvider } from '../../src/utils/crypto/index.js';
import { initCompression } from '../../src/utils/compression/index.js';
import { FEATURES } from '../../src/protocol/handshake-messages.js';
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { RecordCipher } from '../../src/protocol/record-cipher.js';
import {
  MAX_RECORD_COUNTER, REKEY_INTERVAL, RecordOpener, RecordSealer, encodeBody, recordNonce, rekeyKey,
  type CompressionSettings, type RecordItem,
} from '../../src/protocol/record.js';
import { splitFrame } from '../helpers/record-fixtures.js';

const PROVIDERS: readonly CryptoProvider[] = [nodeCrypto, nobleCrypto];
const KEY = Uint8Array.from({ length: 32 }, (_, i) => i + 1);
const MAX_FRAME = 4096;

function pair(opts: { features?: number; counter?: number; rekeyInterval?: number; compression?: CompressionSettings | null; crypto?: CryptoProvider } = {}) {
  const common = {
    crypto: opts.crypto ?? nodeCrypto, key: KEY, negotiatedFeatures: opts.features ?? 0,
    ...(opts.counter === undefined ? {} : { counter: opts.counter }),
    ...(opts.rekeyInterval === undefined ? {} : { rekeyInterval: opts.rekeyInterval }),
  };
  return {
    sealer: new RecordSealer({ ...common, peerMaxFrame: MAX_FRAME, compression: opts.compression ?? null }),
    opener: new RecordOpener({ ...common, localMaxFrame: MAX_FRAME }),
  };
}

function openAll(opener: RecordOpener, frames: Uint8Array[]): Message[] {
  const out: Message[] = [];
  for (const f of frames) {
    const { header, payload } = splitFrame(f);
    for (const item of opener.open(header, payload)) {
      if ('error' in item) throw item.error;
      out.push(item.message);
    }
  }
  return out;
}

const custom = (size: number, command = 'C'): Message => ({ type: 'Custom', command, payload: new Uint8Array(size).fill(0x61) });

describe.each(PROVIDERS.map((p) => [p.name, p] as const))('record nonces and keys (%s)', (_name, crypto) => {
  test('HChaCha20 once per key + IETF ChaCha20-Poly1305 equals XChaCha20-Poly1305 with the full nonce', () => {
    for (const counter of [0, 1, 255, 2 ** 32 - 1, 2 ** 32, 2 ** 47 + 12345, MAX_RECORD_COUNTER]) {
      const cipher = new RecordCipher({ crypto, key: KEY, counter });
      const aad = Uint8Array.of(0x4e, 0x50, 0x52, 0x4f, 2, 0, 0, 0, 40);
      const pt = utf8Encoder.encode(`record ${counter}`);
      const fast = cipher.seal(pt, aad);
      expect(toHex(fast)).toBe(toHex(crypto.xchacha20poly1305Seal(KEY, recordNonce(counter), pt, aad)));
      expect(cipher.open(fast, aad)).toEqual(pt);
    }
  });

  test('the nonce is 16 zero bytes ‖ counter u64 LE', () => {
    expect(toHex(recordNonce(0))).toBe('00'.repeat(24));
    expect(toHex(recordNonce(0x0102030405))).toBe(`${'00'.repeat(16)}0504030201000000`);
    expect(toHex(recordNonce(MAX_RECORD_COUNTER))).toBe(`${'00'.repeat(16)}ffffffffffff0000`);
  });

  test('rekey: HKDF-SHA256(ikm = key, salt = empty, info = "npro rekey", L = 32) at each non-zero multiple', () => {
    const expected = crypto.hkdfSha256(KEY, new Uint8Array(32), utf8Encoder.encode('npro rekey'), 32);
    expect(toHex(rekeyKey(crypto, KEY))).toBe(toHex(expected));
    const cipher = new RecordCipher({ crypto, key: KEY, rekeyInterval: 3 });
    const keys: string[] = [];
    for (let c = 0; c < 10; c++) {
      expect(cipher.counter).toBe(c);
      expect(cipher.keyIndex).toBe(Math.floor(c / 3));
      keys.push(toHex(cipher.key));
      cipher.advance();
    }
    let k: Uint8Array = KEY;
    for (let c = 0; c < 10; c++) {
      if (c > 0 && c % 3 === 0) k = rekeyKey(crypto, k);
      expect(keys[c]).toBe(toHex(k));
    }
  });
});

describe('sealing straight into the frame', () => {
  test('a provider sealing in place (noble into the same bytes) gives frames identical to node', () => {
    let calls = 0;
    const into: CryptoProvider = {
      ...nodeCrypto,
      chacha20poly1305SealInto(key, nonce, plaintext, aad, out, offset) {
        calls++;
        chacha20poly1305(key, nonce, aad).encrypt(plaintext, out.subarray(offset, offset + plaintext.length + 16));
      },
    };
    const batch: Message[] = [{ type: 'Echo', text: 'in place' }, custom(2000)];
    const a = pair({ crypto: into, rekeyInterval: 2 });
    const b = pair({ crypto: nodeCrypto, rekeyInterval: 2 });
    for (let i = 0; i < 5; i++) {
      const frames = a.sealer.sealMessages(batch);
      expect(frames.map(toHex)).toEqual(b.sealer.sealMessages(batch).map(toHex));
      expect(openAll(b.opener, frames)).toEqual(batch);
    }
    expect(calls).toBe(5);
  });
});

describe('record counters', () => {
  test('the default interval is 2^20 and the last counter 2^48 − 1', () => {
    expect(REKEY_INTERVAL).toBe(1_048_576);
    expect(MAX_RECORD_COUNTER).toBe(281_474_976_710_655);
  });

  test('sealer and opener run in step from a given counter, across rekeys', () => {
    const { sealer, opener } = pair({ counter: 5, rekeyInterval: 4 });
    for (let i = 0; i < 9; i++) {
      expect(toHex(sealer.key)).toBe(toHex(opener.key));
      expect(sealer.nonce).toEqual(recordNonce(5 + i));
      const [frame] = sealer.sealMessages([{ type: 'Echo', text: `n${i}` }]);
      expect(openAll(opener, [frame!])).toEqual([{ type: 'Echo', text: `n${i}` }]);
    }
    expect(sealer.counter).toBe(14);
    expect(opener.counter).toBe(14);
    expect(sealer.keyIndex).toBe(3);
  });

  test('KEY_EXHAUSTED at the sender: the last counter only for the final record, then nothing', () => {
    const { sealer, opener } = pair({ counter: MAX_RECORD_COUNTER - 1 });
    expect(sealer.remaining).toBe(2);
    openAll(opener, sealer.sealMessages([{ type: 'Ping' }]));
    expect(sealer.isLast).toBe(true);
    expect(() => sealer.sealMessages([{ type: 'Ping' }])).toThrow(expect.objectContaining({ code: 'KEY_EXHAUSTED' }));
    expect(sealer.counter).toBe(MAX_RECORD_COUNTER);
    const last = sealer.sealMessages([{ type: 'Failure', id: 0, code: 'KEY_EXHAUSTED', message: 'bye' }, { type: 'Disconnect' }], { final: true });
    expect(last).toHaveLength(1);
    expect(sealer.exhausted).toBe(true);
    expect(sealer.remaining).toBe(0);
    expect(() => sealer.sealMessages([{ type: 'Ping' }], { final: true })).toThrow(expect.objectContaining({ code: 'KEY_EXHAUSTED' }));
    expect(() => sealer.sealRecord(Uint8Array.of(0, 0, 0, 0, 4, 0, 0, 0, 0), { final: true })).toThrow(expect.objectContaining({ code: 'KEY_EXHAUSTED' }));
    expect(openAll(opener, last).map((m) => m.type)).toEqual(['Failure', 'Disconnect']);
    expect(opener.exhausted).toBe(true);
    const stray = pair({ counter: MAX_RECORD_COUNTER }).sealer.sealMessages([{ type: 'Ping' }], { final: true })[0]!;
    expect(() => opener.open(splitFrame(stray).header, splitFrame(stray).payload)).toThrow(expect.objectContaining({ code: 'KEY_EXHAUSTED' }));
  });

  test('a batch needing more records than are left is refused whole', () => {
    const { sealer } = pair({ counter: MAX_RECORD_COUNTER - 2 });
    const big = [custom(3000), custom(3000), custom(3000)];
    expect(() => sealer.sealMessages(big)).toThrow(expect.objectContaining({ code: 'KEY_EXHAUSTED' }));
    expect(sealer.counter).toBe(MAX_RECORD_COUNTER - 2);
    expect(sealer.sealMessages(big, { final: true })).toHaveLength(3);
  });

  test('constructor arguments are checked', () => {
    const bad = (o: object) => () => new RecordSealer({ key: KEY, negotiatedFeatures: 0, peerMaxFrame: MAX_FRAME, ...o });
    expect(bad({ key: new Uint8Array(31) })).toThrow(NproError);
    expect(bad({ counter: -1 })).toThrow(NproError);
    expect(bad({ counter: 2 ** 48 + 1 })).toThrow(NproError);
    expect(bad({ rekeyInterval: 0 })).toThrow(NproError);
    expect(bad({ peerMaxFrame: 1023 })).toThrow(NproError);
    expect(bad({ plaintext: true })).toThrow(NproError);
    expect(bad({ plaintext: false, negotiatedFeatures: FEATURES.PLAINTEXT_RECORDS })).toThrow(NproError);
  });
});

describe('coalescing and max_frame', () => {
  test('a batch is one record of entries in order', () => {
    const { sealer, opener } = pair();
    const batch: Message[] = [{ type: 'Ping' }, { type: 'Echo', text: 'two' }, custom(10), { type: 'Cancel', id: 7 }];
    const frames = sealer.sealMessages(batch);
    expect(frames).toHaveLength(1);
    expect(frames[0]!.length).toBe(9 + 1 + encodeBody(batch).length + 16);
    expect(openAll(opener, frames)).toEqual(batch);
  });

  test('a body of exactly max_frame − 17 fills one frame of exactly max_frame; one byte more splits', () => {
    const { sealer, opener } = pair();
    const fill = (n: number): Message => custom(n - 4 - encodedLength(custom(0)));
    const exact = [custom(100), fill(MAX_FRAME - 17 - 4 - encodedLength(custom(100)))];
    const frames = sealer.sealMessages(exact);
    expect(frames.map((f) => f.length - 9)).toEqual([MAX_FRAME]);
    const over = [custom(100), fill(MAX_FRAME - 17 - 4 - encodedLength(custom(100)) + 1)];
    const split = sealer.sealMessages(over);
    expect(split).toHaveLength(2);
    expect(openAll(opener, [...frames, ...split])).toEqual([...exact, ...over]);
  });

  test('a long batch is split greedily across records, order kept', () => {
    const { sealer, opener } = pair();
    const batch = Array.from({ length: 40 }, (_, i) => custom(300 + i, `m${i}`));
    const frames = sealer.sealMessages(batch);
    expect(frames.length).toBeGreaterThan(2);
    for (const f of frames) expect(f.length - 9).toBeLessThanOrEqual(MAX_FRAME);
    expect(openAll(opener, frames)).toEqual(batch);
  });

  test('a message too large for the peer → FRAME_TOO_LARGE naming it; nothing sealed', () => {
    const { sealer } = pair();
    const tooBig = custom(MAX_FRAME);
    let err: unknown;
    try {
      sealer.sealMessages([{ type: 'Ping' }, tooBig]);
    } catch (e) {
      err = e;
    }
    expect(NproError.is(err, 'FRAME_TOO_LARGE')).toBe(true);
    expect((err as NproError).details?.['index']).toBe(1);
    expect(sealer.counter).toBe(0);
    expect(() => sealer.checkMessage(tooBig)).toThrow(expect.objectContaining({ code: 'FRAME_TOO_LARGE' }));
    expect(sealer.checkMessage({ type: 'Ping' })).toBe(4);
    expect(sealer.maxMessageLength).toBe(MAX_FRAME - 17 - 4);
  });

  test('an unencodable message (lone surrogate) → MESSAGE_MALFORMED naming it; nothing sealed', () => {
    const { sealer } = pair();
    expect(() => sealer.sealMessages([{ type: 'Ping' }, { type: 'Echo', text: 'a\ud800b' }])).toThrow(
      expect.objectContaining({ code: 'MESSAGE_MALFORMED', details: { index: 1 } }),
    );
    expect(sealer.counter).toBe(0);
  });

  test('an empty batch seals nothing', () => {
    const { sealer } = pair();
    expect(sealer.sealMessages([])).toEqual([]);
    expect(sealer.counter).toBe(0);
  });
});

describe('plaintext records (feature bit 2)', () => {
  test('payload = flags ‖ body, no tag; counters advance; rekeys change nothing on the wire', () => {
    const { sealer, opener } = pair({ features: FEATURES.PLAINTEXT_RECORDS, rekeyInterval: 1 });
    const batch: Message[] = [{ type: 'Echo', text: 'clear' }, { type: 'Pong' }];
    const body = encodeBody(batch);
    for (let i = 0; i < 3; i++) {
      const [frame] = sealer.sealMessages(batch);
      expect(toHex(frame!.subarray(9))).toBe(`00${toHex(body)}`);
      expect(openAll(opener, [frame!])).toEqual(batch);
    }
    expect(opener.counter).toBe(3);
    expect(opener.keyIndex).toBe(3);
  });

  test('a body over max_frame − 17 is refused even without a tag', () => {
    const { opener } = pair({ features: FEATURES.PLAINTEXT_RECORDS });
    const payload = new Uint8Array(MAX_FRAME - 16);
    const header = Uint8Array.of(0x4e, 0x50, 0x52, 0x4f, 2, 0, 0, (payload.length >> 8) & 0xff, payload.length & 0xff);
    expect(() => opener.open(header, payload)).toThrow(expect.objectContaining({ code: 'PROTOCOL_ERROR' }));
  });
});

describe('compression policy (protocol.md §4)', () => {
  beforeAll(async () => {
    await initCompression();
  });
  const text = (n: number): Message => ({ type: 'Custom', command: 'T', payload: utf8Encoder.encode('npro '.repeat(n)) });
  const flagsOf = (frames: Uint8Array[], opener: RecordOpener): number[] => frames.map((f) => opener.openRecord(splitFrame(f).header, splitFrame(f).payload)[0]!);

  test.each([
    ['lz4', FEATURES.LZ4, 1],
    ['zstd', FEATURES.ZSTD, 2],
  ] as const)('%s: used at or over the threshold when negotiated and smaller', (algorithm, feature, flag) => {
    const compression = { algorithm, threshold: 512, level: 3 };
    const { sealer, opener } = pair({ features: feature, compression });
    const big = [text(200)];
    const frames = sealer.sealMessages(big);
    expect(flagsOf(frames, opener)).toEqual([flag]);
    expect(frames[0]!.length).toBeLessThan(9 + 1 + encodeBody(big).length + 16);
    const check = pair({ features: feature, compression });
    expect(openAll(check.opener, check.sealer.sealMessages(big))).toEqual(big);
  });

  test('not used: under the threshold, not negotiated, own compression off, or not strictly smaller', () => {
    const compression = { algorithm: 'lz4', threshold: 512, level: 1 } as const;
    const cases: [number, CompressionSettings | null, Message[]][] = [
      [FEATURES.LZ4, compression, [text(90)]],
      [FEATURES.ZSTD, compression, [text(200)]],
      [FEATURES.LZ4, null, [text(200)]],
      [FEATURES.LZ4, compression, [{ type: 'Custom', command: 'R', payload: nodeCrypto.randomBytes(1000) }]],
    ];
    for (const [features, comp, batch] of cases) {
      const { sealer, opener } = pair({ features, compression: comp });
      const frames = sealer.sealMessages(batch);
      expect(flagsOf(frames, opener)).toEqual([0]);
    }
  });
});

describe('RecordItem', () => {
  test('a record with one undecodable entry yields its error in place', () => {
    const { sealer, opener } = pair();
    const good = encodeBody([{ type: 'Ping' }]);
    const body = new Uint8Array([...good, 0, 0, 0, 2, 5, 0, ...good]);
    const frame = sealer.sealBody(body);
    const items: RecordItem[] = opener.open(splitFrame(frame).header, splitFrame(frame).payload);
    expect(items).toHaveLength(3);
    expect(items[0]).toEqual({ message: { type: 'Ping' } });
    expect('error' in items[1]! && items[1].error.code).toBe('MESSAGE_MALFORMED');
    expect(items[2]).toEqual({ message: { type: 'Ping' } });
  });
});
