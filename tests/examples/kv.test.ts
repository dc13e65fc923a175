/**
 * The key-value example (examples/): the service started in-process on 127.0.0.1 port 0, the
 * client's demo run against it, and the handlers' errors and cancellation checked one by one.
 */
import { startKvService, type KvService } from '../../examples/kv-service.js';
import { KvStore } from '../../examples/kv-store.js';
import { KvClient, runDemo } from '../../examples/kv-client.js';
import { NproError } from '../../src/core/errors.js';
import { generateKeyPair } from '../../src/utils/keys.js';
import { silentLogger } from '../../src/utils/logger.js';

let service: KvService;
let kv: KvClient;

beforeEach(async () => {
  service = await startKvService({
    listen: ['tcp://127.0.0.1:0'],
    store: new KvStore(5),
    staticSecret: generateKeyPair().secretKey,
    logger: silentLogger(),
  });
  kv = await KvClient.connect(service.daemon.addresses[0], { serverPublicKey: service.daemon.publicKey, logger: silentLogger() });
});

afterEach(async () => {
  await kv.close();
  await service.daemon.shutdown({ timeoutMs: 0 });
});

async function codeOf(call: Promise<unknown>): Promise<string> {
  try {
    await call;
  } catch (err) {
    if (NproError.is(err)) return err.code;
    throw err;
  }
  throw new Error('the call succeeded');
}

async function eventually(condition: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('kv example', () => {
  test('the client demo sees every command work', async () => {
    const lines: string[] = [];
    const result = await runDemo(kv, (line) => lines.push(line));
    expect(result).toEqual({
      greeting: 'hello',
      missing: null,
      keys: ['greeting', 'language'],
      waited: 'yes',
      cancelledCode: 'DEADLINE_EXCEEDED',
      malformedCode: 'MESSAGE_MALFORMED',
      deleted: [true, false],
    });
    expect(lines).toContain('GET greeting → "hello"');
    expect(service.store.keys()).toEqual(['language', 'ready']);
    // The cancelled WAIT's handler saw ctx.signal abort and removed its waiter.
    await eventually(() => service.store.waiting === 0);
  });

  test('SET returns the previous value; KEYS filters by prefix', async () => {
    expect(await kv.set('a/1', 'x')).toBeNull();
    expect(await kv.set('a/1', 'y')).toBe('x');
    await kv.set('a/2', 'z');
    await kv.set('b/1', 'w');
    expect(await kv.keys('a/')).toEqual(['a/1', 'a/2']);
    expect(await kv.get('a/1')).toBe('y');
  });

  test('handler errors arrive with their codes', async () => {
    const client = kv.client;
    expect(await codeOf(client.request('SET', 'not json'))).toBe('MESSAGE_MALFORMED');
    expect(await codeOf(client.request('SET', '{"key":"k"}'))).toBe('MESSAGE_MALFORMED');
    expect(await codeOf(client.request('GET', new Uint8Array([0xff, 0xfe])))).toBe('MESSAGE_MALFORMED');
    expect(await codeOf(kv.get('k'.repeat(257)))).toBe('MESSAGE_MALFORMED');
    expect(await codeOf(client.request('WAIT', '{"key":"k","timeoutMs":0}'))).toBe('MESSAGE_MALFORMED');
    expect(await codeOf(client.request('NOPE', ''))).toBe('UNKNOWN_OPCODE');
    for (let i = 0; i < 5; i++) await kv.set(`k${i}`, 'v');
    expect(await codeOf(kv.set('one-too-many', 'v'))).toBe('SERVER_BUSY');
    expect(await kv.set('k0', 'replaced')).toBe('v');
  });

  test('WAIT: the service gives up after its timeout; a closed connection aborts the handler', async () => {
    expect(await codeOf(kv.wait('late', 50))).toBe('DEADLINE_EXCEEDED');
    expect(service.store.waiting).toBe(0);

    const other = await KvClient.connect(service.daemon.addresses[0], { serverPublicKey: service.daemon.publicKey, logger: silentLogger() });
    const pending = other.wait('never', 30_000).catch((err: unknown) => err);
    await eventually(() => service.store.waiting === 1);
    await other.close();
    expect(NproError.is(await pending)).toBe(true);
    await eventually(() => service.store.waiting === 0);
  });

  test('many WAITs on one connection are answered by one SET', async () => {
    const waits = Array.from({ length: 10 }, () => kv.wait('go', 5000));
    await eventually(() => service.store.waiting === 10);
    await kv.set('go', 'now');
    expect(await Promise.all(waits)).toEqual(Array(10).fill('now'));
  });
});
