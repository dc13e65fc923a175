/**
 * The `npro` command as a real process (`node bin/npro.js …`, behaviour.md §2): the daemon prints
 * its endpoints and public key, `npro call` against it prints `hi`, and SIGTERM ends the daemon
 * gracefully with exit 0, removing its Unix socket. The compiled files in dist/ are rebuilt first
 * only when a source file is newer than its output.
 */
import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bin, ensureBuilt, root } from '../helpers/build.js';

beforeAll(() => {
  expect(ensureBuilt()).toEqual([]);
}, 180_000);

/** The environment of the test process without NETWORK_PROTOCOL_* variables. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { NO_COLOR: '1' };
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('NETWORK_PROTOCOL_')) env[k] = v;
  return env;
}

function npro(args: string[], cwd: string, env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { cwd, env: { ...cleanEnv(), ...env }, timeout: 15_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

let dir: string;
let daemon: ChildProcessWithoutNullStreams | undefined;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'npro-proc-'));
});
afterEach(() => {
  if (daemon !== undefined && daemon.exitCode === null && daemon.signalCode === null) daemon.kill('SIGKILL');
  daemon = undefined;
  rmSync(dir, { recursive: true, force: true });
});

/** Collects a child's stdout and resolves once it matches `pattern`. */
function waitForOutput(child: ChildProcessWithoutNullStreams, pattern: RegExp, timeoutMs = 15_000): Promise<string> {
  let text = '';
  let errText = '';
  child.stderr.on('data', (chunk: Buffer) => void (errText += chunk.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${pattern} within ${timeoutMs} ms:\n${text}\n${errText}`)), timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (pattern.test(text)) {
        clearTimeout(timer);
        resolve(text);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before ${pattern}:\n${text}\n${errText}`));
    });
  });
}

describe('node bin/npro.js', () => {
  test('daemon: endpoints and key printed; call prints hi; ping; SIGTERM → exit 0, socket removed', async () => {
    const sock = join(dir, 'npro.sock');
    daemon = spawn(process.execPath, [bin, 'daemon', '--listen', 'tcp://127.0.0.1:0', '--listen', `unix://${sock}`], { cwd: dir, env: cleanEnv() });
    const exited = new Promise<number | null>((resolve) => daemon!.once('exit', (code) => resolve(code)));
    const out = await waitForOutput(daemon, /public key: [A-Za-z0-9_-]{43}\n/);
    const tcp = /npro daemon listening on (tcp:\/\/127\.0\.0\.1:\d+)\n/.exec(out)![1]!;
    const publicKey = /public key: ([A-Za-z0-9_-]{43})\n/.exec(out)![1]!;
    expect(out).toContain(`npro daemon listening on unix://${sock}\n`);
    expect(statSync(join(dir, '.npro', 'server.key')).mode & 0o777).toBe(0o600);
    expect(existsSync(sock)).toBe(true);

    expect(await npro(['call', tcp, 'ECHO', 'hi'], dir)).toEqual({ code: 0, stdout: 'hi\n', stderr: '' });
    // The process waited for the known_hosts write before exiting.
    expect(readFileSync(join(dir, '.npro', 'known_hosts'), 'utf8')).toBe(`${tcp} ${publicKey}\n`);
    const ping = await npro(['ping', `unix://${sock}`, '-n', '2', '-i', '0', '--server-key', publicKey], dir);
    expect(ping.code).toBe(0);
    expect(ping.stdout).toMatch(/2 sent, 2 received/);

    daemon.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(existsSync(sock)).toBe(false);
  }, 30_000);

  test('exit codes: --version 0, unknown command 2, server down 1', async () => {
    const version = await npro(['--version'], dir);
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toBe((JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version);
    const unknown = await npro(['nope'], dir);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^npro: unknown command "nope"/);
    // Port 9 (discard) on 127.0.0.1: nothing listens there in the test environment.
    const down = await npro(['call', 'tcp://127.0.0.1:9', 'ECHO', 'hi'], dir, { NETWORK_PROTOCOL_CLIENT_AUTO_RECONNECT: 'false' });
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/^error CONNECT_FAILED: /m);
  }, 30_000);
});
