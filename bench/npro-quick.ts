/**
 * A quick end-to-end measure of npro over loopback TCP (or a Unix socket), daemon and client in two
 * processes: round trips per second with 1 request outstanding and with 256 in flight, and pipelined
 * 64-byte `Custom` messages per second.
 *
 * `npm run build && node dist/bench/npro-quick.js [--seconds 3] [--unix] [--flush microtask|immediate]
 *  [--client-flush microtask|immediate] [--only TEXT]` (`--flush` sets both sides, `--client-flush` the client's)
 * (`--only` runs the figures whose name contains TEXT: `outstanding`, `in flight`, `pipelined`).
 */
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Daemon, generateKeyPair, silentLogger } from '../src/service/index.js';
import { pipelineCustom } from './net/npro-system.js';

type Flush = 'microtask' | 'immediate';

interface Args {
  seconds: number;
  unix: boolean;
  flush: Flush;
  only: string | undefined;
  clientFlush: Flush | undefined;
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { seconds: 3, unix: false, flush: 'microtask', only: undefined, clientFlush: undefined };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--seconds') args.seconds = Number(argv[++i]);
    else if (a === '--unix') args.unix = true;
    else if (a === '--flush') args.flush = argv[++i] === 'immediate' ? 'immediate' : 'microtask';
    else if (a === '--only') args.only = argv[++i];
    else if (a === '--client-flush') args.clientFlush = argv[++i] === 'immediate' ? 'immediate' : 'microtask';
  }
  return args;
}

/** Upper bound on pipelined messages in one measurement, whatever the time. */
const MAX_PIPELINED = 50_000_000;
const CONFIG = { server: { max_streams: 1024, backpressure_limit: 4096 }, logging: { log_to_console: true } };

async function server(url: string, flush: Flush): Promise<void> {
  const daemon = await Daemon.start({
    listen: [url], logger: silentLogger(), staticSecret: generateKeyPair().secretKey, config: CONFIG, hooks: { flush },
  });
  process.send!({ url: daemon.addresses[0], key: daemon.publicKey });
  process.on('message', (m) => {
    if (m === 'cpu') {
      const { user, system } = process.cpuUsage();
      process.send!({ cpu: user + system });
      return;
    }
    void daemon.shutdown({ timeoutMs: 0 }).then(() => process.exit(0));
  });
}

async function sequential(client: Client, payload: Uint8Array, ms: number): Promise<number> {
  const end = performance.now() + ms;
  let n = 0;
  while (performance.now() < end) {
    await client.request('ECHO', payload);
    n++;
  }
  return n;
}

function windowed(client: Client, payload: Uint8Array, ms: number, window: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const end = performance.now() + ms;
    let done = 0;
    let inFlight = 0;
    const issue = (): void => {
      while (inFlight < window && performance.now() < end) {
        inFlight++;
        client.request('ECHO', payload).then(() => {
          inFlight--;
          done++;
          if (performance.now() < end) issue();
          else if (inFlight === 0) resolve(done);
        }, reject);
      }
    };
    issue();
  });
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (process.argv[2] === 'server') {
    await server(process.argv[3]!, process.argv[4] as Flush);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'npro-quick-'));
  const url = args.unix ? `unix://${join(dir, 's')}` : 'tcp://127.0.0.1:0';
  const child = fork(fileURLToPath(import.meta.url), ['server', url, args.flush], { execArgv: process.execArgv });
  const { url: bound, key } = await new Promise<{ url: string; key: string }>((resolve) => child.once('message', (m) => resolve(m as { url: string; key: string })));
  const client = await Client.connect(bound, { serverPublicKey: key, logger: silentLogger(), config: CONFIG, hooks: { flush: args.clientFlush ?? args.flush } });
  const payload = new Uint8Array(64).fill(7);
  const ms = args.seconds * 1000;
  await sequential(client, payload, 300);
  const rows: [string, number, number, number][] = [];
  const serverCpu = (): Promise<number> =>
    new Promise((resolve) => {
      child.once('message', (m) => resolve((m as { cpu: number }).cpu));
      child.send('cpu');
    });
  const measure = async (name: string, run: () => Promise<number>): Promise<void> => {
    if (args.only !== undefined && !name.includes(args.only)) return;
    console.error(`measuring: ${name}`);
    const c0 = process.cpuUsage();
    const s0 = await serverCpu();
    const n = await run();
    const c1 = process.cpuUsage(c0);
    const s1 = await serverCpu();
    rows.push([name, n / args.seconds, (c1.user + c1.system) / n, (s1 - s0) / n]);
  };
  await measure('round trips/s, 1 outstanding', () => sequential(client, payload, ms));
  await measure('round trips/s, 256 in flight', () => windowed(client, payload, ms, 256));
  await measure('pipelined 64 B Custom messages/s', () => pipelineCustom(client, { count: MAX_PIPELINED, size: payload.length, window: 4096, deadline: performance.now() + ms }));
  await client.close();
  child.send('stop');
  rmSync(dir, { recursive: true, force: true });
  console.log(`npro quick bench: ${bound.split(':')[0]}, flush=${args.flush}, ${args.seconds} s each (CPU µs per operation: client / daemon)`);
  for (const [name, value, client, daemon] of rows) {
    console.log(`  ${name.padEnd(36)} ${Math.round(value).toLocaleString('en-US').padStart(10)}   ${client.toFixed(2)} / ${daemon.toFixed(2)} µs`);
  }
}

void main();
