/**
 * Server child process of the network bench: `node [--expose-gc] dist/bench/net/server-main.js`,
 * forked by the harness with an IPC channel. It starts the named system's echo server on a
 * `start` command, reports `ready` with the endpoint URL, answers `memory` with its RSS and heap
 * after collection, and exits on `stop`, when the parent goes away, or after a hard lifetime cap.
 */
import { readMemory, toParent, type ServerCommand } from './ipc.js';
import { findSystem } from './systems.js';
import type { RunningServer } from './system.js';

/** A server child never outlives this, whatever happens to its parent. */
const LIFETIME_MS = 60 * 60_000;

let server: RunningServer | null = null;

async function stop(code: number): Promise<never> {
  const closing = server?.close();
  server = null;
  await Promise.race([closing, new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
  process.exit(code);
}

async function handle(command: ServerCommand): Promise<void> {
  switch (command.type) {
    case 'start': {
      const system = await findSystem(command.system);
      server = await system.startServer(command.ctx);
      await toParent({ type: 'ready', url: server.url });
      return;
    }
    case 'memory':
      await toParent({ type: 'memory', ...(await readMemory(() => server?.connections() ?? null)) });
      return;
    case 'stop':
      await stop(0);
  }
}

process.on('message', (command: ServerCommand) => {
  handle(command).catch(async (e: unknown) => {
    await toParent({ type: 'error', message: e instanceof Error ? (e.stack ?? e.message) : String(e) });
    await stop(1);
  });
});
process.on('disconnect', () => void stop(0));
setTimeout(() => void stop(2), LIFETIME_MS).unref();
