/**
 * npro itself as three measured systems: the daemon answering the built-in `ECHO` command, a client
 * sending `request('ECHO', payload)` (pipelined: one-way `Custom` messages), over TCP (Noise XX handshake, encrypted records), a Unix
 * socket and TLS 1.3 (both with plaintext records, `transport.encryption_enabled = auto`,
 * protocol.md §8). The daemon's static key is made in the server process; its public key reaches
 * the client in the endpoint URL's fragment (`tcp://127.0.0.1:PORT#<key>`), which the client pins.
 */
import { join } from 'node:path';
import { Client, Daemon, encodePublicKey, generateKeyPair, silentLogger, type Message } from '../../src/service/index.js';
import type { ClientConn, PipelineOptions, RunningServer, System, SystemContext } from './system.js';

/**
 * Settings that let the scenarios run as on the peers: 256 requests in flight per connection,
 * 10,000 idle connections, no compression (the peers compress nothing and the payloads are
 * constant bytes, which would flatter a compressor).
 */
const CONFIG = {
  server: { max_streams: 1024, backpressure_limit: 4096, max_connections: 20_000 },
  transport: { compression_enabled: false },
};

/**
 * One-way `Custom{ECHO}` messages (`send()`), which the daemon's ECHO handler answers with a `Custom`
 * of the same payload, read back through async iteration: protocol.md §5's streaming messages, as the
 * raw peers stream frames. At most `opts.window` unanswered; every reply is checked to be that echo.
 */
export async function pipelineCustom(client: Client, opts: PipelineOptions): Promise<number> {
  const message: Message = { type: 'Custom', command: 'ECHO', payload: new Uint8Array(opts.size).fill(0x61) };
  const replies = client[Symbol.asyncIterator]();
  let sent = 0;
  let received = 0;
  const refill = (): void => {
    while (sent - received < opts.window && sent < opts.count && performance.now() < opts.deadline) {
      client.send(message);
      sent++;
    }
  };
  refill();
  while (received < sent) {
    const next = await replies.next();
    if (next.done === true) throw new Error('npro connection ended during the pipelined run');
    const m = next.value;
    if (m.type !== 'Custom' || m.command !== 'ECHO' || m.payload.length !== opts.size) throw new Error(`npro pipelined run got ${m.type}`);
    received++;
    if ((received & 63) === 0 || received === sent) refill();
  }
  return received;
}

class NproConn implements ClientConn {
  constructor(private readonly client: Client) {}

  request(payload: Uint8Array): Promise<Uint8Array> {
    return this.client.request('ECHO', payload);
  }

  pipeline(opts: PipelineOptions): Promise<number> {
    return pipelineCustom(this.client, opts);
  }

  close(): Promise<void> {
    return this.client.close();
  }
}

async function startDaemon(listen: string, ctx: SystemContext, tls: boolean): Promise<RunningServer> {
  const keys = generateKeyPair();
  const daemon = await Daemon.start({
    listen: [listen],
    config: CONFIG,
    logger: silentLogger(),
    staticSecret: keys.secretKey,
    ...(tls ? { tls: { cert: ctx.tls.certPem, key: ctx.tls.keyPem } } : {}),
  });
  return {
    url: `${daemon.addresses[0]!}#${encodePublicKey(keys.publicKey)}`,
    connections: () => daemon.stats().connections.current,
    close: () => daemon.shutdown({ timeoutMs: 0 }),
  };
}

async function connect(url: string, ctx: SystemContext): Promise<ClientConn> {
  const hash = url.indexOf('#');
  const endpoint = hash < 0 ? url : url.slice(0, hash);
  const serverPublicKey = hash < 0 ? undefined : url.slice(hash + 1);
  const client = await Client.connect(endpoint, {
    config: CONFIG,
    logger: silentLogger(),
    ...(serverPublicKey === undefined ? { trust: 'any' as const } : { serverPublicKey }),
    ...(endpoint.startsWith('tls:') ? { tls: { ca: ctx.tls.caPem } } : {}),
  });
  return new NproConn(client);
}

const base = { kind: 'subject', packages: [], connect } as const;

/** npro over TCP, Unix and TLS; loaded by `systems.ts` when this module exists. */
export const systems: System[] = [
  {
    ...base,
    name: 'npro-tcp',
    label: 'npro over TCP: Noise XX handshake, XChaCha20-Poly1305 records, ECHO command',
    startServer: (ctx) => startDaemon('tcp://127.0.0.1:0', ctx, false),
  },
  {
    ...base,
    name: 'npro-unix',
    label: 'npro over a Unix socket: Noise XX handshake, plaintext records, ECHO command',
    startServer: (ctx) => startDaemon(`unix://${join(ctx.socketDir, `npro-${process.pid}.sock`)}`, ctx, false),
  },
  {
    ...base,
    name: 'npro-tls',
    label: 'npro over TLS 1.3: Noise XX handshake inside TLS, plaintext records, ECHO command',
    startServer: (ctx) => startDaemon('tls://127.0.0.1:0', ctx, true),
  },
];
