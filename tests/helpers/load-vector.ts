/** Reads a published test-vector file from tests/vectors/ (see tests/vectors/README.md). */
import { readFileSync } from 'node:fs';

export function loadVector<T>(file: string): T {
  return JSON.parse(readFileSync(new URL(`../vectors/${file}`, import.meta.url), 'utf8')) as T;
}
