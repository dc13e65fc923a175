/**
 * The crypto group, records (protocol.md §4): seal + open of v2 records through `RecordSealer` and
 * `RecordOpener` (message encoding and decoding included), against raw `node:crypto`
 * ChaCha20-Poly1305 (`createCipheriv` seal + `createDecipheriv` open of a buffer of the same size,
 * a fresh cipher object per record as in research/baseline.md) and against the same record layer on
 * the pure-JS noble provider.
 *
 * Scenarios: 64-byte messages (`Request{id, "ECHO", 64 B}`) coalesced 64 per record; one 16 KiB
 * message per record; one 1 MiB message per record. MB/s counts message payload bytes per second of
 * seal + open; the raw baseline counts the same bytes. Cases of one scenario run round-robin, so
 * each ratio compares runs taken side by side; the ratio reported is the median of per-run ratios.
 * One more case runs the node provider with the optional `chacha20poly1305SealInto` capability.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Message } from '../src/core/message.js';
import { HEADER_SIZE } from '../src/core/frame.js';
import { nobleCrypto, nodeCrypto, type CryptoProvider } from '../src/utils/crypto/index.js';
import { RecordOpener, RecordSealer } from '../src/protocol/record.js';
import { medianOf, type BenchOptions, type BenchRow } from './lib.js';

const GROUP = 'crypto';
const MAX_FRAME = 16_777_216;
const KEY = new Uint8Array(randomBytes(32));
const AAD = new Uint8Array([0x4e, 0x50, 0x52, 0x4f, 2, 0, 0, 0, 0]);
const NONCE = new Uint8Array(12);

interface Scenario {
  name: string;
  /** Payload bytes of one message. */
  payload: number;
  /** Messages per record. */
  batch: number;
}

const SCENARIOS: readonly Scenario[] = [
  { name: '64 B messages, 64 per record', payload: 64, batch: 64 },
  { name: '16 KiB records', payload: 16_384, batch: 1 },
  { name: '1 MiB records', payload: 1_048_576, batch: 1 },
];

/** One seal + open of a batch; returns the messages processed (checked, so nothing is optimised away). */
type Step = () => number;

function recordStep(crypto: CryptoProvider, s: Scenario): Step {
  const common = { crypto, key: KEY, negotiatedFeatures: 0 };
  const sealer = new RecordSealer({ ...common, peerMaxFrame: MAX_FRAME });
  const opener = new RecordOpener({ ...common, localMaxFrame: MAX_FRAME });
  const payload = new Uint8Array(randomBytes(s.payload));
  const batch: Message[] = Array.from({ length: s.batch }, (_, i) => ({ type: 'Request', id: i + 1, command: 'ECHO', payload }));
  return () => {
    // What a session hands to one writev, then what the receiving frame decoder holds: the bytes of
    // the frames, one buffer (joined here as the decoder joins what the socket delivers in pieces).
    const chunks = sealer.sealChunks(batch);
    const wire = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    let n = 0;
    for (let o = 0; o < wire.length; ) {
      const end = o + HEADER_SIZE + ((wire[o + 5]! << 24) | (wire[o + 6]! << 16) | (wire[o + 7]! << 8) | wire[o + 8]!);
      n += opener.open(wire.subarray(o, o + HEADER_SIZE), wire.subarray(o + HEADER_SIZE, end)).length;
      o = end;
    }
    if (n !== s.batch) throw new Error('record round trip lost messages');
    return n;
  };
}

/** Raw node:crypto: one ChaCha20-Poly1305 seal + open of the batch's payload bytes in one buffer. */
function rawStep(s: Scenario): Step {
  const plaintext = randomBytes(s.payload * s.batch);
  return () => {
    const cipher = createCipheriv('chacha20-poly1305', KEY, NONCE, { authTagLength: 16 });
    cipher.setAAD(AAD, { plaintextLength: plaintext.length });
    const ciphertext = cipher.update(plaintext);
    cipher.final();
    const tag = cipher.getAuthTag();
    const decipher = createDecipheriv('chacha20-poly1305', KEY, NONCE, { authTagLength: 16 });
    decipher.setAAD(AAD, { plaintextLength: ciphertext.length });
    decipher.setAuthTag(tag);
    const opened = decipher.update(ciphertext);
    decipher.final();
    if (opened.length !== plaintext.length) throw new Error('raw round trip failed');
    return s.batch;
  };
}

/** Raw node:crypto sealing each message on its own (what coalescing avoids), 64-byte case only. */
function rawPerMessageStep(s: Scenario): Step {
  const one = rawStep({ ...s, batch: 1 });
  return () => {
    for (let i = 0; i < s.batch; i++) one();
    return s.batch;
  };
}

/** Units per second of wall time and per second of this process's CPU time (steadier on a busy machine). */
function timed(step: Step, minMs: number): { wall: number; cpu: number } {
  let units = 0;
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  let elapsed = 0;
  do {
    units += step();
    elapsed = performance.now() - start;
  } while (elapsed < minMs);
  const cpu = process.cpuUsage(cpu0);
  return { wall: units / (elapsed / 1000), cpu: units / ((cpu.user + cpu.system) / 1e6) };
}

function spreadOf(rates: readonly number[]): number {
  const m = medianOf(rates);
  return m === 0 ? 0 : (Math.max(...rates) - Math.min(...rates)) / m;
}

export async function run(opts: BenchOptions): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const runs = opts.quick ? 3 : 9;
  for (const s of SCENARIOS) {
    const minMs = (opts.quick ? 100 : 400) * (s.payload >= 1_048_576 ? 2 : 1);
    const cases: { name: string; step: Step }[] = [
      { name: 'npro records, node provider', step: recordStep(nodeCrypto, s) },
      { name: 'raw node:crypto chacha20-poly1305', step: rawStep(s) },
      { name: 'npro records, noble provider', step: recordStep(nobleCrypto, s) },
    ];
    if (s.batch > 1) cases.push({ name: 'raw node:crypto, one AEAD per message', step: rawPerMessageStep(s) });
    opts.log(`crypto: records, ${s.name}`);
    for (const c of cases) timed(c.step, Math.max(50, minMs / 2));
    const rates: number[][] = cases.map(() => []);
    const cpuRates: number[][] = cases.map(() => []);
    for (let r = 0; r < runs; r++) {
      cases.forEach((c, i) => {
        const t = timed(c.step, minMs);
        rates[i]!.push(t.wall);
        cpuRates[i]!.push(t.cpu);
      });
      await new Promise((resolve) => setImmediate(resolve));
    }
    cases.forEach((c, i) => {
      const msgs = medianOf(rates[i]!);
      rows.push({ group: GROUP, name: `${s.name}: ${c.name}`, value: (msgs * s.payload) / 1e6, unit: 'MB/s', spread: spreadOf(rates[i]!) });
      if (s.batch > 1) rows.push({ group: GROUP, name: `${s.name}: ${c.name}`, value: msgs, unit: 'messages/s', spread: spreadOf(rates[i]!) });
      if (s.batch > 1 && i === 0) {
        rows.push({ group: GROUP, name: `${s.name}: ${c.name}`, value: medianOf(cpuRates[i]!), unit: 'messages/CPU-s', spread: spreadOf(cpuRates[i]!) });
      }
    });
    const ratio = (name: string, a: number, b: number, note: string): void => {
      const wall = rates[a]!.map((v, r) => v / rates[b]![r]!);
      const cpu = cpuRates[a]!.map((v, r) => v / cpuRates[b]![r]!);
      rows.push({ group: GROUP, name: `${s.name}: ${name}`, value: medianOf(wall), unit: 'ratio', spread: spreadOf(wall), note });
      rows.push({ group: GROUP, name: `${s.name}: ${name}, by CPU time`, value: medianOf(cpu), unit: 'ratio', spread: spreadOf(cpu), note });
    };
    ratio('npro (node) / raw node:crypto', 0, 1, 'median of per-run ratios, runs side by side');
    ratio('npro node / noble provider', 0, 2, 'same records, two providers');
  }
  return rows;
}
