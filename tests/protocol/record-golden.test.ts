/**
 * The records of the three v2 sessions of tests/vectors/npro-golden.json, replayed as its README says:
 * encode, seal at the counter, compare keys, nonces and frames; open, compare plaintexts, bodies and
 * messages; counters run across the whole array (rekeys at counters 2 and 4 in `main`).
 */
import { encodeMessage } from '../../src/core/message-codec.js';
import { fromHex, toHex } from '../../src/utils/bytes.js';
import { nobleCrypto, nodeCrypto, type CryptoProvider } from '../../src/utils/crypto/index.js';
import { initCompression, lz4DecompressBlock } from '../../src/utils/compression/index.js';
import {
  RecordOpener, RecordSealer, maybeCompressBody, encodeBody, readEntries, recordBody, type CompressionSettings,
} from '../../src/protocol/record.js';
import { fromGolden, golden, splitFrame, type GoldenRecordSession } from '../helpers/record-fixtures.js';

const PROVIDERS: readonly CryptoProvider[] = [nodeCrypto, nobleCrypto];

/** `"lz4, compression_threshold_bytes 512"` → settings; `"off"` → null. */
function parseCompression(s: string): CompressionSettings | null {
  if (s === 'off') return null;
  const m = /^(lz4|zstd), compression_threshold_bytes (\d+)$/.exec(s);
  if (m === null) throw new Error(`unexpected compression description ${s}`);
  return { algorithm: m[1] as 'lz4' | 'zstd', threshold: Number(m[2]), level: 3 };
}

interface Side {
  sealer: RecordSealer;
  opener: RecordOpener;
  compression: CompressionSettings | null;
}

/** The client and server record layers of a session: client seals c2s and opens s2c, the server the reverse. */
function sides(s: GoldenRecordSession, crypto: CryptoProvider): { c2s: Side; s2c: Side } {
  const features = s.keys.negotiated_features;
  const common = { crypto, negotiatedFeatures: features, rekeyInterval: s.inputs.rekey_interval };
  const c2sKey = fromHex(s.keys.c2s[0]!);
  const s2cKey = fromHex(s.keys.s2c[0]!);
  const clientCompression = parseCompression(s.inputs.client_compression);
  const serverCompression = parseCompression(s.inputs.server_compression);
  return {
    c2s: {
      sealer: new RecordSealer({ ...common, key: c2sKey, peerMaxFrame: s.inputs.server_max_frame, compression: clientCompression }),
      opener: new RecordOpener({ ...common, key: c2sKey, localMaxFrame: s.inputs.server_max_frame }),
      compression: clientCompression,
    },
    s2c: {
      sealer: new RecordSealer({ ...common, key: s2cKey, peerMaxFrame: s.inputs.client_max_frame, compression: serverCompression }),
      opener: new RecordOpener({ ...common, key: s2cKey, localMaxFrame: s.inputs.client_max_frame }),
      compression: serverCompression,
    },
  };
}

beforeAll(async () => {
  await initCompression();
});

test('the golden file holds the three sessions and the records this test expects', () => {
  expect(golden.v2_sessions.map((s) => s.name)).toEqual(['main', 'plaintext-records', 'client-not-authorized']);
  const main = golden.v2_sessions[0]!;
  expect(main.inputs.rekey_interval).toBe(2);
  expect(main.records.filter((r) => r.flags === 1)).toHaveLength(1);
});

describe.each(PROVIDERS.map((p) => [p.name, p] as const))('golden records (%s)', (_name, crypto) => {
  describe.each(golden.v2_sessions.map((s) => [s.name, s] as const))('session %s', (_n, session) => {
    test('every record: body, key, nonce, frame on the sender; plaintext, body, messages on the receiver', () => {
      const dirs = sides(session, crypto);
      for (const r of session.records) {
        const side = dirs[r.dir];
        const messages = r.messages.map(fromGolden);
        expect(toHex(encodeBody(messages))).toBe(r.body);
        const entries = messages.map(encodeMessage).map((m) => m.length.toString(16).padStart(8, '0') + toHex(m));
        expect(entries.join('')).toBe(r.body);

        expect(side.sealer.counter).toBe(r.counter);
        expect(side.opener.counter).toBe(r.counter);
        if (r.key !== undefined) {
          expect(toHex(side.sealer.key)).toBe(r.key);
          expect(toHex(side.opener.key)).toBe(r.key);
          expect(toHex(side.sealer.nonce)).toBe(r.nonce);
          expect(Math.floor(r.counter / session.inputs.rekey_interval)).toBe(side.sealer.keyIndex);
        }
        const frame = side.sealer.sealRecord(fromHex(r.plaintext));
        expect(toHex(frame)).toBe(r.frame);
        expect(toHex(frame.subarray(0, 9))).toBe(r.aad);

        const { header, payload } = splitFrame(fromHex(r.frame));
        const plaintext = side.opener.openRecord(header, payload);
        expect(toHex(plaintext)).toBe(r.plaintext);
        expect(plaintext[0]).toBe(r.flags);
        const body = recordBody(plaintext, session.keys.negotiated_features, side.opener.maxBody);
        expect(toHex(body)).toBe(r.body);
        expect(readEntries(body)).toEqual(messages.map((message) => ({ message })));
      }
    });

    test('sealMessages with the session settings makes records the receiver opens to the same messages', () => {
      const dirs = sides(session, crypto);
      for (const r of session.records) {
        const messages = r.messages.map(fromGolden);
        const frames = dirs[r.dir].sealer.sealMessages(messages);
        expect(frames).toHaveLength(1);
        if (r.flags === 0) expect(toHex(frames[0]!)).toBe(r.frame);
        const opener = dirs[r.dir].opener;
        const plaintext = opener.openRecord(splitFrame(frames[0]!).header, splitFrame(frames[0]!).payload);
        expect(plaintext[0]).toBe(r.flags);
        const items = readEntries(recordBody(plaintext, session.keys.negotiated_features, opener.maxBody));
        expect(items).toEqual(messages.map((message) => ({ message })));
      }
    });
  });
});

describe('the LZ4 record of main', () => {
  const main = golden.v2_sessions[0]!;
  const record = main.records.find((r) => r.flags === 1)!;
  const compression = parseCompression(main.inputs.client_compression)!;

  test('the sender chooses to compress: threshold met and the compressed form strictly smaller', () => {
    const body = fromHex(record.body);
    expect(body.length).toBeGreaterThanOrEqual(compression.threshold);
    const chosen = maybeCompressBody(body, compression, main.keys.negotiated_features);
    expect(chosen).not.toBeNull();
    expect(chosen!.flags).toBe(1);
    expect(chosen!.data.length).toBeLessThan(body.length);
    expect(maybeCompressBody(body, compression, 0)).toBeNull();
  });

  test('the received block decodes to the body and its prefix is the body length', () => {
    const data = fromHex(record.plaintext).subarray(1);
    const body = fromHex(record.body);
    const prefix = (data[0]! | (data[1]! << 8) | (data[2]! << 16) | (data[3]! << 24)) >>> 0;
    expect(prefix).toBe(body.length);
    expect(toHex(lz4DecompressBlock(data, 65_536 - 17))).toBe(record.body);
  });
});
