/**
 * The registry of measured systems. npro's own entries live in an
 * optional module, `./npro-system.js`, exporting `systems: System[]` (see `system.ts` for how to
 * write one); until it exists the suite reports it as missing and measures the others.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { grpcStreamSystem, grpcUnarySystem } from './grpc-system.js';
import { tcpSystem, tlsSystem, unixSystem } from './stream-system.js';
import type { System } from './system.js';
import { wsSystem } from './ws-system.js';

/** The baseline systems, ceiling first (ratios are taken against `tcp`). */
export const BUILTIN_SYSTEMS: readonly System[] = [tcpSystem, unixSystem, tlsSystem, wsSystem, grpcUnarySystem, grpcStreamSystem];

/** The system every ratio is taken against. */
export const REFERENCE_SYSTEM = 'tcp';

/** Modules that add systems when they exist (loaded relative to this file). */
const OPTIONAL_MODULES = ['./npro-system.js'] as const;

/** Whether the optional module exists beside this file (compiled `.js`, or `.ts` when run from sources). */
function present(spec: string): boolean {
  const url = new URL(spec, import.meta.url);
  return existsSync(fileURLToPath(url)) || existsSync(fileURLToPath(url).replace(/\.js$/, '.ts'));
}

/** Systems available here, with a note for each optional module that is missing. */
export async function loadSystems(): Promise<{ systems: System[]; missing: string[] }> {
  const systems = [...BUILTIN_SYSTEMS];
  const missing: string[] = [];
  for (const spec of OPTIONAL_MODULES) {
    const source = spec.replace('./', 'bench/net/').replace(/\.js$/, '.ts');
    if (!present(spec)) {
      missing.push(`${source} is not there yet`);
      continue;
    }
    const path: string = spec;
    const mod = (await import(path)) as { systems?: System[] };
    if (!Array.isArray(mod.systems)) throw new Error(`${source} must export \`systems: System[]\``);
    systems.push(...mod.systems);
  }
  return { systems, missing };
}

/** The system called `name`, or an error listing the known names. */
export async function findSystem(name: string): Promise<System> {
  const { systems } = await loadSystems();
  const found = systems.find((s) => s.name === name);
  if (found === undefined) throw new Error(`unknown system "${name}"; known: ${systems.map((s) => s.name).join(', ')}`);
  return found;
}
