import { tlsFixture, type TlsFixture } from '../helpers/certs.js';
import { runTransportCompliance } from './transport-suite.js';

let certs: TlsFixture;

beforeAll(async () => {
  certs = await tlsFixture();
});

runTransportCompliance('tls (127.0.0.1)', () => ({
  listenUrl: 'tls://127.0.0.1:0',
  listenOptions: { tls: { cert: certs.server.cert, key: certs.server.key } },
  connectOptions: { tls: { ca: certs.ca.cert } },
  transport: 'tls',
  protected: true,
}));
