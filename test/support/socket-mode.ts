import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

/** The acknowledgement of one envelope: what the app answered, and how long after sending it. */
export interface EnvelopeAck {
  payload: unknown;
  ms: number;
}

/**
 * A loopback WebSocket server speaking Slack's Socket Mode envelope protocol: `hello` on connect; each request as
 * `{envelope_id, type, payload, accepts_response_payload}`; the app acknowledges with `{envelope_id, payload}`.
 */
export class SocketModeServer {
  private server?: WebSocketServer;
  private socket?: WebSocket;
  private pinger?: NodeJS.Timeout;
  private readonly pending = new Map<string, { started: number; resolve: (ack: EnvelopeAck) => void }>();
  private onConnect?: () => void;
  readonly connected: Promise<void> = new Promise((resolve) => (this.onConnect = resolve));
  /** How many connections the app opened. */
  connections = 0;

  get url(): string {
    return `ws://127.0.0.1:${(this.server!.address() as AddressInfo).port}/link/?ticket=${randomUUID()}`;
  }

  async start(): Promise<this> {
    this.server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((resolve) => this.server!.once('listening', () => resolve()));
    // Slack pings its clients; the client reconnects when pings stop for 30 s.
    this.pinger = setInterval(() => this.server?.clients.forEach((c) => c.ping()), 5_000).unref();
    this.server.on('connection', (ws) => {
      this.connections++;
      this.socket = ws;
      ws.on('message', (data) => {
        const message = JSON.parse((data as Buffer).toString('utf8')) as { envelope_id?: string; payload?: unknown };
        const waiting = message.envelope_id ? this.pending.get(message.envelope_id) : undefined;
        if (!waiting) return;
        this.pending.delete(message.envelope_id!);
        waiting.resolve({ payload: message.payload, ms: performance.now() - waiting.started });
      });
      ws.send(JSON.stringify({ type: 'hello', num_connections: 1, debug_info: { host: 'fake-socket-mode', approximate_connection_time: 3600 }, connection_info: { app_id: 'A0FAKE' } }));
      this.onConnect?.();
    });
    return this;
  }

  /** Sends a request (`slash_commands`, `interactive`) and resolves with the app's acknowledgement. */
  send(type: 'slash_commands' | 'interactive', payload: Record<string, unknown>, timeoutMs = 10_000): Promise<EnvelopeAck> {
    if (!this.socket) throw new Error('no Socket Mode connection yet');
    const envelope_id = randomUUID();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(envelope_id);
        reject(new Error(`envelope ${type} was not acknowledged within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(envelope_id, { started: performance.now(), resolve: (ack) => (clearTimeout(timer), resolve(ack)) });
      this.socket!.send(JSON.stringify({ envelope_id, type, payload, accepts_response_payload: type === 'slash_commands', retry_attempt: 0, retry_reason: '' }));
    });
  }

  async stop(): Promise<void> {
    clearInterval(this.pinger);
    for (const c of this.server?.clients ?? []) c.terminate();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
