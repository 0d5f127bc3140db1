import * as http2 from 'node:http2';
import { createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { generateCertificateAuthority, issueCertificate, type CertificateAndKey } from '../../src/config/certs';
import type { ClientIdentity } from '../../src/config/talosconfig';
import { toNodePem } from '../../src/config/pem';

/**
 * Small stand-ins for misbehaving Talos nodes on loopback, each a real TLS (and HTTP/2) server, for the failures
 * the simulated fleet does not produce on demand: a node that never answers, one that drops the connection in
 * the middle of a call, one that refuses our client certificate, one that stalls its TLS handshake.
 */
export class LocalNodes {
  /** Each server with its open connections, so one can be powered off on its own. */
  private readonly servers = new Map<Server, Set<Socket>>();
  /** The OS CA of "the cluster", a server certificate for `host` from it, and an admin identity. */
  ca!: CertificateAndKey;
  server!: CertificateAndKey;
  admin!: ClientIdentity;
  /** Another CA: the cluster does not trust what it issues. */
  otherCa!: CertificateAndKey;

  /** The loopback address every server listens on. */
  readonly host: string;

  /** `third` keeps each test file's addresses apart (jest runs files of one worker one after the other). */
  constructor(third: number) {
    this.host = `127.${120 + Number(process.env.JEST_WORKER_ID ?? '1')}.${third}.1`;
  }

  async init(): Promise<void> {
    this.ca = await generateCertificateAuthority({ algorithm: 'ed25519', organization: 'talos', ttlMs: 3_600_000 });
    this.otherCa = await generateCertificateAuthority({ algorithm: 'ed25519', organization: 'talos', ttlMs: 3_600_000 });
    this.server = await issueCertificate(this.ca, { ipAddresses: [this.host], usage: 'server', ttlMs: 3_600_000 });
    const client = await issueCertificate(this.ca, { organizations: ['os:admin'], usage: 'client', ttlMs: 3_600_000 });
    this.admin = { ca: this.ca.crt, crt: client.crt, key: toNodePem(client.key) };
  }

  /** `host:port` */
  address(port: number): string {
    return `${this.host}:${port}`;
  }

  /**
   * A node speaking TLS + HTTP/2 with our CA's certificate; `onStream` decides what a call gets. `clientCa` is the
   * CA it accepts client certificates from (ours by default; Node closes the connection on a stranger's), or
   * `null` for a maintenance-mode node, which asks for none.
   */
  async h2(port: number, onStream: (stream: http2.ServerHttp2Stream, session: http2.Http2Session, headers: http2.IncomingHttpHeaders) => void, clientCa: string | null = this.ca.crt): Promise<http2.Http2SecureServer> {
    const clientAuth = clientCa === null ? { requestCert: false } : { ca: clientCa, requestCert: true, rejectUnauthorized: true };
    const server = http2.createSecureServer({ key: toNodePem(this.server.key), cert: this.server.crt, ...clientAuth, ALPNProtocols: ['h2'] });
    server.on('tlsClientError', () => undefined);
    server.on('session', (session) => session.on('error', () => undefined));
    server.on('stream', (stream, headers) => {
      stream.on('error', () => undefined);
      onStream(stream, stream.session!, headers);
    });
    return this.listen(server, port);
  }

  /** Accepts calls and never answers them. */
  silent(port: number): Promise<Server> {
    return this.h2(port, () => undefined);
  }

  /** Answers every call at once with a gRPC status (trailers only). */
  answering(port: number, code = 12, message = 'not here'): Promise<Server> {
    return this.h2(port, (stream) => stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': String(code), 'grpc-message': message }, { endStream: true }));
  }

  /** Takes each call and then loses power: the connection drops with the request on the node. */
  dropping(port: number): Promise<Server> {
    return this.h2(port, (_stream, session) => setImmediate(() => session.destroy()));
  }

  /** Accepts TCP and closes it after `ms` without ever finishing the TLS handshake. */
  stalling(port: number, ms: number): Promise<Server> {
    return this.listen(createTcpServer((socket) => void setTimeout(() => socket.destroy(), ms)), port);
  }

  private async listen<S extends Server>(server: S, port: number): Promise<S> {
    const sockets = new Set<Socket>();
    this.servers.set(server, sockets);
    server.on('connection', (socket: Socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, this.host, () => resolve());
    });
    return server;
  }

  /** Stops one server and cuts its connections (a node powered off). */
  async stop(server: Server): Promise<void> {
    const closed = new Promise((resolve) => server.close(resolve));
    for (const socket of this.servers.get(server) ?? []) socket.destroy();
    this.servers.delete(server);
    await closed;
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.servers.keys()].map((s) => this.stop(s)));
  }
}

/** Resolves with what `promise` settled to, or fails when it is still pending after `ms` (a hang is a failure). */
export async function settlesWithin<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: still pending after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, limit]);
  } finally {
    clearTimeout(timer);
  }
}
