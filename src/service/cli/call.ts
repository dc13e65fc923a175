/**
 * `npro call URL COMMAND [PAYLOAD]` and `npro ping URL [--count N]` (behaviour.md §2): one client
 * connection (handshake and trust as the configuration says, or `--server-key` pinning the key),
 * then one request or N pings. Failures are printed as `error CODE: message` on stderr, exit 1.
 */
import { performance } from 'node:perf_hooks';
import { NproError } from '../../core/errors.js';
import { fromHex, toHex, utf8Decoder, utf8Encoder } from '../../utils/bytes.js';
import { isPublicKeyText, type NetworkConfig } from '../../utils/config/index.js';
import { createLogger, type Logger } from '../../utils/logger.js';
import { Client } from '../client.js';
import { endpointArg, joinKeyValues, parseCommand, positiveInt } from './args.js';
import { loadCliConfig } from './config-cmd.js';
import { showHelp } from './help.js';
import { EXIT, println, resolvePath, UsageError, type CliIo, type ExitCode } from './io.js';

const CONNECT_OPTIONS = {
  config: { type: 'string', short: 'c' },
  'server-key': { type: 'string', short: 'k' },
  key: { type: 'string' },
} as const;

/** The options that take a public key, which may begin with `-`. */
const KEY_OPTIONS = ['-k', '--server-key'];

/**
 * The client's logger, on stderr so that stdout carries the response alone: warnings and errors
 * (a trust warning, a reconnect) at the default level `info`; `debug`/`trace`/`error` as configured.
 */
function clientLogger(config: NetworkConfig, io: CliIo): Logger {
  const level = config.logging.log_level;
  const shown = level === 'info' ? 'warn' : level;
  return createLogger({ ...config.logging, log_level: shown, log_to_console: true, log_to_file: false }, { destination: io.stderr });
}

async function connect(command: string, url: string, values: { config?: string; 'server-key'?: string; key?: string }, io: CliIo) {
  const key = values['server-key'];
  if (key !== undefined && !isPublicKeyText(key)) {
    throw new UsageError(`${command}: --server-key takes a public key (43 characters of unpadded base64url)`, command);
  }
  const config = loadCliConfig(io, values.config);
  const logger = clientLogger(config, io);
  try {
    const client = await Client.connect(url, {
      config,
      logger,
      ...(key === undefined ? {} : { serverPublicKey: key }),
      ...(values.key === undefined ? {} : { keyFile: resolvePath(io, values.key) }),
    });
    return { client, config, logger };
  } catch (err) {
    await logger.close();
    throw err;
  }
}

/** Printable UTF-8: no control characters other than tab, newline and carriage return. */
const UNPRINTABLE = /[\p{Cc}]/u;
const ALLOWED_CONTROLS = /[\t\n\r]/g;

/** The response as text when it is printable UTF-8, else `undefined`. */
export function printableText(bytes: Uint8Array): string | undefined {
  let text: string;
  try {
    text = utf8Decoder.decode(bytes);
  } catch {
    return undefined;
  }
  return UNPRINTABLE.test(text.replace(ALLOWED_CONTROLS, '')) ? undefined : text;
}

export async function callCommand(args: readonly string[], io: CliIo): Promise<ExitCode> {
  const options = {
    ...CONNECT_OPTIONS,
    timeout: { type: 'string' },
    hex: { type: 'boolean' },
    json: { type: 'boolean' },
    'payload-hex': { type: 'boolean' },
  } as const;
  const { values, positionals } = parseCommand('call', joinKeyValues(args, KEY_OPTIONS), options, { min: 2, max: 3, names: 'URL COMMAND [PAYLOAD]' });
  if (values.help === true) return showHelp(io, 'call');
  const [urlText, command, payloadText = ''] = positionals as [string, string, string?];
  const url = endpointArg('call', urlText, false);
  if (values.hex === true && values.json === true) throw new UsageError('call: --hex and --json do not go together', 'call');
  let payload: Uint8Array;
  try {
    payload = values['payload-hex'] === true ? fromHex(payloadText) : utf8Encoder.encode(payloadText);
  } catch {
    throw new UsageError('call: with --payload-hex, PAYLOAD is an even number of hex digits', 'call');
  }
  const timeout = values.timeout === undefined ? undefined : positiveInt('call', 'timeout', values.timeout, 0);

  const { client, config, logger } = await connect('call', url, values, io);
  let response: Uint8Array;
  let ms: number;
  try {
    const start = performance.now();
    response = await client.request(command, payload, { timeoutMs: timeout ?? config.client.response_timeout });
    ms = performance.now() - start;
  } finally {
    await client.close();
    await logger.close();
  }
  const text = values.hex === true ? undefined : printableText(response);
  if (values.json === true) {
    const body = text === undefined ? { hex: toHex(response) } : { text };
    println(io.stdout, JSON.stringify({ bytes: response.length, ...body, ms: Number(ms.toFixed(3)) }));
  } else if (response.length > 0) {
    const out = text ?? toHex(response);
    io.stdout.write(out.endsWith('\n') ? out : `${out}\n`);
  }
  return EXIT.OK;
}

export async function pingCommand(args: readonly string[], io: CliIo): Promise<ExitCode> {
  const options = {
    ...CONNECT_OPTIONS,
    count: { type: 'string', short: 'n' },
    interval: { type: 'string', short: 'i' },
  } as const;
  const { values, positionals } = parseCommand('ping', joinKeyValues(args, KEY_OPTIONS), options, { min: 1, max: 1, names: 'URL' });
  if (values.help === true) return showHelp(io, 'ping');
  const url = endpointArg('ping', positionals[0]!, false);
  const count = positiveInt('ping', 'count', values.count, 4);
  const interval = values.interval === '0' ? 0 : positiveInt('ping', 'interval', values.interval, 200);

  const { client, logger } = await connect('ping', url, values, io);
  const times: number[] = [];
  try {
    println(io.stdout, `PING ${url}`);
    for (let seq = 1; seq <= count; seq++) {
      if (seq > 1 && interval > 0) await new Promise((resolve) => setTimeout(resolve, interval));
      const ms = await client.ping();
      if (!Number.isFinite(ms)) throw new NproError('PROTOCOL_ERROR', 'ping returned no round-trip time');
      times.push(ms);
      println(io.stdout, `reply from ${url}: seq=${seq} time=${ms.toFixed(3)} ms`);
    }
  } finally {
    await client.close();
    await logger.close();
  }
  const min = Math.min(...times);
  const max = Math.max(...times);
  const avg = times.reduce((a, b) => a + b, 0) / times.length;
  println(io.stdout, `--- ${url}: ${count} sent, ${times.length} received, rtt min/avg/max = ${min.toFixed(3)}/${avg.toFixed(3)}/${max.toFixed(3)} ms`);
  return EXIT.OK;
}
