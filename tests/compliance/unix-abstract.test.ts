import { randomBytes } from 'node:crypto';
import { runTransportCompliance } from './transport-suite.js';

const prefix = `npro-test-${process.pid}-${randomBytes(4).toString('hex')}`;
let n = 0;

runTransportCompliance('unix (abstract name)', () => ({
  listenUrl: `unix://@${prefix}-${n++}`,
  transport: 'unix',
  protected: true,
}));
