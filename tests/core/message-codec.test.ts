import { readFileSync } from 'node:fs';
import { NproError, type ErrorCode } from '../../src/core/errors.js';
import { MESSAGE_TAGS, type Message } from '../../src/core/message.js';
import { decodeMessage, encodedLength, encodeMessage, encodeMessageInto, MAX_MESSAGE_ID } from '../../src/core/message-codec.js';
import { fromHex, toHex } from '../../src/utils/bytes.js';

/** A message as the vector files write it: §2 field names, byte fields in hex. */
type JsonMessage = Record<string, string | number>;

const vectors = JSON.parse(readFileSync(new URL('../vectors/messages.json', import.meta.url), 'utf8')) as {
  messages: { source: string; message: JsonMessage; hex: string }[];
};

function fromJson(j: JsonMessage): Message {
  const hex = (k: string): Uint8Array => fromHex(j[k] as string);
  switch (j.type) {
    case 'SecureHandshakeInit':
      return { type: 'SecureHandshakeInit', pubKey: hex('pub_key'), timestamp: BigInt(j.timestamp!), nonce: hex('nonce') };
    case 'SecureHandshakeResponse':
      return { type: 'SecureHandshakeResponse', pubKey: hex('pub_key'), nonce: hex('nonce'), nonceVerification: hex('nonce_verification') };
    case 'SecureHandshakeConfirm':
      return { type: 'SecureHandshakeConfirm', nonceVerification: hex('nonce_verification') };
    case 'Echo':
      return { type: 'Echo', text: j.text as string };
    case 'Custom':
      return { type: 'Custom', command: j.command as string, payload: hex('payload') };
    case 'Request':
      return { type: 'Request', id: j.id as number, command: j.command as string, payload: hex('payload') };
    case 'Response':
      return { type: 'Response', id: j.id as number, payload: hex('payload') };
    case 'Failure':
      return { type: 'Failure', id: j.id as number, code: j.code as string, message: j.message as string };
    case 'Cancel':
      return { type: 'Cancel', id: j.id as number };
    case 'GoAway':
      return { type: 'GoAway', lastId: j.last_id as number, reason: j.reason as string };
    default:
      return { type: j.type as 'Ping' | 'Pong' | 'Disconnect' | 'Unknown' };
  }
}

function codeOf(fn: () => unknown): ErrorCode | 'none' | 'foreign' {
  try {
    fn();
  } catch (err) {
    return NproError.is(err) ? err.code : 'foreign';
  }
  return 'none';
}

const b = (n: number, fill: number): Uint8Array => new Uint8Array(n).fill(fill);

/** One message of every variant. */
const SAMPLES: Message[] = [
  { type: 'Ping' },
  { type: 'Pong' },
  { type: 'SecureHandshakeInit', pubKey: b(32, 1), timestamp: 1_700_000_000_000n, nonce: b(16, 2) },
  { type: 'SecureHandshakeResponse', pubKey: b(32, 3), nonce: b(16, 4), nonceVerification: b(32, 5) },
  { type: 'SecureHandshakeConfirm', nonceVerification: b(32, 6) },
  { type: 'Echo', text: 'héllo, 世界 🚀' },
  { type: 'Disconnect' },
  { type: 'Custom', command: 'UPPER', payload: b(3, 0x61) },
  { type: 'Unknown' },
  { type: 'Request', id: 7, command: 'ECHO', payload: b(5, 9) },
  { type: 'Response', id: MAX_MESSAGE_ID, payload: new Uint8Array(0) },
  { type: 'Failure', id: 0, code: 'HANDLER_ERROR', message: 'x'.repeat(300) },
  { type: 'Cancel', id: 2 ** 32 + 5 },
  { type: 'GoAway', lastId: 0, reason: '' },
];

describe('golden message bytes', () => {
  test('the vector file holds the three bytes strings of protocol.md §2', () => {
    const spec = vectors.messages.filter((v) => v.source.startsWith('protocol.md')).map((v) => v.hex);
    expect(spec).toEqual([
      '00000000',
      '0500000002000000000000006869',
      '0700000004000000000000004543484f040000000000000001020304',
    ]);
  });

  test.each(vectors.messages.map((v) => [v.source, v] as const))('%s', (_source, v) => {
    const m = fromJson(v.message);
    expect(toHex(encodeMessage(m))).toBe(v.hex);
    expect(encodedLength(m)).toBe(v.hex.length / 2);
    expect(decodeMessage(fromHex(v.hex))).toEqual(m);
  });
});

describe('every variant', () => {
  test('the tags are those of §2', () => {
    expect(Object.entries(MESSAGE_TAGS).map(([name, tag]) => `${tag}:${name}`)).toEqual([
      '0:Ping', '1:Pong', '2:SecureHandshakeInit', '3:SecureHandshakeResponse', '4:SecureHandshakeConfirm',
      '5:Echo', '6:Disconnect', '7:Custom', '8:Unknown', '9:Request', '10:Response', '11:Failure', '12:Cancel', '13:GoAway',
    ]);
  });

  test.each(SAMPLES.map((m) => [m.type, m] as const))('%s: round trip, exact length, tag u32 LE', (_t, m) => {
    const bytes = encodeMessage(m);
    expect(bytes.length).toBe(encodedLength(m));
    expect(toHex(bytes.subarray(0, 4))).toBe(toHex(new Uint8Array([MESSAGE_TAGS[m.type], 0, 0, 0])));
    expect(decodeMessage(bytes)).toEqual(m);
    expect(bytes.constructor).toBe(Uint8Array);
  });

  test.each(SAMPLES.map((m) => [m.type, m] as const))('%s: encodeMessageInto writes the same bytes at an offset', (_t, m) => {
    const expected = encodeMessage(m);
    const out = new Uint8Array(expected.length + 10).fill(0xaa);
    expect(encodeMessageInto(m, out, 7)).toBe(7 + expected.length);
    expect(toHex(out.subarray(7, 7 + expected.length))).toBe(toHex(expected));
    expect(out.subarray(0, 7).every((x) => x === 0xaa)).toBe(true);
    expect(out.subarray(7 + expected.length).every((x) => x === 0xaa)).toBe(true);
  });

  test('fixed layouts: sizes of the handshake variants and u64 LE fields', () => {
    expect(encodedLength(SAMPLES[2]!)).toBe(60);
    expect(encodedLength(SAMPLES[3]!)).toBe(84);
    expect(encodedLength(SAMPLES[4]!)).toBe(36);
    expect(toHex(encodeMessage({ type: 'Cancel', id: 0x0102030405 }))).toBe('0c000000' + '0504030201000000');
    const init = encodeMessage({ type: 'SecureHandshakeInit', pubKey: b(32, 0), timestamp: 0x1122334455667788n, nonce: b(16, 0) });
    expect(toHex(init.subarray(36, 44))).toBe('8877665544332211');
  });

  test('encodeMessageInto refuses a buffer too small, writing nothing', () => {
    const out = new Uint8Array(13).fill(0xaa);
    expect(codeOf(() => encodeMessageInto({ type: 'Echo', text: 'hi' }, out, 0))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => encodeMessageInto({ type: 'Ping' }, out, 10))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => encodeMessageInto({ type: 'Ping' }, out, -1))).toBe('INVALID_ARGUMENT');
    expect(out.every((x) => x === 0xaa)).toBe(true);
  });

  test('encodings around the allocation boundaries (64 B, 4 KiB) match a write into zeroed memory', () => {
    for (const n of [0, 31, 32, 33, 34, 4062, 4063, 4064, 4065, 5000]) {
      // A Request is 32 + n bytes: totals 63 … 66 and 4094 … 4097 straddle both boundaries.
      const m: Message = { type: 'Request', id: n, command: 'ECHO', payload: b(n, n & 0xff) };
      const zeroed = new Uint8Array(encodedLength(m));
      encodeMessageInto(m, zeroed, 0);
      expect(toHex(encodeMessage(m))).toBe(toHex(zeroed));
      expect(decodeMessage(encodeMessage(m))).toEqual(m);
    }
  });

  test('decoded byte fields are views of the input', () => {
    const input = encodeMessage({ type: 'Request', id: 1, command: 'X', payload: b(40, 3) });
    const m = decodeMessage(input) as Extract<Message, { type: 'Request' }>;
    expect(m.payload.buffer).toBe(input.buffer);
    const r = decodeMessage(encodeMessage(SAMPLES[3]!)) as Extract<Message, { type: 'SecureHandshakeResponse' }>;
    expect(r.nonce.buffer).toBe(r.pubKey.buffer);
  });
});

describe('decoding rules of §2', () => {
  test('a tag with no variant is Unknown, its remaining bytes ignored', () => {
    for (const hex of ['08000000', '0e000000', 'ffffffff', '0e000000deadbeef', '08000000ff']) {
      expect(decodeMessage(fromHex(hex))).toEqual({ type: 'Unknown' });
    }
    expect(toHex(encodeMessage({ type: 'Unknown' }))).toBe('08000000');
  });

  test('trailing bytes after a complete variant are ignored', () => {
    for (const m of SAMPLES) {
      const bytes = encodeMessage(m);
      const padded = new Uint8Array(bytes.length + 5).fill(0xff);
      padded.set(bytes);
      expect(decodeMessage(padded)).toEqual(m);
    }
  });

  test('empty input and every truncation are MESSAGE_MALFORMED', () => {
    expect(codeOf(() => decodeMessage(new Uint8Array(0)))).toBe('MESSAGE_MALFORMED');
    const all = [...SAMPLES.filter((m) => m.type !== 'Unknown').map(encodeMessage), ...vectors.messages.map((v) => fromHex(v.hex))];
    for (const bytes of all) {
      for (let k = 0; k < bytes.length; k++) {
        expect(codeOf(() => decodeMessage(bytes.subarray(0, k)))).toBe('MESSAGE_MALFORMED');
      }
    }
  });

  test('a length prefix larger than the remaining bytes is MESSAGE_MALFORMED, nothing allocated for it', () => {
    const cases = [
      '05000000' + '0300000000000000' + '6869', // 3 claimed, 2 present
      '05000000' + 'ffffffff00000000', // 4 GiB − 1 claimed
      '05000000' + '0000000001000000', // 2^32: high half set
      '05000000' + '0200000000000080' + '6869', // 2^63 + 2
      '07000000' + '0100000000000000' + '41' + 'f0ffffff00000000', // Custom payload 4 GiB − 16
      '0a000000' + '0100000000000000' + '0000000100000000', // Response payload 2^24, empty body
    ];
    const before = process.memoryUsage().arrayBuffers;
    for (const hex of cases) expect(codeOf(() => decodeMessage(fromHex(hex)))).toBe('MESSAGE_MALFORMED');
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(1 << 20);
  });

  test.each([
    ['ff', 'an invalid byte'],
    ['c080', 'an overlong encoding'],
    ['eda080', 'an encoded surrogate'],
    ['e282', 'a truncated sequence'],
    ['f4908080', 'a code point above U+10FFFF'],
    ['41424344454647484980', 'a stray continuation byte after 9 ASCII bytes'],
  ])('invalid UTF-8 (%s: %s) is MESSAGE_MALFORMED', (hex) => {
    const text = fromHex(hex);
    const bytes = fromHex('05000000' + toHex(new Uint8Array([text.length, 0, 0, 0, 0, 0, 0, 0])) + hex);
    let caught: unknown;
    try {
      decodeMessage(bytes);
    } catch (err) {
      caught = err;
    }
    expect(NproError.is(caught, 'MESSAGE_MALFORMED')).toBe(true);
    const failure = fromHex('0b000000' + '0000000000000000' + '0100000000000000' + '41' + toHex(bytes.subarray(4)));
    expect(codeOf(() => decodeMessage(failure))).toBe('MESSAGE_MALFORMED');
  });

  test('a leading U+FEFF is text, kept on decode', () => {
    const m: Message = { type: 'Echo', text: '\uFEFFbom' };
    expect(toHex(encodeMessage(m)).slice(24, 30)).toBe('efbbbf');
    expect(decodeMessage(encodeMessage(m))).toEqual(m);
  });

  test('ids up to 2^53 − 1 decode; larger ones are MESSAGE_MALFORMED', () => {
    const max = '0c000000' + 'ffffffffffff1f00';
    expect(decodeMessage(fromHex(max))).toEqual({ type: 'Cancel', id: MAX_MESSAGE_ID });
    for (const id of ['0000000000002000', 'ffffffffffffffff', '0000000000000080']) {
      expect(codeOf(() => decodeMessage(fromHex('0c000000' + id)))).toBe('MESSAGE_MALFORMED');
      expect(codeOf(() => decodeMessage(fromHex('0d000000' + id + '0000000000000000')))).toBe('MESSAGE_MALFORMED');
      expect(codeOf(() => decodeMessage(fromHex('0a000000' + id + '0000000000000000')))).toBe('MESSAGE_MALFORMED');
    }
  });

  test('timestamps are full u64', () => {
    const max = (1n << 64n) - 1n;
    const m: Message = { type: 'SecureHandshakeInit', pubKey: b(32, 1), timestamp: max, nonce: b(16, 2) };
    const bytes = encodeMessage(m);
    expect(toHex(bytes.subarray(36, 44))).toBe('ffffffffffffffff');
    expect(decodeMessage(bytes)).toEqual(m);
    const high = { ...m, timestamp: 1n << 63n };
    expect(decodeMessage(encodeMessage(high))).toEqual(high);
  });
});

describe('encoder refusals (MESSAGE_MALFORMED)', () => {
  const lone = ['\uD800', 'a\uDC00b', 'end\uD83D', '\uDE00\uD83D', 'x'.repeat(100) + '\uD800' + 'y'];

  test.each(lone.map((s) => [JSON.stringify(s), s] as const))('a string with a lone surrogate: %s', (_n, s) => {
    const messages: Message[] = [
      { type: 'Echo', text: s },
      { type: 'Custom', command: s, payload: new Uint8Array(0) },
      { type: 'Request', id: 1, command: s, payload: new Uint8Array(0) },
      { type: 'Failure', id: 1, code: 'X', message: s },
      { type: 'Failure', id: 1, code: s, message: 'X' },
      { type: 'GoAway', lastId: 1, reason: s },
    ];
    for (const m of messages) {
      expect(codeOf(() => encodedLength(m))).toBe('MESSAGE_MALFORMED');
      expect(codeOf(() => encodeMessage(m))).toBe('MESSAGE_MALFORMED');
      expect(codeOf(() => encodeMessageInto(m, new Uint8Array(1000), 0))).toBe('MESSAGE_MALFORMED');
    }
  });

  test('well-formed astral characters are accepted, short and long', () => {
    for (const text of ['😀', 'a😀b', '😀'.repeat(40), '\uD83D\uDE00'.repeat(3) + 'é'.repeat(70)]) {
      const bytes = encodeMessage({ type: 'Echo', text });
      expect(bytes.length).toBe(12 + Buffer.byteLength(text));
      expect(decodeMessage(bytes)).toEqual({ type: 'Echo', text });
    }
  });

  test('ids outside 0 … 2^53 − 1 and non-integers', () => {
    for (const id of [MAX_MESSAGE_ID + 1, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(codeOf(() => encodeMessage({ type: 'Cancel', id }))).toBe('MESSAGE_MALFORMED');
      expect(codeOf(() => encodeMessage({ type: 'Response', id, payload: new Uint8Array(0) }))).toBe('MESSAGE_MALFORMED');
      expect(codeOf(() => encodeMessage({ type: 'GoAway', lastId: id, reason: '' }))).toBe('MESSAGE_MALFORMED');
    }
  });

  test('timestamps outside u64', () => {
    for (const timestamp of [-1n, 1n << 64n]) {
      const m: Message = { type: 'SecureHandshakeInit', pubKey: b(32, 1), timestamp, nonce: b(16, 2) };
      expect(codeOf(() => encodeMessage(m))).toBe('MESSAGE_MALFORMED');
    }
  });

  test('fixed arrays of the wrong size', () => {
    const bad: Message[] = [
      { type: 'SecureHandshakeInit', pubKey: b(31, 1), timestamp: 0n, nonce: b(16, 2) },
      { type: 'SecureHandshakeInit', pubKey: b(32, 1), timestamp: 0n, nonce: b(17, 2) },
      { type: 'SecureHandshakeResponse', pubKey: b(33, 1), nonce: b(16, 2), nonceVerification: b(32, 3) },
      { type: 'SecureHandshakeResponse', pubKey: b(32, 1), nonce: b(15, 2), nonceVerification: b(32, 3) },
      { type: 'SecureHandshakeResponse', pubKey: b(32, 1), nonce: b(16, 2), nonceVerification: b(0, 3) },
      { type: 'SecureHandshakeConfirm', nonceVerification: b(64, 3) },
    ];
    for (const m of bad) expect(codeOf(() => encodeMessage(m))).toBe('MESSAGE_MALFORMED');
  });

  test('values of the wrong runtime type', () => {
    const bad = [
      { type: 'Echo', text: 42 },
      { type: 'Custom', command: 'X', payload: [1, 2] },
      { type: 'NoSuchVariant' },
    ] as unknown as Message[];
    for (const m of bad) expect(codeOf(() => encodeMessage(m))).toBe('MESSAGE_MALFORMED');
  });
});
