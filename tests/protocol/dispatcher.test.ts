import { Dispatcher, routeServerMessage, invokeHandler, type HandlerContext } from '../../src/protocol/dispatcher.js';
import { NproError } from '../../src/core/errors.js';
import type { Message } from '../../src/core/message.js';

const bytes = (...b: number[]) => new Uint8Array(b);
const ctx = (): HandlerContext => ({
  signal: new AbortController().signal,
  deadline: undefined,
  peer: { publicKey: new Uint8Array(32), publicKeyText: 'A'.repeat(43), address: '127.0.0.1:1' },
  sessionId: '00'.repeat(32),
  log: { debug() {}, info() {}, warn() {}, error() {} },
  command: 'X',
  requestId: 1,
});

describe('routeServerMessage (protocol.md §5 routing table)', () => {
  const d = new Dispatcher().register('ADD', (p) => bytes(p[0]! + p[1]!));

  const cases: Array<[string, Message, unknown]> = [
    ['Ping → Pong', { type: 'Ping' }, { kind: 'reply', message: { type: 'Pong' } }],
    ['Custom PING → Pong', { type: 'Custom', command: 'PING', payload: bytes(1) }, { kind: 'reply', message: { type: 'Pong' } }],
    ['Echo → Echo', { type: 'Echo', text: 'hi' }, { kind: 'reply', message: { type: 'Echo', text: 'hi' } }],
    ['Custom ECHO → Custom ECHO', { type: 'Custom', command: 'ECHO', payload: bytes(1, 2) }, { kind: 'reply', message: { type: 'Custom', command: 'ECHO', payload: bytes(1, 2) } }],
    ['Custom without handler → Failure{0, UNKNOWN_OPCODE}', { type: 'Custom', command: 'NOPE', payload: bytes() }, { kind: 'reply', message: expect.objectContaining({ type: 'Failure', id: 0, code: 'UNKNOWN_OPCODE' }) }],
    ['Unknown → Failure{0, UNKNOWN_OPCODE}', { type: 'Unknown' }, { kind: 'reply', message: expect.objectContaining({ type: 'Failure', id: 0, code: 'UNKNOWN_OPCODE' }) }],
    ['tag 4 → Failure{0, UNKNOWN_OPCODE}', { type: 'SecureHandshakeConfirm', nonceVerification: new Uint8Array(32) }, { kind: 'reply', message: expect.objectContaining({ code: 'UNKNOWN_OPCODE' }) }],
    ['Cancel → cancel', { type: 'Cancel', id: 4 }, { kind: 'cancel', id: 4 }],
    ['Disconnect → disconnect', { type: 'Disconnect' }, { kind: 'disconnect' }],
    ['Pong → drop', { type: 'Pong' }, { kind: 'drop' }],
    ['Response → drop', { type: 'Response', id: 1, payload: bytes() }, { kind: 'drop' }],
    ['Failure → drop', { type: 'Failure', id: 1, code: 'X', message: '' }, { kind: 'drop' }],
    ['GoAway → drop', { type: 'GoAway', lastId: 0, reason: '' }, { kind: 'drop' }],
  ];
  it.each(cases)('%s', (_name, m, expected) => {
    expect(routeServerMessage(m, d)).toEqual(expected);
  });

  it('routes Custom and Request with a handler to it, and Request without a handler with none', () => {
    const c = routeServerMessage({ type: 'Custom', command: 'ADD', payload: bytes(1, 2) }, d);
    expect(c.kind).toBe('custom');
    const r = routeServerMessage({ type: 'Request', id: 3, command: 'ADD', payload: bytes(1, 2) }, d);
    expect(r).toMatchObject({ kind: 'request', id: 3, command: 'ADD' });
    expect(r.kind === 'request' && r.handler).toBe(d.lookup('ADD'));
    const u = routeServerMessage({ type: 'Request', id: 4, command: 'NOPE', payload: bytes() }, d);
    expect(u).toMatchObject({ kind: 'request', id: 4, handler: undefined });
  });

  it('answers Request PING with an empty payload and Request ECHO with the payload', async () => {
    const p = routeServerMessage({ type: 'Request', id: 1, command: 'PING', payload: bytes(9) }, d);
    const e = routeServerMessage({ type: 'Request', id: 2, command: 'ECHO', payload: bytes(7, 8) }, d);
    if (p.kind !== 'request' || e.kind !== 'request') throw new Error('not routed as requests');
    expect(await invokeHandler(p.handler!, p.payload, ctx())).toEqual({ ok: true, payload: bytes() });
    expect(await invokeHandler(e.handler!, e.payload, ctx())).toEqual({ ok: true, payload: bytes(7, 8) });
  });
});

describe('Dispatcher', () => {
  it('refuses built-ins, duplicates and empty opcodes', () => {
    const d = new Dispatcher().register('A', () => undefined);
    for (const op of ['PING', 'ECHO', 'A', '']) {
      expect(() => d.register(op, () => undefined)).toThrow(NproError);
    }
    expect(d.opcodes()).toEqual(['A']);
    expect(d.unregister('A')).toBe(true);
    expect(d.lookup('A')).toBeUndefined();
  });
});

describe('invokeHandler', () => {
  it('settles sync results without a promise and async ones with one', async () => {
    const sync = invokeHandler(() => 'ok', bytes(), ctx());
    expect(sync).toEqual({ ok: true, payload: new TextEncoder().encode('ok') });
    const asyncR = invokeHandler(async () => bytes(1), bytes(), ctx());
    expect(asyncR).toBeInstanceOf(Promise);
    expect(await asyncR).toEqual({ ok: true, payload: bytes(1) });
  });

  it('keeps an NproError code and hides other errors behind HANDLER_ERROR', async () => {
    const coded = invokeHandler(() => {
      throw new NproError('DEADLINE_EXCEEDED', 'too slow');
    }, bytes(), ctx());
    expect(coded).toMatchObject({ ok: false, code: 'DEADLINE_EXCEEDED', message: 'too slow' });
    const plain = await invokeHandler(async () => {
      throw new Error('/secret/path missing');
    }, bytes(), ctx());
    expect(plain).toMatchObject({ ok: false, code: 'HANDLER_ERROR' });
    expect(plain.ok === false && plain.message).not.toContain('/secret/path');
    const bad = invokeHandler(() => 42 as unknown as Uint8Array, bytes(), ctx());
    expect(bad).toMatchObject({ ok: false, code: 'HANDLER_ERROR' });
  });
});
