/**
 * A peer that speaks NPRO by hand over a real socket, for adversarial tests of the daemon and the
 * client: raw frames, a manual v2 handshake (either role) and records sealed/opened explicitly, so a
 * test can flip bits, stall mid-frame, skip `Disconnect`, or answer late.
 */
import net from 'node:net';
import { FrameDecoder, type DecodedFrame } from '../../src/core/frame-decoder.js';
import { MAX_PAYLOAD } from '../../src/core/frame.js';
import type { Message } from '../../src/core/message.js';
import { NproError } from '../../src/core/errors.js';
import { ClientHandshake, ServerHandshake, type HandshakeResult } from '../../src/protocol/handshake.js';
import { FEATURES } from '../../src/protocol/handshake-messages.js';
import { RecordOpener, RecordSealer, type RecordItem } from '../../src/protocol/record.js';
import { parseEndpoint } from '../../src/transport/index.js';
import { generateKeyPair, type KeyPair } from '../../src/utils/keys.js';
import { encodePublicKey } from '../../src/utils/keys.js';

/** A socket whose input is cut into frames (no size cap: a test tool, not a server). */
export class RawSocket {
  readonly frames: DecodedFrame[] = [];
  readonly decoder = new FrameDecoder({ maxPayload: MAX_PAYLOAD });
  bytesReceived = 0;
  endSeen = false;
  closeSeen = false;
  decodeError: NproError | null = null;
  /** End our side when the peer ends its (as an ordinary peer does); false keeps it half-open. */
  endOnEnd = true;
  readonly ended: Promise<void>;
  readonly closed: Promise<void>;
  #waiters: (() => void)[] = [];

  constructor(readonly socket: net.Socket) {
    this.decoder.setHandshakeComplete();
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      this.bytesReceived += chunk.length;
      if (this.decodeError !== null) return;
      try {
        this.decoder.push(new Uint8Array(chunk));
        for (let f = this.decoder.next(); f !== null; f = this.decoder.next()) this.frames.push(f);
      } catch (err) {
        this.decodeError = err as NproError;
      }
      this.#wake();
    });
    this.ended = new Promise((resolve) => socket.once('end', () => {
      this.endSeen = true;
      if (this.endOnEnd) socket.end();
      this.#wake();
      resolve();
    }));
    this.closed = new Promise((resolve) => socket.once('close', () => {
      this.closeSeen = true;
      this.#wake();
      resolve();
    }));
  }

  static connect(url: string): Promise<RawSocket> {
    const e = parseEndpoint(url);
    const options: net.NetConnectOpts = e.transport === 'unix'
      ? { path: e.abstract ? `\0${e.path}` : e.path, allowHalfOpen: true }
      : { host: (e as { host: string }).host, port: (e as { port: number }).port, allowHalfOpen: true };
    return new Promise((resolve, reject) => {
      const socket = net.connect(options);
      socket.once('connect', () => resolve(new RawSocket(socket)));
      socket.once('error', reject);
    });
  }

  write(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  /** The next frame, or null when the peer ended or closed first (or `ms` passed). */
  async nextFrame(ms = 2000): Promise<DecodedFrame | null> {
    const end = Date.now() + ms;
    while (this.frames.length === 0) {
      if (this.endSeen || this.closeSeen || this.decodeError !== null || Date.now() >= end) return null;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(1, end - Date.now()));
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.frames.shift()!;
  }

  destroy(): void {
    this.socket.destroy();
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }
}

/** Records in both directions of a manually handshaken v2 session. */
export class RawSession {
  /** Messages of a record already opened and not yet handed out. */
  readonly #buffer: Message[] = [];

  constructor(
    readonly socket: RawSocket,
    readonly result: HandshakeResult,
    readonly sealer: RecordSealer,
    readonly opener: RecordOpener,
  ) {}

  /** Seals `messages` into records and writes them; returns the frames written. */
  send(messages: Message[]): Uint8Array[] {
    const frames = this.sealer.sealMessages(messages);
    for (const f of frames) this.socket.write(f);
    return frames;
  }

  /** The messages of the next record (or those left of the last one), or null when the connection ended first. */
  async receive(ms = 2000): Promise<Message[] | null> {
    if (this.#buffer.length > 0) return this.#buffer.splice(0);
    const frame = await this.socket.nextFrame(ms);
    if (frame === null) return null;
    const items: RecordItem[] = this.opener.open(frame.header, frame.payload);
    return items.map((item) => ('message' in item ? item.message : ({ type: 'Unknown' } as Message)));
  }

  /** Messages one at a time until one of `type` (those before it are in `seen`); the rest stay buffered. */
  async receiveUntil(type: Message['type'], ms = 2000): Promise<{ found: Message | null; seen: Message[] }> {
    const seen: Message[] = [];
    const end = Date.now() + ms;
    for (;;) {
      if (this.#buffer.length === 0) {
        const messages = await this.receive(Math.max(1, end - Date.now()));
        if (messages === null) return { found: null, seen };
        this.#buffer.push(...messages);
      }
      const m = this.#buffer.shift()!;
      seen.push(m);
      if (m.type === type) return { found: m, seen };
    }
  }
}

export interface RawHandshakeOptions {
  staticKey?: KeyPair;
  features?: number;
  maxFrame?: number;
  clock?: () => number;
  rekeyInterval?: number;
}

/** Runs the client side of the v2 handshake by hand; AUTH is returned unsent when `holdAuth`. */
export async function rawClientHandshake(
  socket: RawSocket,
  options: RawHandshakeOptions & { holdAuth?: boolean } = {},
): Promise<{ session: RawSession; auth: Uint8Array }> {
  const staticKey = options.staticKey ?? generateKeyPair();
  const maxFrame = options.maxFrame ?? MAX_PAYLOAD;
  const hs = new ClientHandshake({
    staticKey, features: options.features ?? FEATURES.LZ4, maxFrame, checkServerKey: () => null,
    ...(options.clock === undefined ? {} : { now: options.clock }),
  });
  socket.write(hs.start());
  const frame = await socket.nextFrame();
  if (frame === null) throw new Error('the server closed during the handshake');
  const step = hs.receive(frame);
  if (step.error !== undefined) throw step.error;
  const result = step.result!;
  const auth = step.send[0]!;
  if (options.holdAuth !== true) socket.write(auth);
  const rekey = options.rekeyInterval === undefined ? {} : { rekeyInterval: options.rekeyInterval };
  const sealer = new RecordSealer({ key: result.c2sKey, negotiatedFeatures: result.features, peerMaxFrame: result.peerMaxFrame, ...rekey });
  const opener = new RecordOpener({ key: result.s2cKey, negotiatedFeatures: result.features, localMaxFrame: maxFrame, ...rekey });
  return { session: new RawSession(socket, result, sealer, opener), auth };
}

/** A TCP server whose connections a test drives by hand. */
export class RawServer {
  readonly staticKey: KeyPair = generateKeyPair();
  readonly sockets: RawSocket[] = [];
  #waiters: ((s: RawSocket) => void)[] = [];

  private constructor(readonly server: net.Server, readonly url: string) {}

  get publicKey(): string {
    return encodePublicKey(this.staticKey.publicKey);
  }

  /** Listens on 127.0.0.1 (a free port), or on the Unix socket `path`. */
  static listen(path?: string): Promise<RawServer> {
    return new Promise((resolve) => {
      const server = net.createServer({ allowHalfOpen: true });
      const ready = (): void => {
        const url = path === undefined ? `tcp://127.0.0.1:${(server.address() as net.AddressInfo).port}` : `unix://${path}`;
        const raw = new RawServer(server, url);
        server.on('connection', (socket) => {
          const s = new RawSocket(socket);
          raw.sockets.push(s);
          const w = raw.#waiters.shift();
          if (w !== undefined) w(s);
        });
        resolve(raw);
      };
      if (path === undefined) server.listen(0, '127.0.0.1', ready);
      else server.listen(path, ready);
    });
  }

  /** The next accepted connection (one already accepted and not yet taken first). */
  nextConnection(ms = 3000): Promise<RawSocket> {
    const taken = this.sockets.length;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no connection arrived')), ms);
      const done = (s: RawSocket): void => {
        clearTimeout(timer);
        resolve(s);
      };
      if (this.#given < taken) done(this.sockets[this.#given++]!);
      else this.#waiters.push((s) => {
        this.#given++;
        done(s);
      });
    });
  }

  #given = 0;

  /** Completes the server side of a v2 handshake on `socket`. */
  async accept(socket: RawSocket, options: { maxStreams?: number; features?: number; maxFrame?: number; rekeyInterval?: number } = {}): Promise<RawSession> {
    const maxFrame = options.maxFrame ?? MAX_PAYLOAD;
    const hs = new ServerHandshake({ staticKey: this.staticKey, features: options.features ?? FEATURES.LZ4, maxFrame, maxStreams: options.maxStreams ?? 100 });
    for (;;) {
      const frame = await socket.nextFrame();
      if (frame === null) throw new Error('the client closed during the handshake');
      const step = hs.receive(frame);
      for (const f of step.send) socket.write(f);
      if (step.error !== undefined) throw step.error;
      if (step.result === undefined) continue;
      const r = step.result;
      const rekey = options.rekeyInterval === undefined ? {} : { rekeyInterval: options.rekeyInterval };
      const sealer = new RecordSealer({ key: r.s2cKey, negotiatedFeatures: r.features, peerMaxFrame: r.peerMaxFrame, ...rekey });
      const opener = new RecordOpener({ key: r.c2sKey, negotiatedFeatures: r.features, localMaxFrame: maxFrame, ...rekey });
      return new RawSession(socket, r, sealer, opener);
    }
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
