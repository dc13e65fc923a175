import { FrameReader, FrameScanner, encodeFrame, frameBlock } from '../../bench/net/framing.js';
import { ReplyQueue } from '../../bench/net/reply-queue.js';
import { addRatios, formatRatio, makeRow, relative, type NetRow } from '../../bench/net/metrics.js';

/** Frames of sizes 0, 1, 3, 4, 5, 64, 300 back to back, with distinct contents. */
function sampleStream(): { bytes: Buffer; payloads: Buffer[] } {
  const payloads = [0, 1, 3, 4, 5, 64, 300].map((n, i) => Buffer.alloc(n, 0x41 + i));
  return { bytes: Buffer.concat(payloads.map((p) => encodeFrame(p))), payloads };
}

/** The stream cut at the given offsets. */
function cut(bytes: Buffer, offsets: number[]): Buffer[] {
  const points = [0, ...offsets.filter((o) => o > 0 && o < bytes.length).sort((a, b) => a - b), bytes.length];
  return points.slice(1).map((end, i) => bytes.subarray(points[i]!, end));
}

describe('bench echo framing', () => {
  const { bytes, payloads } = sampleStream();

  it('FrameReader yields every payload whatever the two cut points', () => {
    for (let a = 0; a < bytes.length; a += 5) {
      for (let b = a; b < bytes.length; b += 29) {
        const got: Buffer[] = [];
        const reader = new FrameReader((p) => got.push(Buffer.from(p)));
        for (const chunk of cut(bytes, [a, b])) reader.push(chunk);
        expect(got.map((p) => p.length)).toEqual(payloads.map((p) => p.length));
        expect(Buffer.concat(got).equals(Buffer.concat(payloads))).toBe(true);
      }
    }
  });

  it('FrameScanner counts frames and ends each scan after the last complete frame', () => {
    for (let a = 1; a < bytes.length; a++) {
      const scanner = new FrameScanner();
      const [first, second] = cut(bytes, [a]) as [Buffer, Buffer];
      scanner.scan(first);
      const firstFrames = scanner.frames;
      const firstEnd = scanner.end;
      scanner.scan(second);
      expect(firstFrames + scanner.frames).toBe(payloads.length);
      expect(scanner.end).toBe(second.length);
      if (firstEnd >= 0) expect(Buffer.concat(payloads.slice(0, firstFrames).map((p) => encodeFrame(p))).length).toBe(firstEnd);
      else expect(firstFrames).toBe(0);
    }
  });

  it('rejects a declared length over the echo limit', () => {
    const huge = Buffer.from([0xff, 0xff, 0xff, 0x7f]);
    expect(() => new FrameScanner().scan(huge)).toThrow(RangeError);
    expect(() => new FrameReader(() => undefined).push(huge)).toThrow(RangeError);
  });

  it('frameBlock holds identical frames back to back', () => {
    const block = frameBlock(10, 3);
    const scanner = new FrameScanner();
    scanner.scan(block);
    expect(scanner.frames).toBe(3);
    expect(block.length).toBe(3 * 14);
  });
});

describe('ReplyQueue', () => {
  it('hands replies out in order and fails the rest on close', async () => {
    const q = new ReplyQueue();
    const promises = Array.from({ length: 3000 }, () => new Promise<Buffer>((resolve, reject) => q.push({ resolve, reject })));
    for (let i = 0; i < 2000; i++) q.settle(Buffer.from([i & 0xff]));
    expect(q.size).toBe(1000);
    q.failAll(new Error('closed'));
    const settled = await Promise.allSettled(promises);
    expect(settled.filter((s) => s.status === 'fulfilled')).toHaveLength(2000);
    expect((settled[1999] as PromiseFulfilledResult<Buffer>).value[0]).toBe(1999 & 0xff);
    expect(settled[2000]!.status).toBe('rejected');
    expect(() => q.settle(Buffer.alloc(1))).toThrow(/nobody asked/);
  });
});

describe('ratios', () => {
  it('compares with tcp and the best peer, inverted for lower-is-better figures', () => {
    const def = (better: 'higher' | 'lower') => ({ id: better, title: better, unit: 'x', better });
    const rows: NetRow[] = [
      makeRow('g', { name: 'tcp', kind: 'ceiling' }, def('higher'), [100, 110, 90], []),
      makeRow('g', { name: 'ws', kind: 'peer' }, def('higher'), [10], []),
      makeRow('g', { name: 'grpc', kind: 'peer' }, def('higher'), [20], []),
      makeRow('g', { name: 'tcp', kind: 'ceiling' }, def('lower'), [50], []),
      makeRow('g', { name: 'ws', kind: 'peer' }, def('lower'), [100], []),
      makeRow('g', { name: 'broken', kind: 'subject' }, def('lower'), [], [], 'no figure'),
    ];
    addRatios(rows, 'tcp');
    expect(rows[0]!.value).toBe(100);
    expect(rows[0]!.spread).toBeCloseTo(0.2);
    expect(rows[1]!.vsTcp).toBeCloseTo(0.1);
    expect(rows[1]!.bestPeer).toBe('grpc');
    expect(rows[0]!.vsBestPeer).toBeCloseTo(5);
    expect(rows[4]!.vsTcp).toBeCloseTo(0.5);
    expect(rows[5]!.vsTcp).toBeUndefined();
    expect(rows[5]!.note).toMatch(/failed: no figure/);
    expect(relative(2, 4, 'lower')).toBe(2);
    expect(formatRatio(0.0472)).toBe('0.047x');
    expect(formatRatio(215.4)).toBe('215x');
  });
});
