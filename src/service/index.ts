/**
 * npro's public entry (behaviour.md §1): the daemon and the client, the dispatcher, configuration,
 * errors, and the building blocks each usable on its own (frame and message codec, the Noise XX
 * handshake state machines, records, compression, keys).
 */

// Daemon and client.
export { Daemon } from './daemon.js';
export type { ConnectionClosedEvent, ConnectionEvent, DaemonEvents, DaemonOptions, SessionErrorEvent } from './daemon.js';
export { Client, backoffDelay, MAX_BACKOFF_MS } from './client.js';
export type { ClientEvents, ClientOptions, ClientTlsOptions, RequestOptions } from './client.js';
export type { SessionHooks, TlsMaterial } from './options.js';
export type { ClientStats, DaemonStats } from './stats.js';
export { LINGER_MS } from './session-core.js';

// Handlers.
export { Dispatcher, BUILTIN_COMMANDS } from '../protocol/dispatcher.js';
export type { Handler, HandlerContext, HandlerLog, HandlerResult, PeerInfo } from '../protocol/dispatcher.js';

// Configuration and logging.
export { NetworkConfig, exampleToml } from '../utils/config/index.js';
export type { ConfigProblem, LoadOptions, NetworkConfigInput } from '../utils/config/index.js';
export { createLogger, silentLogger } from '../utils/logger.js';
export type { LogLevel, Logger } from '../utils/logger.js';

// Errors.
export { NproError, ERROR_CODES, WIRE_CODES, LOCAL_CODES, isErrorCode, codeNumber } from '../core/errors.js';
export type { ErrorCode, LocalErrorCode, WireErrorCode, NproErrorOptions } from '../core/errors.js';

// Frames and messages (protocol.md §1, §2).
export { MAGIC, HEADER_SIZE, VERSION_V1, VERSION_V2, MAX_PAYLOAD, PRE_HANDSHAKE_MAX_PAYLOAD, encodeFrame, encodeHeader } from '../core/frame.js';
export type { FrameVersion } from '../core/frame.js';
export { FrameDecoder } from '../core/frame-decoder.js';
export type { DecodedFrame, FrameDecoderOptions } from '../core/frame-decoder.js';
export { MESSAGE_TAGS } from '../core/message.js';
export type { Message, MessageOf, MessageType } from '../core/message.js';
export { decodeMessage, encodeMessage, encodeMessageInto, encodedLength, MAX_MESSAGE_ID } from '../core/message-codec.js';

// Handshake and records (protocol.md §3, §4, §7).
export { ClientHandshake, ServerHandshake } from '../protocol/handshake.js';
export type { HandshakeResult, ServerHandshakeResult, HandshakeRefusal, HandshakeStep } from '../protocol/handshake.js';
export { FEATURES, HANDSHAKE_KIND, encodeRejectFrame, decodeReject } from '../protocol/handshake-messages.js';
export { RecordSealer, RecordOpener, REKEY_INTERVAL, MAX_RECORD_COUNTER } from '../protocol/record.js';
export type { CompressionSettings, RecordItem } from '../protocol/record.js';
export { V1ClientHandshake, V1ServerHandshake, sealV1Record, openV1Record, encodeV1PlainFrame } from '../protocol/v1.js';

// Compression, keys, crypto.
export { initCompression, lz4CompressBlock, lz4DecompressBlock, zstdCompress, zstdDecompress, lz4FrameCompress, lz4FrameDecompress } from '../utils/compression/index.js';
export { generateKeyPair, encodePublicKey, parsePublicKey, readKeyFile, writeKeyFile, loadOrCreateKeyFile } from '../utils/keys.js';
export type { KeyPair } from '../utils/keys.js';
export { defaultCrypto, nobleCrypto, nodeCrypto } from '../utils/crypto/index.js';
export type { CryptoProvider } from '../utils/crypto/index.js';

// Transports (endpoint URLs).
export { parseEndpoint, formatEndpoint } from '../transport/index.js';
export type { Endpoint } from '../transport/index.js';

// Connection pool (behaviour.md §1, §3 [pool], §4 Pool).
export { ConnectionPool } from './pool.js';
export { CircuitBreaker, BREAKER_STATES } from './breaker.js';
export type { BreakerState, BreakerOptions } from './breaker.js';
export { CONNECTION_FAILURES, RETRY_FAILURES } from './pool-options.js';
export type {
  AcquireOptions, LookupAddress, PoolConnection, PoolEndpointStats, PoolHooks, PoolLease, PoolOptions, PoolStats, PoolTarget,
} from './pool-options.js';

// Every core: one listening address served by several worker processes (`npro daemon --workers N`).
export { startWorkers, WorkerGroup, MAX_WORKERS, FORCE_MARGIN_MS } from './workers.js';
export type { WorkersOptions, WorkerGroupEvents } from './workers.js';
