import { runTransportCompliance } from './transport-suite.js';

runTransportCompliance('tcp (127.0.0.1)', () => ({ listenUrl: 'tcp://127.0.0.1:0', transport: 'tcp', protected: false }));
