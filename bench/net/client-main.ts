/**
 * Client child process of the network bench: `node [--expose-gc] dist/bench/net/client-main.js`,
 * forked by the harness with an IPC channel. On `run` it connects to the given endpoint, runs its
 * tasks in order (see `scenarios.ts`), reports `result` and exits. It exits as well when the parent
 * goes away, or after a hard lifetime cap.
 */
import { toParent, type ClientCommand, type TaskResult } from './ipc.js';
import { runTask, type Hold } from './scenarios.js';
import { findSystem } from './systems.js';

/** A client child never outlives this, whatever happens to its parent. */
const LIFETIME_MS = 60 * 60_000;

let release: (() => void) | null = null;

const hold: Hold = (stage, info) =>
  new Promise<void>((resolve) => {
    release = resolve;
    void toParent({ type: 'hold', stage, info });
  });

async function run(command: Extract<ClientCommand, { type: 'run' }>): Promise<void> {
  const system = await findSystem(command.system);
  const results: TaskResult[] = [];
  for (const task of command.tasks) results.push(await runTask(system, command.url, command.ctx, task, hold));
  await toParent({ type: 'result', results });
  process.exit(0);
}

process.on('message', (command: ClientCommand) => {
  if (command.type === 'release') {
    const resume = release;
    release = null;
    resume?.();
    return;
  }
  run(command).catch(async (e: unknown) => {
    await toParent({ type: 'error', message: e instanceof Error ? (e.stack ?? e.message) : String(e) });
    process.exit(1);
  });
});
process.on('disconnect', () => process.exit(0));
setTimeout(() => process.exit(2), LIFETIME_MS).unref();
