/**
 * The codec group: NPRO frames (protocol.md §1) and message encoding (protocol.md §2).
 *
 * Frame decode: for payloads up to 64 KiB, one buffer of many whole frames is pushed and drained
 * (a busy connection's read); each 1 MiB frame arrives as its own whole chunk. For 1 KiB and 1 MiB
 * also a stream cut into 64 KiB reads, where frames that straddle reads are copied. Frame encode:
 * `encodeFrame` (header ‖ payload in one allocation). Message encode/decode: `Request{id, "ECHO",
 * payload}` with `encodeMessage` and `decodeMessage`, plus small messages with short strings.
 * MB/s counts payload bytes, 10^6 bytes per MB.
 */
import { FrameDecoder } from '../src/core/frame-decoder.js';
import { encodeFrame, MAX_PAYLOAD, VERSION_V2 } from '../src/core/frame.js';
import { decodeMessage, encodeMessage } from '../src/core/message-codec.js';
import type { Message } from '../src/core/message.js';
import { formatValue, measure, type BenchOptions, type BenchRow } from './lib.js';

const GROUP = 'codec';
const SIZES = [
  { label: '64 B', bytes: 64 },
  { label: '1 KiB', bytes: 1024 },
  { label: '64 KiB', bytes: 65_536 },
  { label: '1 MiB', bytes: 1_048_576 },
] as const;

export async function run(opts: BenchOptions): Promise<BenchRow[]> {
  const timing = opts.quick ? { minMs: 150, runs: 3 } : { minMs: 700, runs: 7 };
  const rows: BenchRow[] = [];
  const add = (name: string, unit: string, bytesPer: number, fn: () => number): void => {
    opts.log(`codec: ${name}`);
    const m = measure(fn, timing);
    rows.push({ group: GROUP, name, value: m.median, unit, spread: m.spread, note: `best run ${formatValue(m.best)}` });
    if (bytesPer > 0) {
      const mb = (r: number): number => (r * bytesPer) / 1e6;
      rows.push({ group: GROUP, name, value: mb(m.median), unit: 'MB/s', spread: m.spread, note: `best run ${formatValue(mb(m.best))}` });
    }
  };

  for (const size of SIZES) {
    const payload = filled(size.bytes);
    const frame = encodeFrame(VERSION_V2, payload);
    if (size.bytes <= 65_536) {
      const count = Math.max(16, Math.floor((4 << 20) / frame.length));
      const stream = new Uint8Array(frame.length * count);
      for (let i = 0; i < count; i++) stream.set(frame, i * frame.length);
      add(`frame decode ${size.label} (${count} frames per chunk)`, 'frames/s', size.bytes, () => drain(stream));
    } else {
      // Distinct chunks, each one whole frame, as a reader that delivers whole frames hands them over.
      const chunks = Array.from({ length: 8 }, () => frame.slice());
      add(`frame decode ${size.label} (one whole frame per chunk)`, 'frames/s', size.bytes, () => drainEach(chunks));
    }
    if (size.bytes === 1024 || size.bytes === 1_048_576) {
      // Socket-sized reads: frames cut at 64 KiB boundaries are assembled by copy (the slow path).
      const count = size.bytes === 1024 ? 4096 : 4;
      const stream = new Uint8Array(frame.length * count);
      for (let i = 0; i < count; i++) stream.set(frame, i * frame.length);
      const reads = cut(stream, 65_536);
      add(`frame decode ${size.label} (64 KiB reads, frames cut at read boundaries)`, 'frames/s', size.bytes, () => drainReads(reads));
    }
    const batch = Math.max(1, Math.floor((1 << 20) / (size.bytes + 9)));
    add(`frame encode ${size.label}`, 'frames/s', size.bytes, () => {
      for (let i = 0; i < batch; i++) encodeFrame(VERSION_V2, payload);
      return batch;
    });
    const request: Message = { type: 'Request', id: 123_456, command: 'ECHO', payload };
    add(`message encode Request ${size.label}`, 'msgs/s', size.bytes, () => {
      for (let i = 0; i < batch; i++) encodeMessage(request);
      return batch;
    });
    const encoded = encodeMessage(request);
    add(`message decode Request ${size.label}`, 'msgs/s', size.bytes, () => {
      for (let i = 0; i < batch; i++) decodeMessage(encoded);
      return batch;
    });
  }

  const small: { label: string; m: Message }[] = [
    { label: 'Ping', m: { type: 'Ping' } },
    { label: 'Failure (14 + 29 ASCII chars)', m: { type: 'Failure', id: 42, code: 'UNKNOWN_OPCODE', message: 'no handler for "NOSUCH" found' } },
    { label: 'Echo (200 chars, non-ASCII)', m: { type: 'Echo', text: 'héllo wörld – ✓ 🚀 '.repeat(10) } },
  ];
  for (const { label, m } of small) {
    const encoded = encodeMessage(m);
    add(`message encode ${label}`, 'msgs/s', 0, () => {
      for (let i = 0; i < 1000; i++) encodeMessage(m);
      return 1000;
    });
    add(`message decode ${label}`, 'msgs/s', 0, () => {
      for (let i = 0; i < 1000; i++) decodeMessage(encoded);
      return 1000;
    });
  }
  return rows;
}

function filled(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + 7) & 0xff;
  return b;
}

/** Pushes one chunk of whole frames and takes every frame out; returns the frame count. */
function drain(stream: Uint8Array): number {
  const d = new FrameDecoder({ maxPayload: MAX_PAYLOAD });
  d.setHandshakeComplete();
  d.push(stream);
  let n = 0;
  let bytes = 0;
  for (let f = d.next(); f !== null; f = d.next()) {
    n++;
    bytes += f.payload.length;
  }
  if (bytes === 0 && n > 0) throw new Error('empty payloads');
  return n;
}

/** `stream` in separate chunks of `size` bytes, as a socket delivers it. */
function cut(stream: Uint8Array, size: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0; at < stream.length; at += size) out.push(stream.slice(at, at + size));
  return out;
}

/** Pushes each read into a fresh decoder, draining after each; returns the frame count. */
function drainReads(reads: Uint8Array[]): number {
  const d = new FrameDecoder();
  d.setHandshakeComplete();
  let n = 0;
  for (const r of reads) {
    d.push(r);
    while (d.next() !== null) n++;
  }
  return n;
}

const persistent = new FrameDecoder();
persistent.setHandshakeComplete();

/** Pushes each chunk (one whole frame each) into one long-lived decoder; returns the frame count. */
function drainEach(chunks: Uint8Array[]): number {
  let n = 0;
  for (const c of chunks) {
    persistent.push(c);
    const f = persistent.next();
    if (f === null || f.payload.buffer !== c.buffer) throw new Error('frame not returned in place');
    n++;
  }
  return n;
}
