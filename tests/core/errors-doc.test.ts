import { readFileSync } from 'node:fs';
import { ERROR_CODES } from '../../src/core/errors.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

/** Rows of the README's error table: `| number | `CODE` | meaning |`. */
function documentedCodes(): Map<string, number> {
  const rows = new Map<string, number>();
  for (const m of readme.matchAll(/^\|\s*(\d+)\s*\|\s*`([A-Z_]+)`\s*\|\s*(.+?)\s*\|\s*$/gm)) {
    rows.set(m[2]!, Number(m[1]));
  }
  return rows;
}

describe('error codes are documented', () => {
  const rows = documentedCodes();

  it.each(Object.entries(ERROR_CODES))('%s (%i) has a row in the README error table with its number', (code, n) => {
    expect(rows.get(code)).toBe(n);
  });

  it('documents no code that does not exist', () => {
    for (const code of rows.keys()) expect(Object.keys(ERROR_CODES)).toContain(code);
  });
});
