import { NproError, WIRE_CODES, ERROR_CODES, codeNumber } from '../../src/core/errors.js';

describe('NproError', () => {
  it('carries a stable code and its wire number', () => {
    const e = new NproError('BAD_MAGIC', 'bad magic');
    expect(e).toBeInstanceOf(Error);
    expect(e.code).toBe('BAD_MAGIC');
    expect(e.number).toBe(1);
    expect(NproError.is(e)).toBe(true);
    expect(NproError.is(e, 'BAD_MAGIC')).toBe(true);
    expect(NproError.is(e, 'FRAME_TOO_LARGE')).toBe(false);
    expect(NproError.is(new Error('x'))).toBe(false);
  });

  it('numbers wire codes 1..30 without gaps or reuse', () => {
    const numbers = Object.values(WIRE_CODES).sort((a, b) => a - b);
    expect(numbers).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    const all = Object.values(ERROR_CODES);
    expect(new Set(all).size).toBe(all.length);
    for (const [code, n] of Object.entries(ERROR_CODES)) {
      if (!(code in WIRE_CODES)) expect(n).toBeGreaterThanOrEqual(100);
    }
  });

  it('maps a received REJECT number to its code, and an unknown one to HANDSHAKE_FAILED keeping the number', () => {
    expect(NproError.fromWireNumber(8, 'stale').code).toBe('STALE_TIMESTAMP');
    const unknown = NproError.fromWireNumber(77, 'x');
    expect(unknown.code).toBe('HANDSHAKE_FAILED');
    expect(unknown.number).toBe(77);
    expect(codeNumber('NOPE')).toBe(0);
    expect(codeNumber('ADDRESS_IN_USE')).toBe(30);
  });

  it('keeps the cause', () => {
    const cause = new Error('inner');
    expect(new NproError('TLS_ERROR', 'outer', { cause }).cause).toBe(cause);
  });
});
