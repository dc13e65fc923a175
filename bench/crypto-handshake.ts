/**
 * The crypto group, handshakes: full npro v2 handshakes (protocol.md §3: HELLO, WELCOME, AUTH, with
 * `ClientHandshake` and `ServerHandshake` in one process, no I/O) per second with the node and noble
 * providers, against full node:tls TLS 1.3 handshakes over loopback with a self-signed ECDSA P-256
 * certificate made in the bench (`@peculiar/x509`, via src/utils/certs.ts).
 *
 * Every npro handshake draws fresh ephemerals and verifies the server key against a pin, as a real
 * client does; the static keys are made once (a daemon and a client load theirs once). TLS connections
 * ask for no session resumption, verify the certificate against it as the CA, and are closed once
 * secure. All loops are bounded in time and count.
 */
import * as tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { NproError } from '../src/core/errors.js';
import { constantTimeEqual } from '../src/utils/bytes.js';
import { nobleCrypto, nodeCrypto, type CryptoProvider } from '../src/utils/crypto/index.js';
import { createCertificate } from '../src/utils/certs.js';
import { x25519KeyPair } from '../src/protocol/noise.js';
import { ClientHandshake, ServerHandshake, type HandshakeFrame } from '../src/protocol/handshake.js';
import { medianOf, type BenchOptions, type BenchRow } from './lib.js';

const GROUP = 'crypto';
/** TLS connections in flight at once, so that the loopback round trips overlap with crypto work. */
const TLS_CONCURRENCY = 8;
/** Upper bound on TLS handshakes in one run, whatever the time. */
const TLS_MAX_PER_RUN = 50_000;

function asFrame(bytes: Uint8Array): HandshakeFrame {
  return { version: bytes[4]!, payload: bytes.subarray(9) };
}

/** One full v2 handshake; returns the server's share of the elapsed time in ms. */
function handshakeOnce(crypto: CryptoProvider, clientKey: ReturnType<typeof x25519KeyPair>, serverKey: ReturnType<typeof x25519KeyPair>): number {
  const pinned = serverKey.publicKey;
  const client = new ClientHandshake({
    crypto, staticKey: clientKey, features: 1, maxFrame: 65_536,
    checkServerKey: (k) => (constantTimeEqual(k, pinned) ? null : new NproError('SERVER_KEY_MISMATCH', 'pin')),
  });
  const hello = client.start();
  const t0 = performance.now();
  const server = new ServerHandshake({ crypto, staticKey: serverKey, features: 1, maxFrame: 65_536, maxStreams: 100 });
  const welcome = server.receive(asFrame(hello)).send[0]!;
  const t1 = performance.now();
  const auth = client.receive(asFrame(welcome));
  const t2 = performance.now();
  const done = server.receive(asFrame(auth.send[0]!));
  const t3 = performance.now();
  if (done.result?.sessionId !== auth.result?.sessionId || done.result === undefined) throw new Error('npro handshake failed in the bench');
  return t1 - t0 + (t3 - t2);
}

/** Handshakes per second of wall time and per second of this process's CPU time (user + system, all threads). */
interface Rate {
  wall: number;
  cpu: number;
}

function cpuSeconds(since: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1e6;
}

/** Repeated npro handshakes with one pair of static keys: a timed run returns full and server-side rates. */
function nproRunner(crypto: CryptoProvider): (minMs: number) => Rate & { serverOnly: number } {
  const clientKey = x25519KeyPair(crypto, crypto.x25519GenerateSecret());
  const serverKey = x25519KeyPair(crypto, crypto.x25519GenerateSecret());
  return (minMs) => {
    let serverMs = 0;
    let count = 0;
    const cpu0 = process.cpuUsage();
    const start = performance.now();
    do {
      serverMs += handshakeOnce(crypto, clientKey, serverKey);
      count += 1;
    } while (performance.now() - start < minMs);
    const wall = count / ((performance.now() - start) / 1000);
    return { wall, cpu: count / cpuSeconds(cpu0), serverOnly: count / (serverMs / 1000) };
  };
}

async function startTlsServer(cert: string, key: string): Promise<{ server: tls.Server; port: number }> {
  const server = tls.createServer({ cert, key, minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3', noDelay: true }, (socket) => {
    socket.on('error', () => undefined);
    socket.end();
  });
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return { server, port: (server.address() as AddressInfo).port };
}

function tlsHandshake(port: number, secureContext: tls.SecureContext): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, secureContext, minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' }, () => {
      socket.destroy();
      resolve();
    });
    socket.setNoDelay(true);
    socket.once('error', reject);
  });
}

/** One run: `TLS_CONCURRENCY` loops of sequential handshakes for `minMs`. */
async function tlsRun(port: number, ctx: tls.SecureContext, minMs: number): Promise<Rate> {
  let done = 0;
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  const loop = async (): Promise<void> => {
    while (performance.now() - start < minMs && done < TLS_MAX_PER_RUN) {
      await tlsHandshake(port, ctx);
      done += 1;
    }
  };
  await Promise.all(Array.from({ length: TLS_CONCURRENCY }, loop));
  return { wall: done / ((performance.now() - start) / 1000), cpu: done / cpuSeconds(cpu0) };
}

interface Summary {
  median: number;
  spread: number;
}

function summary(values: readonly number[]): Summary {
  const median = medianOf(values);
  return { median, spread: median === 0 ? 0 : (Math.max(...values) - Math.min(...values)) / median };
}

interface Comparison {
  npro: Summary;
  nproCpu: Summary;
  serverOnly: number;
  tls: Summary;
  tlsCpu: Summary;
  ratio: Summary;
  ratioCpu: Summary;
}

/**
 * npro (node provider) and node:tls measured in alternating runs, so that both see the same machine
 * load; each ratio is the median of the per-run ratios.
 */
async function compareWithTls(timing: { minMs: number; runs: number }, log: (line: string) => void): Promise<Comparison> {
  log('crypto: generating a self-signed ECDSA P-256 certificate (@peculiar/x509)');
  const { cert, key } = await createCertificate({ hosts: ['127.0.0.1'] });
  const { server, port } = await startTlsServer(cert, key);
  // One client context for all connections, as a real client keeps: it trusts exactly this certificate.
  const ctx = tls.createSecureContext({ ca: cert });
  const npro = nproRunner(nodeCrypto);
  try {
    const warm = Math.max(50, timing.minMs / 2);
    npro(warm);
    await tlsRun(port, ctx, warm);
    const n: (Rate & { serverOnly: number })[] = [];
    const t: Rate[] = [];
    for (let r = 0; r < timing.runs; r++) {
      log(`crypto: npro vs node:tls, run ${r + 1}/${timing.runs}`);
      n.push(npro(timing.minMs));
      t.push(await tlsRun(port, ctx, timing.minMs));
    }
    return {
      npro: summary(n.map((x) => x.wall)),
      nproCpu: summary(n.map((x) => x.cpu)),
      serverOnly: medianOf(n.map((x) => x.serverOnly)),
      tls: summary(t.map((x) => x.wall)),
      tlsCpu: summary(t.map((x) => x.cpu)),
      ratio: summary(n.map((x, i) => x.wall / t[i]!.wall)),
      ratioCpu: summary(n.map((x, i) => x.cpu / t[i]!.cpu)),
    };
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

export async function run(opts: BenchOptions): Promise<BenchRow[]> {
  const timing = opts.quick ? { minMs: 200, runs: 3 } : { minMs: 1000, runs: 7 };
  const nproNote = 'client + server state machines in one process, no I/O; fresh ephemerals, pinned server key';
  const serverNote = 'HELLO → WELCOME and AUTH processing time only, from the same runs';
  const tlsNote = `server and client in the same process, ${TLS_CONCURRENCY} connections in flight, one client context, certificate verified, TCP_NODELAY, no resumption`;
  const cpuNote = 'per second of process CPU time (user + system)';
  const c = await compareWithTls(timing, opts.log);
  opts.log('crypto: npro v2 handshakes, noble provider');
  const noble = nproRunner(nobleCrypto);
  noble(Math.max(50, timing.minMs / 2));
  const nobleRuns = Array.from({ length: timing.runs }, () => noble(timing.minMs));
  const nobleFull = summary(nobleRuns.map((x) => x.wall));
  const row = (name: string, v: Summary | number, unit: string, note: string): BenchRow =>
    typeof v === 'number' ? { group: GROUP, name, value: v, unit, note } : { group: GROUP, name, value: v.median, unit, spread: v.spread, note };
  return [
    row('npro v2 handshake, full (node provider)', c.npro, 'handshakes/s', nproNote),
    row('npro v2 handshake, full (node provider), by CPU time', c.nproCpu, 'handshakes/s', cpuNote),
    row('npro v2 handshake, server side only (node provider)', c.serverOnly, 'handshakes/s', serverNote),
    row('node:tls TLS 1.3 handshake, ECDSA P-256, 127.0.0.1', c.tls, 'handshakes/s', tlsNote),
    row('node:tls TLS 1.3 handshake, by CPU time', c.tlsCpu, 'handshakes/s', `${cpuNote}; both ends and the loopback TCP`),
    row('npro (node provider) / node:tls handshakes', c.ratio, '×', 'median of per-run ratios, runs alternating; target ≥ 3×'),
    row('npro (node provider) / node:tls handshakes, by CPU time', c.ratioCpu, '×', 'median of per-run ratios of CPU-time rates; target ≥ 3×'),
    row('npro v2 handshake, full (noble provider)', nobleFull, 'handshakes/s', nproNote),
    row('npro v2 handshake, server side only (noble provider)', medianOf(nobleRuns.map((x) => x.serverOnly)), 'handshakes/s', serverNote),
  ];
}
