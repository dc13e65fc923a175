/**
 * `@grpc/grpc-js` echo over an insecure HTTP/2 channel to 127.0.0.1: a generic service definition
 * with identity serializers (raw Buffers, so no protobuf cost), one unary and one bidirectional
 * streaming method. Each client connection is its own channel (`grpc.use_local_subchannel_pool`),
 * so N connections are N HTTP/2 connections.
 */
import * as grpc from '@grpc/grpc-js';
import { ReplyQueue, pipelineWithCalls, withTimeout } from './reply-queue.js';
import type { ClientConn, PipelineOptions, RunningServer, System } from './system.js';

const UNARY_PATH = '/npro.bench.Echo/Unary';
const STREAM_PATH = '/npro.bench.Echo/Stream';
const CONNECT_TIMEOUT_MS = 15_000;
const MAX_MESSAGE = 16 * 1024 * 1024;

const identity = (b: Buffer): Buffer => b;
const method = (path: string, streaming: boolean): grpc.MethodDefinition<Buffer, Buffer> => ({
  path,
  requestStream: streaming,
  responseStream: streaming,
  requestSerialize: identity,
  requestDeserialize: identity,
  responseSerialize: identity,
  responseDeserialize: identity,
});

/** The echo service, defined without a .proto file. */
export const echoService: grpc.ServiceDefinition = { unary: method(UNARY_PATH, false), stream: method(STREAM_PATH, true) };

const channelOptions: grpc.ChannelOptions = {
  'grpc.use_local_subchannel_pool': 1,
  'grpc.max_receive_message_length': MAX_MESSAGE,
  'grpc.max_send_message_length': MAX_MESSAGE,
};

async function startEchoServer(): Promise<RunningServer> {
  const server = new grpc.Server({ 'grpc.max_receive_message_length': MAX_MESSAGE });
  server.addService(echoService, {
    unary: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => callback(null, call.request),
    stream: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
      call.on('data', (data: Buffer) => call.write(data));
      call.on('end', () => call.end());
      call.on('error', () => undefined);
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  // grpc-js keeps its HTTP/2 sessions in a private map; read it when present, else report "unknown".
  const sessions = (): number | undefined => (server as unknown as { sessions?: Map<unknown, unknown> }).sessions?.size;
  return {
    url: `grpc://127.0.0.1:${port}`,
    connections: sessions,
    close: () =>
      new Promise<void>((resolve) => {
        server.forceShutdown();
        resolve();
      }),
  };
}

async function openChannel(url: string): Promise<grpc.Client> {
  const client = new grpc.Client(new URL(url).host, grpc.credentials.createInsecure(), channelOptions);
  try {
    await withTimeout(
      new Promise<void>((resolve, reject) => client.waitForReady(Date.now() + CONNECT_TIMEOUT_MS, (e) => (e ? reject(e) : resolve()))),
      CONNECT_TIMEOUT_MS + 1000,
      'gRPC channel not ready',
    );
  } catch (e) {
    client.close();
    throw e;
  }
  return client;
}

class UnaryConn implements ClientConn {
  constructor(private readonly client: grpc.Client) {}

  request(payload: Uint8Array): Promise<Uint8Array> {
    const arg = Buffer.isBuffer(payload) ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.length);
    return new Promise<Uint8Array>((resolve, reject) => {
      this.client.makeUnaryRequest(UNARY_PATH, identity, identity, arg, (err, reply) => (err || !reply ? reject(err ?? new Error('empty reply')) : resolve(reply)));
    });
  }

  pipeline(opts: PipelineOptions): Promise<number> {
    const payload = Buffer.alloc(opts.size, 0x61);
    return pipelineWithCalls(() => this.request(payload), opts);
  }

  async close(): Promise<void> {
    this.client.close();
  }
}

class BidiConn implements ClientConn {
  private readonly replies = new ReplyQueue();
  private readonly call: grpc.ClientDuplexStream<Buffer, Buffer>;
  private counting: (() => void) | null = null;
  private closed: Error | null = null;

  constructor(private readonly client: grpc.Client) {
    this.call = client.makeBidiStreamRequest(STREAM_PATH, identity, identity);
    this.call.on('data', (data: Buffer) => {
      if (this.counting !== null) this.counting();
      else this.replies.settle(data);
    });
    this.call.on('error', (e: Error) => this.fail(e));
    this.call.on('end', () => this.fail(new Error('gRPC stream ended')));
  }

  private fail(error: Error): void {
    this.closed ??= error;
    this.replies.failAll(error);
  }

  request(payload: Uint8Array): Promise<Uint8Array> {
    if (this.closed) return Promise.reject(this.closed);
    const arg = Buffer.isBuffer(payload) ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.length);
    return new Promise<Uint8Array>((resolve, reject) => {
      this.replies.push({ resolve, reject });
      this.call.write(arg);
    });
  }

  pipeline(opts: PipelineOptions): Promise<number> {
    if (this.closed) return Promise.reject(this.closed);
    const payload = Buffer.alloc(opts.size, 0x61);
    return new Promise<number>((resolve, reject) => {
      let sent = 0;
      let received = 0;
      const onError = (e: Error): void => {
        this.counting = null;
        reject(e);
      };
      this.call.once('error', onError);
      const refill = (): void => {
        let room = Math.min(opts.window - (sent - received), opts.count - sent);
        if (performance.now() >= opts.deadline) room = 0;
        for (; room > 0; room--, sent++) this.call.write(payload);
        if (received === sent) {
          this.counting = null;
          this.call.removeListener('error', onError);
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
    this.call.end();
    this.client.close();
  }
}

export const grpcUnarySystem: System = {
  name: 'grpc-unary',
  label: '@grpc/grpc-js unary calls, insecure HTTP/2, raw Buffer (de)serializers',
  kind: 'peer',
  packages: ['@grpc/grpc-js'],
  startServer: startEchoServer,
  connect: async (url) => new UnaryConn(await openChannel(url)),
};

export const grpcStreamSystem: System = {
  name: 'grpc-stream',
  label: '@grpc/grpc-js bidirectional stream, one message per request, insecure HTTP/2',
  kind: 'peer',
  sameConnectionAs: 'grpc-unary',
  packages: ['@grpc/grpc-js'],
  startServer: startEchoServer,
  connect: async (url) => new BidiConn(await openChannel(url)),
};
