/**
 * Raw length-prefixed echo over `node:net` (TCP and Unix socket) and `node:tls` (TLS 1.3): the
 * transport ceilings. The server scans each read for frame boundaries and writes the complete
 * frames back in one write, without per-message allocation; clients batch the writes of one tick.
 */
import { once } from 'node:events';
import net from 'node:net';
import { join } from 'node:path';
import tls from 'node:tls';
import { FrameReader, FrameScanner, encodePrefix, frameBlock } from './framing.js';
import { ReplyQueue, withTimeout } from './reply-queue.js';
import type { ClientConn, PipelineOptions, RunningServer, System, SystemContext } from './system.js';

const CONNECT_TIMEOUT_MS = 15_000;
const CLOSE_TIMEOUT_MS = 5_000;
/** Pipelined sends slice one prepared block of frames of at most this many bytes. */
const MAX_BLOCK_BYTES = 1 << 20;

/** Echoes complete frames back; pauses reading while the write side is over its high-water mark. */
export function serveEcho(socket: net.Socket): void {
  const scanner = new FrameScanner();
  let carry: Buffer[] = [];
  socket.on('error', () => socket.destroy());
  socket.on('data', (chunk: Buffer) => {
    try {
      scanner.scan(chunk);
    } catch {
      socket.destroy();
      return;
    }
    const end = scanner.end;
    if (end < 0) {
      carry.push(chunk);
      return;
    }
    const whole = end === chunk.length ? chunk : chunk.subarray(0, end);
    let ok: boolean;
    if (carry.length > 0) {
      socket.cork();
      for (const part of carry) socket.write(part);
      ok = socket.write(whole);
      socket.uncork();
      carry = [];
    } else {
      ok = socket.write(whole);
    }
    if (end < chunk.length) carry.push(chunk.subarray(end));
    if (!ok) {
      socket.pause();
      socket.once('drain', () => socket.resume());
    }
  });
}

/** Tracks the open sockets of a server, to count them and to end them on close. */
function tracked(server: net.Server, event: 'connection' | 'secureConnection'): Pick<RunningServer, 'connections' | 'close'> {
  const open = new Set<net.Socket>();
  server.on(event, (socket: net.Socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
  });
  return {
    connections: () => open.size,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of open) socket.destroy();
      }),
  };
}

async function listen(server: net.Server, target: { port: number; host: string } | { path: string }): Promise<void> {
  server.listen(target);
  await once(server, 'listening');
}

/** A client connection of a raw echo system. */
export class StreamConn implements ClientConn {
  private readonly replies = new ReplyQueue();
  private readonly reader: FrameReader;
  private readonly scanner = new FrameScanner();
  private counting: ((frames: number) => void) | null = null;
  private corked = false;
  private closed: Error | null = null;

  constructor(private readonly socket: net.Socket) {
    this.reader = new FrameReader((payload) => this.replies.settle(payload));
    socket.on('data', (chunk: Buffer) => {
      try {
        if (this.counting === null) this.reader.push(chunk);
        else {
          this.scanner.scan(chunk);
          if (this.scanner.frames > 0) this.counting(this.scanner.frames);
        }
      } catch (e) {
        socket.destroy(e instanceof Error ? e : new Error(String(e)));
      }
    });
    socket.on('error', (e) => this.fail(e));
    socket.on('close', () => this.fail(new Error('echo connection closed')));
  }

  private fail(error: Error): void {
    this.closed ??= error;
    this.replies.failAll(error);
  }

  request(payload: Uint8Array): Promise<Uint8Array> {
    if (this.closed) return Promise.reject(this.closed);
    return new Promise<Uint8Array>((resolve, reject) => {
      this.replies.push({ resolve, reject });
      if (!this.corked) {
        this.corked = true;
        this.socket.cork();
        process.nextTick(() => {
          this.corked = false;
          this.socket.uncork();
        });
      }
      this.socket.write(encodePrefix(payload.length));
      this.socket.write(payload);
    });
  }

  pipeline(opts: PipelineOptions): Promise<number> {
    if (this.closed) return Promise.reject(this.closed);
    const frameBytes = 4 + opts.size;
    const perBlock = Math.max(1, Math.min(opts.window, Math.floor(MAX_BLOCK_BYTES / frameBytes)));
    const block = frameBlock(opts.size, perBlock);
    return new Promise<number>((resolve, reject) => {
      let sent = 0;
      let received = 0;
      const onError = (e: Error): void => {
        this.counting = null;
        reject(e);
      };
      this.socket.once('close', () => onError(this.closed ?? new Error('echo connection closed')));
      const refill = (): void => {
        let room = Math.min(opts.window - (sent - received), opts.count - sent);
        if (performance.now() >= opts.deadline) room = 0;
        while (room > 0) {
          const k = Math.min(room, perBlock);
          this.socket.write(k === perBlock ? block : block.subarray(0, k * frameBytes));
          sent += k;
          room -= k;
        }
        if (received === sent) {
          this.counting = null;
          this.socket.removeListener('close', onError);
          resolve(received);
        }
      };
      this.counting = (frames) => {
        received += frames;
        refill();
      };
      refill();
    });
  }

  async close(): Promise<void> {
    if (this.socket.destroyed) return;
    const closed = once(this.socket, 'close');
    this.socket.end();
    await withTimeout(closed, CLOSE_TIMEOUT_MS, 'echo connection did not close').catch(() => this.socket.destroy());
  }
}

async function connected(socket: net.Socket, event: 'connect' | 'secureConnect'): Promise<StreamConn> {
  await withTimeout(once(socket, event), CONNECT_TIMEOUT_MS, `${event} timed out`).catch((e: unknown) => {
    socket.destroy();
    throw e;
  });
  socket.setNoDelay(true);
  return new StreamConn(socket);
}

function hostPort(url: string): { host: string; port: number } {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port) };
}

export const tcpSystem: System = {
  name: 'tcp',
  label: 'raw node:net over TCP, u32 length prefix (ceiling)',
  kind: 'ceiling',
  packages: [],
  async startServer(): Promise<RunningServer> {
    const server = net.createServer({ noDelay: true }, serveEcho);
    const track = tracked(server, 'connection');
    await listen(server, { port: 0, host: '127.0.0.1' });
    const { port } = server.address() as net.AddressInfo;
    return { url: `tcp://127.0.0.1:${port}`, ...track };
  },
  connect: (url) => connected(net.connect({ ...hostPort(url), noDelay: true }), 'connect'),
};

export const unixSystem: System = {
  name: 'unix',
  label: 'raw node:net over a Unix socket, u32 length prefix',
  kind: 'ceiling',
  packages: [],
  async startServer(ctx: SystemContext): Promise<RunningServer> {
    const path = join(ctx.socketDir, `echo-${process.pid}.sock`);
    const server = net.createServer(serveEcho);
    const track = tracked(server, 'connection');
    await listen(server, { path });
    return { url: `unix://${path}`, ...track };
  },
  connect: (url) => connected(net.connect({ path: new URL(url).pathname }), 'connect'),
};

/** One client context per CA, built once per process as an application would (not per connection). */
const clientContexts = new Map<string, tls.SecureContext>();
function clientContext(caPem: string): tls.SecureContext {
  let context = clientContexts.get(caPem);
  if (context === undefined) {
    context = tls.createSecureContext({ ca: caPem, minVersion: 'TLSv1.3' });
    clientContexts.set(caPem, context);
  }
  return context;
}

export const tlsSystem: System = {
  name: 'tls',
  label: 'raw node:tls, TLS 1.3, ECDSA P-256 certificate, u32 length prefix',
  kind: 'ceiling',
  packages: ['@peculiar/x509'],
  async startServer(ctx: SystemContext): Promise<RunningServer> {
    const server = tls.createServer({ key: ctx.tls.keyPem, cert: ctx.tls.certPem, minVersion: 'TLSv1.3' }, (socket) => {
      socket.setNoDelay(true);
      serveEcho(socket);
    });
    server.on('tlsClientError', (_e, socket) => socket.destroy());
    const track = tracked(server, 'secureConnection');
    await listen(server, { port: 0, host: '127.0.0.1' });
    const { port } = server.address() as net.AddressInfo;
    return { url: `tls://127.0.0.1:${port}`, ...track };
  },
  connect: (url, ctx) =>
    connected(tls.connect({ ...hostPort(url), secureContext: clientContext(ctx.tls.caPem), minVersion: 'TLSv1.3' }), 'secureConnect'),
};
