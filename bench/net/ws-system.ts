/**
 * `ws` echo: one binary WebSocket message per request, no extra length prefix, compression off,
 * one `send()` per message (the `ws` API as applications use it; `bufferutil` masks when installed).
 */
import { once } from 'node:events';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { ReplyQueue, withTimeout } from './reply-queue.js';
import type { ClientConn, PipelineOptions, RunningServer, System } from './system.js';

const MAX_PAYLOAD = 16 * 1024 * 1024;
const CONNECT_TIMEOUT_MS = 15_000;
const CLOSE_TIMEOUT_MS = 5_000;

function asBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

class WsConn implements ClientConn {
  private readonly replies = new ReplyQueue();
  private counting: (() => void) | null = null;
  private closed: Error | null = null;

  constructor(private readonly ws: WebSocket) {
    ws.on('message', (data) => {
      if (this.counting !== null) this.counting();
      else this.replies.settle(asBuffer(data));
    });
    ws.on('error', (e) => this.fail(e));
    ws.on('close', () => this.fail(new Error('WebSocket closed')));
  }

  private fail(error: Error): void {
    this.closed ??= error;
    this.replies.failAll(error);
  }

  request(payload: Uint8Array): Promise<Uint8Array> {
    if (this.closed) return Promise.reject(this.closed);
    return new Promise<Uint8Array>((resolve, reject) => {
      this.replies.push({ resolve, reject });
      this.ws.send(payload, { binary: true });
    });
  }

  pipeline(opts: PipelineOptions): Promise<number> {
    if (this.closed) return Promise.reject(this.closed);
    const payload = Buffer.alloc(opts.size, 0x61);
    return new Promise<number>((resolve, reject) => {
      let sent = 0;
      let received = 0;
      const onClose = (): void => {
        this.counting = null;
        reject(this.closed ?? new Error('WebSocket closed'));
      };
      this.ws.once('close', onClose);
      const refill = (): void => {
        let room = Math.min(opts.window - (sent - received), opts.count - sent);
        if (performance.now() >= opts.deadline) room = 0;
        for (; room > 0; room--, sent++) this.ws.send(payload, { binary: true });
        if (received === sent) {
          this.counting = null;
          this.ws.removeListener('close', onClose);
          resolve(received);
        }
      };
      this.counting = () => {
        received++;
        refill();
      };
      refill();
    });
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    const closed = once(this.ws, 'close');
    this.ws.close(1000);
    await withTimeout(closed, CLOSE_TIMEOUT_MS, 'WebSocket did not close').catch(() => this.ws.terminate());
  }
}

export const wsSystem: System = {
  name: 'ws',
  label: 'ws WebSocket, binary messages, perMessageDeflate off',
  kind: 'peer',
  packages: ['ws', 'bufferutil'],
  async startServer(): Promise<RunningServer> {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, maxPayload: MAX_PAYLOAD });
    wss.on('connection', (ws) => {
      ws.on('error', () => ws.terminate());
      ws.on('message', (data) => ws.send(asBuffer(data), { binary: true }));
    });
    await once(wss, 'listening');
    const address = wss.address();
    const port = address !== null && typeof address === 'object' ? address.port : 0;
    return {
      url: `ws://127.0.0.1:${port}/`,
      connections: () => wss.clients.size,
      close: () =>
        new Promise<void>((resolve) => {
          for (const ws of wss.clients) ws.terminate();
          wss.close(() => resolve());
        }),
    };
  },
  async connect(url: string): Promise<ClientConn> {
    const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: MAX_PAYLOAD });
    ws.on('error', () => undefined);
    await withTimeout(once(ws, 'open'), CONNECT_TIMEOUT_MS, 'WebSocket open timed out').catch((e: unknown) => {
      ws.terminate();
      throw e;
    });
    return new WsConn(ws);
  },
};
