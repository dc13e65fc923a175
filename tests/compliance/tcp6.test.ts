import { runTransportCompliance } from './transport-suite.js';

runTransportCompliance('tcp (::1)', () => ({ listenUrl: 'tcp://[::1]:0', transport: 'tcp', protected: false }));
