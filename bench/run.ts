/**
 * The performance suite runner:
 * `node dist/bench/run.js [group …] [--quick] [--runs N] [--systems a,b]` (or `npm run bench -- codec`).
 * With no group, every group runs. Progress goes to stderr, a markdown table to stdout, and the raw
 * rows of each group to `bench/results/<group>.json`.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { environment, formatTable, type BenchModule, type BenchOptions, type BenchRow } from './lib.js';

/** Group name → bench modules, run in order (paths relative to this file). */
export const GROUPS: Record<string, readonly string[]> = {
  codec: ['./codec.js'],
  crypto: ['./crypto-handshake.js', './crypto-records.js'],
  'crypto-primitives': ['./crypto-primitives.js'],
  rpc: ['./rpc.js'],
  connections: ['./connections.js'],
  pool: ['./pool.js'],
};

interface Args {
  groups: string[];
  quick: boolean;
  runs?: number;
  systems?: string[];
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { groups: [], quick: false };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.split('=', 2) as [string, string | undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    if (flag === '--quick') args.quick = true;
    else if (flag === '--runs') {
      const n = Number(value());
      if (!Number.isInteger(n) || n < 1) throw new Error('--runs takes a positive integer');
      args.runs = n;
    } else if (flag === '--systems') args.systems = value().split(',').filter(Boolean);
    else if (flag.startsWith('--')) throw new Error(`unknown option ${flag} (options: --quick, --runs N, --systems a,b)`);
    else if (flag in GROUPS) args.groups.push(flag);
    else throw new Error(`unknown group "${flag}" (groups: ${Object.keys(GROUPS).join(', ')})`);
  }
  if (args.groups.length === 0) args.groups = Object.keys(GROUPS);
  return args;
}

/** The repository root: the nearest directory above this file that holds package.json. */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) return process.cwd();
    dir = up;
  }
  return dir;
}

/** The module, or why it cannot run (a missing module is reported, not fatal). */
async function loadModule(path: string): Promise<BenchModule | string> {
  try {
    const mod = (await import(path)) as Partial<BenchModule>;
    return typeof mod.run === 'function' ? (mod as BenchModule) : `${path} exports no run()`;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    const missing = code === 'ERR_MODULE_NOT_FOUND' && String((err as Error).message).includes(path.slice(2));
    if (missing) return `${path} not found`;
    throw err;
  }
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const log = (line: string): void => {
    process.stderr.write(`${line}\n`);
  };
  const opts: BenchOptions = { quick: args.quick, log };
  if (args.runs !== undefined) opts.runs = args.runs;
  if (args.systems !== undefined) opts.systems = args.systems;
  const env = environment();
  const resultsDir = join(repoRoot(), 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  const all: BenchRow[] = [];
  const problems: string[] = [];
  for (const group of args.groups) {
    const rows: BenchRow[] = [];
    for (const path of GROUPS[group]!) {
      try {
        const mod = await loadModule(path);
        if (typeof mod === 'string') {
          log(`${group}: skipped: ${mod}`);
          problems.push(`${group}: ${mod}`);
          continue;
        }
        rows.push(...(await mod.run(opts)));
      } catch (err) {
        log(`${group}: ${path} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
        problems.push(`${group}: ${path} failed`);
      }
    }
    if (rows.length === 0) continue;
    all.push(...rows);
    const record = { group, date: new Date().toISOString(), quick: args.quick, ...env, rows };
    writeFileSync(join(resultsDir, `${group}.json`), `${JSON.stringify(record, null, 2)}\n`);
    log(`${group}: raw rows in bench/results/${group}.json`);
  }
  process.stdout.write(`${env.node}, ${env.cpus} × ${env.cpuModel}, ${env.platform}${args.quick ? ', --quick' : ''}\n\n`);
  process.stdout.write(`${formatTable(all)}\n`);
  for (const p of problems) process.stdout.write(`\nnot run: ${p}\n`);
  return problems.some((p) => p.endsWith('failed')) ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 2;
  },
);
