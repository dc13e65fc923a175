/**
 * `startWorkers()` as a library (src/service/workers.ts): workers answer with the handlers of a
 * dispatcher module, restarts back off and a crash loop stops the group, `shutdown()` ends every
 * worker, and bad options are refused before anything is forked. The workers are real processes
 * forked from the compiled dist/src/service/worker-process.js (rebuilt first when stale).
 */
import cluster from 'node:cluster';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { NproError } from '../../src/core/errors.js';
import { Client } from '../../src/service/client.js';
import { startWorkers, type WorkerGroup, type WorkerGroupEvents } from '../../src/service/workers.js';
import { defaultCrypto } from '../../src/utils/crypto/index.js';
import { encodePublicKey, generateKeyPair, readKeyFile } from '../../src/utils/keys.js';
import { silentLogger } from '../../src/utils/logger.js';
import { alive, ensureBuilt, root, until } from './workers-harness.js';

/** Workers log errors only, so that the test output stays readable; the key file is in `dir`. */
const config = () => ({ logging: { log_level: 'error' as const }, client: { auto_reconnect: false }, security: { key_file: join(dir, 'server.key') } });

let dir: string;
let dispatcherModule: string;
let groups: WorkerGroup[] = [];
let clients: Client[] = [];

beforeAll(() => {
  expect(ensureBuilt()).toEqual([]);
  dir = mkdtempSync(join(tmpdir(), 'npro-workers-lib-'));
  // A dispatcher module as a user would write one, importing npro's compiled entry.
  dispatcherModule = join(dir, 'handlers.mjs');
  const entry = pathToFileURL(join(root, 'dist', 'src', 'service', 'index.js')).href;
  writeFileSync(
    dispatcherModule,
    `import { Dispatcher } from ${JSON.stringify(entry)};\n` +
      `export function createDispatcher() {\n` +
      `  return new Dispatcher()\n` +
      `    .register('WORKER_PID', () => String(process.pid))\n` +
      `    .register('SLOW', () => new Promise((resolve) => setTimeout(() => resolve('done'), 600)));\n}\n`,
  );
}, 180_000);
afterEach(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  clients = [];
  await Promise.all(groups.map((g) => g.shutdown({ timeoutMs: 0 })));
  groups = [];
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function group(options: Partial<Parameters<typeof startWorkers>[0]> = {}): Promise<WorkerGroup> {
  const g = await startWorkers({ workers: 2, listen: ['tcp://127.0.0.1:0'], config: config(), logger: silentLogger(), dispatcherModule, ...options });
  groups.push(g);
  return g;
}

/** The pid answering `WORKER_PID` on each of `n` new connections. */
async function answeringPids(g: WorkerGroup, n: number): Promise<number[]> {
  const pids: number[] = [];
  for (let i = 0; i < n; i++) {
    const client = await Client.connect(g.addresses[0]!, { serverPublicKey: g.publicKey, logger: silentLogger(), config: config() });
    clients.push(client);
    pids.push(Number(Buffer.from(await client.request('WORKER_PID')).toString()));
  }
  return pids;
}

describe('startWorkers', () => {
  test('every worker serves the handlers of dispatcherModule with the given key; shutdown ends them all', async () => {
    const keys = generateKeyPair();
    const g = await group({ staticSecret: keys.secretKey });
    expect(g.publicKey).toBe(encodePublicKey(keys.publicKey));
    expect(g.pids).toHaveLength(2);
    expect(g.pids).not.toContain(process.pid);
    expect(new Set(await answeringPids(g, 6))).toEqual(new Set(g.pids));
    const pids = g.pids;
    // A request in flight when the shutdown starts is answered: the workers drain.
    const slow = clients[0]!.request('SLOW');
    await new Promise((resolve) => setTimeout(resolve, 200));
    const stopped = g.shutdown();
    expect(Buffer.from(await slow).toString()).toBe('done');
    await stopped;
    expect(await g.closed).toBeNull();
    expect(g.pids).toEqual([]);
    for (const pid of pids) expect(alive(pid)).toBe(false);
  }, 30_000);

  test('a dead worker is restarted with a doubling backoff; too many restarts within a minute stop the group', async () => {
    const g = await group({ maxRestartsPerMinute: 2 });
    // The key file was created once, by the primary, mode 0600.
    expect(statSync(join(dir, 'server.key')).mode & 0o777).toBe(0o600);
    expect(g.publicKey).toBe(encodePublicKey(defaultCrypto.x25519PublicKey(await readKeyFile(join(dir, 'server.key')))));
    const exits: WorkerGroupEvents['worker-exit'][] = [];
    const restarts: WorkerGroupEvents['worker-listening'][] = [];
    g.on('worker-exit', (e) => exits.push(e));
    g.on('worker-listening', (e) => restarts.push(e));
    const other = g.pids[1]!;
    for (let round = 1; round <= 2; round++) {
      const victim = g.pids[0]!;
      process.kill(victim, 'SIGKILL');
      await until(() => restarts.length === round, `restart ${round}`);
      expect(restarts[round - 1]).toMatchObject({ id: 1, restart: true });
      expect(g.pids).not.toContain(victim);
      expect(new Set(await answeringPids(g, 4))).toEqual(new Set([restarts[round - 1]!.pid, other]));
    }
    expect(exits.map((e) => [e.id, e.signal, e.restartInMs])).toEqual([
      [1, 'SIGKILL', 100],
      [1, 'SIGKILL', 200],
    ]);

    // The third restart within the minute is one too many: the group stops, workers and all.
    process.kill(g.pids[0]!, 'SIGKILL');
    const error = await g.closed;
    expect(NproError.is(error, 'INVALID_STATE')).toBe(true);
    expect(error!.details).toEqual({ reason: 'crash-loop' });
    expect(exits.at(2)).toMatchObject({ id: 1, restartInMs: null });
    expect(g.pids).toEqual([]);
    expect(alive(other)).toBe(false);
  }, 30_000);

  test('bad options are refused before any worker is forked', async () => {
    await expect(startWorkers({ workers: 0, logger: silentLogger() })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(startWorkers({ workers: 1.5, logger: silentLogger() })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(startWorkers({ workers: 2, listen: ['ftp://x:1'], logger: silentLogger() })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    await expect(startWorkers({ workers: 2, config: { server: { max_connections: 0 } }, logger: silentLogger() })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });

  test('a dispatcher module without createDispatcher() fails the start with CONFIG_INVALID, leaving no worker', async () => {
    const empty = join(dir, 'empty.mjs');
    writeFileSync(empty, 'export const nothing = 1;\n');
    const failed = startWorkers({ workers: 2, listen: ['tcp://127.0.0.1:0'], config: config(), logger: silentLogger(), dispatcherModule: empty });
    await expect(failed).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringMatching(/exports no createDispatcher\(\)/) });
    // Every worker forked for it has exited (the promise settles after their exit).
    expect(Object.keys(cluster.workers ?? {})).toEqual([]);
  }, 30_000);
});
