import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTransportCompliance } from './transport-suite.js';

const dir = mkdtempSync(join(tmpdir(), 'npro-unix-'));
let n = 0;

afterAll(() => rmSync(dir, { recursive: true, force: true }));

runTransportCompliance('unix (path)', () => ({
  listenUrl: `unix://${join(dir, `s${n++}.sock`)}`,
  transport: 'unix',
  protected: true,
}));
