/**
 * Durations in configuration (behaviour.md §3): integer milliseconds, as the crate writes them, or a
 * string of one or more `<number><unit>` parts such as `"5s"`, `"150ms"`, `"1.5s"`, `"1h30m"`.
 *
 * Units: `ms`, `s`, `m`, `h`. A string holding only digits is milliseconds (so an environment
 * variable `"5000"` reads like the integer `5000`). The result must be a whole number of
 * milliseconds no larger than {@link MAX_DURATION_MS}.
 */

/**
 * The longest duration accepted anywhere: 2^31 − 1 ms (about 24.8 days), the longest delay a Node.js
 * timer honours. A longer value would make `setTimeout` fire at once, so it is refused here.
 */
export const MAX_DURATION_MS = 2_147_483_647;

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

const PART = /(\d+(?:\.\d+)?)\s*(ms|s|m|h)/y;

/** The outcome of reading a duration: the milliseconds, or why the value is not a duration. */
export type DurationResult = { ok: true; ms: number } | { ok: false; reason: string };

/** Reads a configured duration (number of milliseconds or a string with units). Never throws. */
export function parseDuration(value: unknown): DurationResult {
  if (typeof value === 'number') return checkMs(value, String(value));
  if (typeof value !== 'string') {
    return { ok: false, reason: `expected a duration (integer milliseconds or a string like "5s"), got ${describe(value)}` };
  }
  const text = value.trim();
  if (text === '') return { ok: false, reason: 'expected a duration, got an empty string' };
  if (/^\d+$/.test(text)) return checkMs(Number(text), JSON.stringify(value));
  let total = 0;
  let at = 0;
  while (at < text.length) {
    PART.lastIndex = at;
    const m = PART.exec(text);
    if (m === null) {
      return {
        ok: false,
        reason: `${JSON.stringify(value)} is not a duration (use milliseconds or a number with unit ms, s, m or h, e.g. "5s")`,
      };
    }
    total += Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
    at = PART.lastIndex;
    while (text[at] === ' ') at++;
  }
  // 1.5s = 1500 exactly, but floating point may leave 1499.9999999; round below a microsecond.
  const rounded = Math.round(total * 1000) / 1000;
  return checkMs(rounded, JSON.stringify(value));
}

function checkMs(ms: number, shown: string): DurationResult {
  if (!Number.isFinite(ms)) return { ok: false, reason: `${shown} is not a finite duration` };
  if (ms < 0) return { ok: false, reason: `${shown} is negative; a duration is 0 or more` };
  if (!Number.isInteger(ms)) return { ok: false, reason: `${shown} is not a whole number of milliseconds` };
  if (ms > MAX_DURATION_MS) {
    return { ok: false, reason: `${shown} is longer than ${MAX_DURATION_MS} ms (about 24.8 days), the longest timer Node.js supports` };
  }
  return { ok: true, ms };
}

/**
 * A short human form of `ms` for messages and documentation: `"150ms"`, `"5s"`, `"2m"`, `"1h"`,
 * falling back to milliseconds when no larger unit divides it.
 */
export function formatDuration(ms: number): string {
  if (ms !== 0 && ms % UNIT_MS.h === 0) return `${ms / UNIT_MS.h}h`;
  if (ms !== 0 && ms % UNIT_MS.m === 0) return `${ms / UNIT_MS.m}m`;
  if (ms !== 0 && ms % UNIT_MS.s === 0) return `${ms / UNIT_MS.s}s`;
  return `${ms}ms`;
}

/** How a value of unknown type is named in a message ("a string", "a boolean", "an array", …). */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Date) return 'a date';
  switch (typeof value) {
    case 'string':
      return `the string ${JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value)}`;
    case 'number':
      return Number.isInteger(value) ? `the integer ${value}` : `the number ${value}`;
    case 'boolean':
      return `the boolean ${value}`;
    case 'bigint':
      return `the integer ${value}`;
    case 'object':
      return 'a table';
    default:
      return `a ${typeof value}`;
  }
}
