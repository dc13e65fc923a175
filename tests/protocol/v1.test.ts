/**
 * v1 (protocol.md §7): the golden handshake and records of tests/vectors/npro-golden.json, the
 * timestamp window, tampering, low-order keys, and the rule that nothing is ever sent to a v1 peer
 * on an error.
 */
import { NproError } from '../../src/core/errors.js';
import { encodeFrame, VERSION_V1, VERSION_V2 } from '../../src/core/frame.js';
import type { Message } from '../../src/core/message.js';
import { encodeMessage } from '../../src/core/message-codec.js';
import { fromHex, toHex } from '../../src/utils/bytes.js';
import { nobleCrypto, nodeCrypto, type CryptoProvider } from '../../src/utils/crypto/index.js';
import {
  V1ClientHandshake, V1ServerHandshake, V1_MAX_MESSAGE_LENGTH, deriveV1Key, encodeV1PlainFrame, openV1Record, sealV1Record,
  type V1Frame, type V1HandshakeStep,
} from '../../src/protocol/v1.js';
import { fromGolden, golden } from '../helpers/record-fixtures.js';

const v1 = golden.v1;
const PROVIDERS: readonly CryptoProvider[] = [nodeCrypto, nobleCrypto];

function asFrame(bytes: Uint8Array): V1Frame {
  return { version: bytes[4]!, payload: bytes.subarray(9) };
}

function pair(crypto: CryptoProvider, clientClock = v1.inputs.client_time_ms, serverClock = v1.inputs.server_clock_ms) {
  const client = new V1ClientHandshake({
    crypto, ephemeralSecret: fromHex(v1.inputs.client_ephemeral_secret), nonce: fromHex(v1.inputs.client_nonce), now: () => clientClock,
  });
  const server = new V1ServerHandshake({
    crypto, ephemeralSecret: fromHex(v1.inputs.server_ephemeral_secret), nonce: fromHex(v1.inputs.server_nonce), now: () => serverClock,
  });
  return { client, server };
}

function expectClose(step: V1HandshakeStep, code: string): void {
  expect(step.send).toEqual([]);
  expect(step.result).toBeUndefined();
  expect(NproError.is(step.error, code as never)).toBe(true);
}

describe.each(PROVIDERS.map((p) => [p.name, p] as const))('v1 golden handshake (%s)', (_name, crypto) => {
  test('the three frames and the key are byte-identical to the vectors', () => {
    const { client, server } = pair(crypto);
    const init = client.start();
    expect(toHex(init)).toBe(v1.handshake[0]!.frame);
    expect(toHex(encodeV1PlainFrame(fromGolden(v1.handshake[0]!.message)))).toBe(v1.handshake[0]!.frame);

    const s1 = server.receive(asFrame(init));
    expect(s1.error).toBeUndefined();
    expect(s1.send.map(toHex)).toEqual([v1.handshake[1]!.frame]);

    const c1 = client.receive(asFrame(s1.send[0]!));
    expect(c1.error).toBeUndefined();
    expect(c1.send.map(toHex)).toEqual([v1.handshake[2]!.frame]);
    expect(toHex(c1.result!.key)).toBe(v1.key);

    const s2 = server.receive(asFrame(c1.send[0]!));
    expect(s2.send).toEqual([]);
    expect(toHex(s2.result!.key)).toBe(v1.key);
    expect(toHex(s2.result!.remoteEphemeral)).toBe(v1.handshake[0]!.message['pub_key']);
    expect(toHex(c1.result!.remoteEphemeral)).toBe(v1.handshake[1]!.message['pub_key']);
  });

  test('the derived key is SHA-256(shared ‖ "client_nonce" ‖ Nc ‖ "server_nonce" ‖ Ns)', () => {
    const shared = crypto.x25519(fromHex(v1.inputs.client_ephemeral_secret), fromHex(String(v1.handshake[1]!.message['pub_key'])));
    const key = deriveV1Key(crypto, shared, fromHex(v1.inputs.client_nonce), fromHex(v1.inputs.server_nonce));
    expect(toHex(key)).toBe(v1.key);
  });

  test('every golden record seals to its frame with the given nonce and opens back', () => {
    const key = fromHex(v1.key);
    for (const r of v1.records) {
      const message = fromGolden(r.message);
      const frame = sealV1Record(crypto, key, message, fromHex(r.nonce));
      expect(toHex(frame)).toBe(r.frame);
      expect(frame[4]).toBe(VERSION_V1);
      expect(openV1Record(crypto, key, fromHex(r.frame).subarray(9))).toEqual(message);
    }
  });
});

describe('v1 handshake checks', () => {
  const T = v1.inputs.client_time_ms;
  test.each([
    ['exactly 30 s old', true, T + 30_000],
    ['30.001 s old', false, T + 30_001],
    ['exactly 2 s in the future', true, T - 2_000],
    ['2.001 s in the future', false, T - 2_001],
  ])('a timestamp %s → accepted: %s', (_what, ok, serverClock) => {
    const { client, server } = pair(nodeCrypto, T, serverClock);
    const step = server.receive(asFrame(client.start()));
    if (ok) expect(step.send).toHaveLength(1);
    else expectClose(step, 'STALE_TIMESTAMP');
  });

  test('a wrong nonce_verification in the Response closes the client, sending nothing', () => {
    const { client, server } = pair(nodeCrypto);
    const response = server.receive(asFrame(client.start())).send[0]!.slice();
    response[response.length - 1]! ^= 1;
    expectClose(client.receive(asFrame(response)), 'HANDSHAKE_FAILED');
  });

  test('a wrong Confirm closes the server, sending nothing', () => {
    const { client, server } = pair(nodeCrypto);
    const c1 = client.receive(asFrame(server.receive(asFrame(client.start())).send[0]!));
    const confirm = c1.send[0]!.slice();
    confirm[20]! ^= 0x80;
    expectClose(server.receive(asFrame(confirm)), 'HANDSHAKE_FAILED');
    expectClose(server.receive(asFrame(c1.send[0]!)), 'HANDSHAKE_FAILED');
  });

  test.each(PROVIDERS.map((p) => [p.name, p] as const))('low-order keys are refused with a silent close (%s)', (_n, crypto) => {
    for (const low of ['0000000000000000000000000000000000000000000000000000000000000000', '0100000000000000000000000000000000000000000000000000000000000000']) {
      const server = new V1ServerHandshake({ crypto, now: () => T });
      const init: Message = { type: 'SecureHandshakeInit', pubKey: fromHex(low), timestamp: BigInt(T), nonce: new Uint8Array(16) };
      expectClose(server.receive(asFrame(encodeV1PlainFrame(init))), 'HANDSHAKE_FAILED');

      const client = new V1ClientHandshake({ crypto, nonce: new Uint8Array(16), now: () => T });
      client.start();
      const response: Message = {
        type: 'SecureHandshakeResponse', pubKey: fromHex(low), nonce: new Uint8Array(16), nonceVerification: crypto.sha256(new Uint8Array(16)),
      };
      expectClose(client.receive(asFrame(encodeV1PlainFrame(response))), 'HANDSHAKE_FAILED');
    }
  });

  test('out-of-order, undecodable and wrong-version frames close without a reply', () => {
    const { client, server } = pair(nodeCrypto);
    expectClose(server.receive(asFrame(encodeV1PlainFrame({ type: 'Ping' }))), 'HANDSHAKE_FAILED');
    expectClose(server.receive(asFrame(client.start())), 'HANDSHAKE_FAILED');

    const s2 = pair(nodeCrypto).server;
    expectClose(s2.receive({ version: VERSION_V1, payload: new Uint8Array([2, 0, 0]) }), 'HANDSHAKE_FAILED');
    const s3 = pair(nodeCrypto);
    expectClose(s3.server.receive({ version: VERSION_V2, payload: asFrame(s3.client.start()).payload }), 'VERSION_UNSUPPORTED');

    const c = pair(nodeCrypto).client;
    expectClose(c.receive(asFrame(encodeV1PlainFrame({ type: 'Pong' }))), 'HANDSHAKE_FAILED');
    expect(() => c.start()).toThrow(NproError);
  });

  test('fresh handshakes draw fresh ephemeral keys and nonces, and agree on the key', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 3; i++) {
      const client = new V1ClientHandshake();
      const server = new V1ServerHandshake();
      const init = client.start();
      seen.add(toHex(init.subarray(13, 45)));
      const c1 = client.receive(asFrame(server.receive(asFrame(init)).send[0]!));
      const s2 = server.receive(asFrame(c1.send[0]!));
      expect(toHex(s2.result!.key)).toBe(toHex(c1.result!.key));
    }
    expect(seen.size).toBe(3);
  });
});

describe('v1 records', () => {
  const key = fromHex(v1.key);

  test('a random nonce per record; each opens with the key and fails with another', () => {
    const m: Message = { type: 'Custom', command: 'ECHO', payload: new Uint8Array([1, 2, 3]) };
    const a = sealV1Record(nodeCrypto, key, m);
    const b = sealV1Record(nodeCrypto, key, m);
    expect(toHex(a.subarray(9, 33))).not.toBe(toHex(b.subarray(9, 33)));
    expect(openV1Record(nobleCrypto, key, a.subarray(9))).toEqual(m);
    const other = key.slice();
    other[0]! ^= 1;
    expect(() => openV1Record(nodeCrypto, other, a.subarray(9))).toThrow(expect.objectContaining({ code: 'RECORD_AUTH_FAILED' }));
  });

  test('any flipped payload bit → RECORD_AUTH_FAILED', () => {
    const frame = fromHex(v1.records[0]!.frame);
    const payload = frame.subarray(9);
    for (let bit = 0; bit < payload.length * 8; bit++) {
      const p = payload.slice();
      p[bit >> 3]! ^= 1 << (bit & 7);
      expect(() => openV1Record(nodeCrypto, key, p)).toThrow(expect.objectContaining({ code: 'RECORD_AUTH_FAILED' }));
    }
    expect(() => openV1Record(nodeCrypto, key, payload.subarray(0, 39))).toThrow(expect.objectContaining({ code: 'RECORD_AUTH_FAILED' }));
  });

  test('an authenticated plaintext that is not a message → MESSAGE_MALFORMED', () => {
    const nonce = new Uint8Array(24).fill(1);
    const sealed = nodeCrypto.xchacha20poly1305Seal(key, nonce, new Uint8Array([5, 0, 0, 0, 9]));
    const payload = new Uint8Array([...nonce, ...sealed]);
    expect(() => openV1Record(nodeCrypto, key, payload)).toThrow(expect.objectContaining({ code: 'MESSAGE_MALFORMED' }));
  });

  test('a message over 16,777,216 − 40 bytes → FRAME_TOO_LARGE; one at the limit fits', () => {
    const overhead = encodeMessage({ type: 'Custom', command: '', payload: new Uint8Array(0) }).length;
    const atLimit: Message = { type: 'Custom', command: '', payload: new Uint8Array(V1_MAX_MESSAGE_LENGTH - overhead) };
    const frame = sealV1Record(nodeCrypto, key, atLimit);
    expect(frame.length).toBe(9 + 16_777_216);
    expect(() => encodeFrame(VERSION_V1, frame.subarray(9))).not.toThrow();
    const over: Message = { type: 'Custom', command: '', payload: new Uint8Array(V1_MAX_MESSAGE_LENGTH - overhead + 1) };
    expect(() => sealV1Record(nodeCrypto, key, over)).toThrow(expect.objectContaining({ code: 'FRAME_TOO_LARGE' }));
  });
});
