import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * KubePrism as Talos runs it on every node (machine.features.kubePrism): a TCP load balancer on localhost in front of
 * the cluster's API servers, so that the kubelets keep their connection while any one control plane reboots. The
 * simulated kubelets (one kwok for the cluster) reach the API through it; TLS passes through untouched.
 */
export class ApiServerProxy {
  private server?: Server;
  private readonly sockets = new Set<Socket>();

  constructor(
    /** `host:port` of the API servers that are ready now, in order of preference. */
    private readonly backends: () => string[],
  ) {}

  /** Listens on 127.0.0.1 on a free port; resolves with `https://127.0.0.1:PORT`. */
  async listen(): Promise<string> {
    const server = createServer((client) => this.forward(client, this.backends()));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    });
    const address = server.address();
    if (!address || typeof address === 'string') throw new Error('the API server proxy has no TCP address');
    return `https://127.0.0.1:${address.port}`;
  }

  /** Tries each backend in turn; a client whose every backend refuses is closed (it retries, as a kubelet does). */
  private forward(client: Socket, backends: string[]): void {
    this.track(client);
    const [next, ...rest] = backends;
    if (!next) {
      client.destroy();
      return;
    }
    const [host, port] = [next.slice(0, next.lastIndexOf(':')), Number(next.slice(next.lastIndexOf(':') + 1))];
    const upstream = connect({ host, port });
    this.track(upstream);
    let connected = false;
    upstream.once('connect', () => {
      connected = true;
      client.pipe(upstream);
      upstream.pipe(client);
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
      client.on('close', () => upstream.destroy());
    });
    upstream.once('error', () => {
      if (!connected) this.forward(client, rest);
    });
  }

  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }

  /** Stops listening and cuts every connection. */
  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
