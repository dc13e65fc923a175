/**
 * `DeadlineQueue`: one timer for every request deadline of a client, armed per deadline period
 * rather than per request.
 */
import { DeadlineQueue } from '../../src/service/deadlines.js';
import { ManualTimers } from '../../src/utils/timers.js';

interface Item {
  name: string;
  deadline: number;
  settled: boolean;
}

function setup() {
  const timers = new ManualTimers();
  const expired: string[] = [];
  let armed = 0;
  const counting = { now: () => timers.now(), setTimeout: (fn: () => void, ms: number) => (armed++, timers.setTimeout(fn, ms)) };
  const queue = new DeadlineQueue<Item>(counting, (item) => expired.push(item.name));
  const item = (name: string, timeout: number): Item => ({ name, deadline: timers.now() + timeout, settled: false });
  const settle = (i: Item): void => {
    i.settled = true;
    queue.settled(i);
  };
  return { timers, queue, expired, item, settle, armed: () => armed };
}

describe('DeadlineQueue', () => {
  it('arms one timer for a run of sequential requests with the same timeout, and expires only what is due', () => {
    const { timers, queue, expired, item, settle, armed } = setup();
    for (let k = 0; k < 100; k++) {
      const r = item(`r${k}`, 1000);
      queue.add(r);
      timers.advance(1);
      settle(r);
    }
    expect(armed()).toBe(1);
    expect(queue.size).toBe(0);
    const last = item('last', 1000);
    queue.add(last);
    timers.advance(1000);
    // The first timer fired at 1000 with nothing due, re-armed for `last`, which has now expired.
    expect(expired).toEqual(['last']);
    expect(armed()).toBe(2);
    expect(timers.size).toBe(0);
  });

  it('re-arms for an earlier deadline and expires entries in deadline order', () => {
    const { timers, queue, expired, item } = setup();
    queue.add(item('slow', 500));
    queue.add(item('fast', 100));
    queue.add(item('mid', 300));
    timers.advance(100);
    expect(expired).toEqual(['fast']);
    timers.advance(400);
    expect(expired).toEqual(['fast', 'mid', 'slow']);
    expect(queue.size).toBe(0);
  });

  it('never expires a settled entry, even when the timer outlives it', () => {
    const { timers, queue, expired, item, settle } = setup();
    const a = item('a', 50);
    queue.add(a);
    settle(a);
    expect(timers.size).toBe(1);
    timers.advance(60);
    expect(expired).toEqual([]);
    expect(timers.size).toBe(0);
  });
});
