/** The code sample of the README's quick start, run as written but for port 0 instead of 9000 and an in-memory key instead of .npro/server.key. */
import { Daemon, Client, Dispatcher, silentLogger } from '../../src/service/index.js';

describe('README quick start sample', () => {
  it('registers a handler, starts a daemon, pins its key and gets the answer', async () => {
    const dispatcher = new Dispatcher().register('HELLO', (payload) => `hello, ${new TextDecoder().decode(payload)}`);
    const daemon = await Daemon.start({
      dispatcher,
      listen: ['tcp://127.0.0.1:0'],
      logger: silentLogger(),
      staticSecret: crypto.getRandomValues(new Uint8Array(32)),
    });
    try {
      const client = await Client.connect(daemon.addresses[0]!, { serverPublicKey: daemon.publicKey, logger: silentLogger() });
      try {
        expect(new TextDecoder().decode(await client.request('HELLO', 'npro'))).toBe('hello, npro');
      } finally {
        await client.close();
      }
    } finally {
      await daemon.shutdown();
    }
  });
});
