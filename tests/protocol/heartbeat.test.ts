import { Heartbeat, IdleTimer } from '../../src/protocol/heartbeat.js';
import { ManualTimers } from '../../src/utils/timers.js';

function setup(intervalMs = 15_000, timeoutMs = 60_000) {
  const timers = new ManualTimers();
  const events: string[] = [];
  const hb = new Heartbeat({
    intervalMs,
    timeoutMs,
    timers,
    sendPing: () => events.push(`ping@${timers.now()}`),
    onTimeout: () => events.push(`timeout@${timers.now()}`),
  });
  return { timers, events, hb };
}

describe('Heartbeat (protocol.md §5)', () => {
  it('sends Ping after heartbeat_interval of silence and times out heartbeat_timeout later', () => {
    const { timers, events, hb } = setup();
    hb.start();
    timers.advance(14_999);
    expect(events).toEqual([]);
    timers.advance(1);
    expect(events).toEqual(['ping@15000']);
    timers.advance(59_999);
    expect(events).toEqual(['ping@15000']);
    timers.advance(1);
    expect(events).toEqual(['ping@15000', 'timeout@75000']);
    expect(timers.size).toBe(0);
  });

  it('traffic postpones the Ping by a full interval from the last record', () => {
    const { timers, events, hb } = setup();
    hb.start();
    timers.advance(10_000);
    hb.traffic();
    timers.advance(10_000);
    expect(events).toEqual([]);
    timers.advance(5_000);
    expect(events).toEqual(['ping@25000']);
  });

  it('a reply after the Ping cancels the timeout and starts a new interval', () => {
    const { timers, events, hb } = setup(1_000, 3_000);
    hb.start();
    timers.advance(1_000);
    timers.advance(500);
    hb.traffic(); // the Pong
    timers.advance(2_999);
    expect(events).toEqual(['ping@1000', 'ping@2500']);
    timers.advance(3_000);
    expect(events).toEqual(['ping@1000', 'ping@2500', 'timeout@5500']);
  });

  it('stop() cancels every timer', () => {
    const { timers, events, hb } = setup();
    hb.start();
    hb.stop();
    expect(timers.size).toBe(0);
    timers.advance(1_000_000);
    expect(events).toEqual([]);
  });
});

describe('IdleTimer (protocol.md §5 idle_timeout)', () => {
  it('fires after idle_timeout without application traffic', () => {
    const timers = new ManualTimers();
    let fired = 0;
    const idle = new IdleTimer({ idleMs: 1_000, timers, onIdle: () => fired++ });
    idle.start();
    timers.advance(600);
    idle.activity();
    timers.advance(600);
    expect(fired).toBe(0);
    timers.advance(400);
    expect(fired).toBe(1);
    timers.advance(10_000);
    expect(fired).toBe(1);
  });

  it('does not run while a request is in flight, and restarts when the last one settles', () => {
    const timers = new ManualTimers();
    let fired = 0;
    const idle = new IdleTimer({ idleMs: 1_000, timers, onIdle: () => fired++ });
    idle.start();
    idle.requestStarted();
    idle.requestStarted();
    timers.advance(5_000);
    expect(fired).toBe(0);
    idle.requestSettled();
    timers.advance(5_000);
    expect(fired).toBe(0);
    idle.requestSettled();
    timers.advance(999);
    expect(fired).toBe(0);
    timers.advance(1);
    expect(fired).toBe(1);
  });

  it('idle_timeout 0 disables it', () => {
    const timers = new ManualTimers();
    let fired = 0;
    const idle = new IdleTimer({ idleMs: 0, timers, onIdle: () => fired++ });
    idle.start();
    timers.advance(1e9);
    expect(fired).toBe(0);
    expect(timers.size).toBe(0);
  });
});
