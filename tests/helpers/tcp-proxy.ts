/**
 * A TCP proxy on 127.0.0.1 in front of a daemon, for the pool tests: it counts the connections it
 * accepts (each one is a connect attempt of a client), and can refuse them (accept, then destroy at
 * once), forward them, or freeze the connections it holds (stop forwarding in both directions, as a
 * hung peer would).
 */
import net from 'node:net';

export type ProxyMode = 'forward' | 'refuse';

export class TcpProxy {
  /** Connections accepted since start. */
  accepts = 0;
  mode: ProxyMode;
  #frozen = false;
  readonly #server: net.Server;
  readonly #sockets = new Set<net.Socket>();
  #target: { host: string; port: number };

  private constructor(server: net.Server, target: { host: string; port: number }, mode: ProxyMode) {
    this.#server = server;
    this.#target = target;
    this.mode = mode;
    server.on('connection', (socket) => this.#accept(socket));
  }

  /** A proxy to `targetUrl` (`tcp://host:port`). */
  static async start(targetUrl: string, mode: ProxyMode = 'forward'): Promise<TcpProxy> {
    const server = net.createServer({ allowHalfOpen: false });
    const proxy = new TcpProxy(server, hostPort(targetUrl), mode);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    });
    return proxy;
  }

  get url(): string {
    return `tcp://127.0.0.1:${(this.#server.address() as net.AddressInfo).port}`;
  }

  /** Sends later connections to another daemon. */
  retarget(targetUrl: string): void {
    this.#target = hostPort(targetUrl);
  }

  /** Stops (or resumes) forwarding on every connection held, in both directions. */
  freeze(frozen = true): void {
    this.#frozen = frozen;
  }

  #accept(client: net.Socket): void {
    this.accepts++;
    this.#sockets.add(client);
    client.on('close', () => this.#sockets.delete(client));
    client.on('error', () => undefined);
    if (this.mode === 'refuse') {
      client.destroy();
      return;
    }
    const upstream = net.connect(this.#target);
    this.#sockets.add(upstream);
    upstream.on('close', () => {
      this.#sockets.delete(upstream);
      client.destroy();
    });
    upstream.on('error', () => undefined);
    client.on('close', () => upstream.destroy());
    client.on('data', (d) => {
      if (!this.#frozen) upstream.write(d);
    });
    upstream.on('data', (d) => {
      if (!this.#frozen) client.write(d);
    });
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

function hostPort(url: string): { host: string; port: number } {
  const u = new URL(url);
  return { host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port) };
}
