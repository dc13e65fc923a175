/**
 * The circuit breaker state machine of a pool endpoint (behaviour.md §3 `pool.breaker_failures`,
 * `pool.breaker_reset`; §4 Pool), driven by a manual clock.
 */
import { CircuitBreaker } from '../../src/service/breaker.js';
import { ManualTimers } from '../../src/utils/timers.js';

function breaker(failures = 3, resetMs = 1000) {
  const timers = new ManualTimers();
  const events: string[] = [];
  const b = new CircuitBreaker({
    failures, resetMs, timers,
    onOpen: () => events.push('open'),
    onHalfOpen: () => events.push('half-open'),
    onClose: () => events.push('close'),
  });
  return { b, timers, events };
}

test('closed: breaker_failures consecutive failures open it; a success in between resets the count', () => {
  const { b, events } = breaker(3);
  b.failure();
  b.failure();
  expect(b.failures).toBe(2);
  b.success();
  expect(b.failures).toBe(0);
  b.failure();
  b.failure();
  expect(b.state).toBe('closed');
  expect(b.allows).toBe(true);
  b.failure();
  expect(b.state).toBe('open');
  expect(b.allows).toBe(false);
  expect(b.failures).toBe(3);
  expect(events).toEqual(['open']);
});

test('open for breaker_reset, then half-open with exactly one probe', () => {
  const { b, timers, events } = breaker(1, 1000);
  timers.advance(50);
  b.failure();
  expect(b.retryAt).toBe(1050);
  expect(b.beginProbe()).toBe(false);
  timers.advance(999);
  expect(b.state).toBe('open');
  timers.advance(1);
  expect(b.state).toBe('half-open');
  expect(events).toEqual(['open', 'half-open']);
  expect(b.beginProbe()).toBe(true);
  expect(b.beginProbe()).toBe(false);
  expect(b.probing).toBe(true);
  expect(b.allows).toBe(false);
});

test('half-open: only the probe counts; its failure re-opens for another breaker_reset, its success closes', () => {
  const { b, timers, events } = breaker(2, 1000);
  b.failure();
  b.failure();
  timers.advance(1000);
  expect(b.beginProbe()).toBe(true);
  b.success();
  b.failure();
  expect(b.state).toBe('half-open');
  b.failure(true);
  expect(b.state).toBe('open');
  expect(b.retryAt).toBe(2000);
  expect(b.opens).toBe(2);
  timers.advance(1000);
  expect(b.state).toBe('half-open');
  expect(b.beginProbe()).toBe(true);
  b.success(true);
  expect(b.state).toBe('closed');
  expect(b.failures).toBe(0);
  expect(events).toEqual(['open', 'half-open', 'open', 'half-open', 'close']);
});

test('open: late results change nothing', () => {
  const { b, timers } = breaker(1, 1000);
  b.failure();
  b.success();
  b.success(true);
  b.failure();
  expect(b.state).toBe('open');
  expect(b.retryAt).toBe(1000);
  timers.advance(1000);
  expect(b.state).toBe('half-open');
});

test('stop() cancels the timer and ignores later reports', () => {
  const { b, timers } = breaker(1, 1000);
  b.failure();
  expect(timers.size).toBe(1);
  b.stop();
  expect(timers.size).toBe(0);
  timers.advance(5000);
  expect(b.state).toBe('open');
  b.success(true);
  expect(b.beginProbe()).toBe(false);
});
