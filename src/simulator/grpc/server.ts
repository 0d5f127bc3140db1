import { status } from '@grpc/grpc-js';
import { setMaxListeners } from 'node:events';
import * as http2 from 'node:http2';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import type { Socket } from 'node:net';
import { toNodePem } from '../../config/pem';
import { FleetError } from '../../errors';

/**
 * A gRPC server on Node's HTTP/2, serving raw message bytes.
 *
 * The simulator needs three things grpc-js's server cannot give: repeated metadata values as they were
 * sent (apid's `nodes`), byte-level messages so it can forward and splice replies exactly as apid does,
 * and high-volume streams (etcd snapshots in 1 KiB messages) without a per-message cost that halves
 * throughput. The wire format is plain gRPC over HTTP/2: length-prefixed messages, status in trailers.
 */

/** gRPC status codes, as grpc-js numbers them. */
export const Code = status;

/** A failure a handler returns to the caller as a gRPC status. */
export class GrpcError extends FleetError {
  constructor(
    readonly grpcCode: status,
    message: string,
  ) {
    super('grpc_error', message);
  }
}

/** Request metadata: lower-case keys, every value kept (repeated headers are not merged). */
export type Metadata = Map<string, string[]>;

/** What a handler knows about its call. */
export interface CallContext {
  path: string;
  metadata: Metadata;
  /** The client's certificate, when it presented one. */
  peerCertificate?: PeerCertificate;
  /** Aborted when the client cancels, the deadline passes or the server shuts down. */
  signal: AbortSignal;
  /** The `:authority` the client dialled. */
  authority: string;
}

/** Writes messages of a server stream; resolves when the client can take more (backpressure). */
export interface MessageWriter {
  /** Writes one message, given whole or as parts to be sent back to back (avoids copying large payloads). */
  write(message: Buffer | readonly Buffer[]): Promise<void>;
  /** Writes several messages, waiting for the client at most once (a snapshot chunk from etcd is 32 messages). */
  writeMany(messages: readonly (readonly Buffer[])[]): Promise<void>;
}

export type Handler =
  | { kind: 'unary'; handle(request: Buffer, ctx: CallContext): Promise<Buffer> }
  | { kind: 'server-stream'; handle(request: Buffer, ctx: CallContext, out: MessageWriter): Promise<void> }
  | { kind: 'client-stream'; handle(requests: AsyncIterable<Buffer>, ctx: CallContext): Promise<Buffer> };

/** Finds the handler for a path; undefined means UNIMPLEMENTED. */
export type Router = (path: string, ctx: CallContext) => Handler | undefined;

export interface TlsOptions {
  key: string;
  cert: string;
  /** CA that client certificates must chain to; without it no client certificate is requested. */
  clientCa?: string;
}

const MAX_MESSAGE_BYTES = 32 * 1024 * 1024;
/** Messages are written to HTTP/2 in batches of about this size: one write per message costs too much. */
const WRITE_BATCH_BYTES = 64 * 1024;

function parseTimeout(value: string | undefined): number | undefined {
  const m = value?.match(/^(\d+)([HMSmun])$/);
  if (!m) return undefined;
  const n = Number(m[1]);
  const unitMs: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 };
  return n * unitMs[m[2]!]!;
}

function parseMetadata(rawHeaders: string[]): Metadata {
  const md: Metadata = new Map();
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const key = rawHeaders[i]!.toLowerCase();
    if (key.startsWith(':') || key === 'content-type' || key === 'te' || key.startsWith('grpc-')) continue;
    const value = key.endsWith('-bin') ? Buffer.from(rawHeaders[i + 1]!, 'base64').toString('latin1') : rawHeaders[i + 1]!;
    md.set(key, [...(md.get(key) ?? []), value]);
  }
  return md;
}

/** Splits an HTTP/2 byte stream into gRPC messages (5-byte prefix: compressed flag, big-endian length). */
async function* readMessages(stream: http2.ServerHttp2Stream): AsyncGenerator<Buffer> {
  let pending: Buffer = Buffer.alloc(0);
  // A handler may stop reading early (it already failed); that must not reset the stream before it answers.
  for await (const chunk of stream.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    while (pending.length >= 5) {
      const length = pending.readUInt32BE(1);
      if (pending[0] !== 0) throw new GrpcError(Code.UNIMPLEMENTED, 'compressed messages are not supported');
      if (length > MAX_MESSAGE_BYTES) throw new GrpcError(Code.RESOURCE_EXHAUSTED, `message of ${length} bytes exceeds the ${MAX_MESSAGE_BYTES} byte limit`);
      if (pending.length < 5 + length) break;
      yield pending.subarray(5, 5 + length);
      pending = pending.subarray(5 + length);
    }
  }
  if (pending.length) throw new GrpcError(Code.INTERNAL, 'request ended in the middle of a message');
}

/** Percent-encodes a status message as the gRPC spec asks: only bytes outside printable ASCII, and '%'. */
function encodeGrpcMessage(message: string): string {
  let out = '';
  for (const b of Buffer.from(message, 'utf8')) {
    out += b >= 0x20 && b <= 0x7e && b !== 0x25 ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/**
 * Writes response messages in batches (one HTTP/2 write per ~64 KiB, not per message), and applies the
 * client's backpressure: while the stream is congested, the next write waits for it to drain.
 */
class BatchedWriter implements MessageWriter {
  /** Messages are copied into one buffer per batch: no objects per message, so little garbage to collect. */
  private batch = Buffer.allocUnsafe(WRITE_BATCH_BYTES);
  private batchBytes = 0;
  private headersSent = false;
  private flushScheduled = false;
  /** Set while the HTTP/2 stream is congested; resolves when it drains (or closes). */
  private congested?: Promise<void>;

  constructor(private readonly stream: http2.ServerHttp2Stream) {}

  private sendHeaders(): void {
    if (this.headersSent) return;
    this.headersSent = true;
    this.stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
  }

  private get gone(): boolean {
    return this.stream.destroyed || this.stream.closed;
  }

  async write(message: Buffer | readonly Buffer[]): Promise<void> {
    return this.writeMany([Buffer.isBuffer(message) ? [message] : message]);
  }

  async writeMany(messages: readonly (readonly Buffer[])[]): Promise<void> {
    if (this.congested) await this.congested;
    if (this.gone) throw new GrpcError(Code.CANCELLED, 'the client went away');
    for (const parts of messages) this.append(parts);
    if (this.batchBytes && !this.flushScheduled) {
      // A slow trickle (events, health progress) must not wait for a full batch.
      this.flushScheduled = true;
      setImmediate(() => {
        this.flushScheduled = false;
        if (!this.gone) this.flush();
      });
    }
  }

  private append(parts: readonly Buffer[]): void {
    let length = 0;
    for (const p of parts) length += p.length;
    if (this.batchBytes + 5 + length > WRITE_BATCH_BYTES) this.flush();
    if (5 + length > WRITE_BATCH_BYTES) {
      // A message larger than a batch goes out on its own.
      const prefix = Buffer.alloc(5);
      prefix.writeUInt32BE(length, 1);
      this.send(Buffer.concat([prefix, ...parts]));
      return;
    }
    // The gRPC frame: an uncompressed flag, then the message length, big-endian.
    this.batch[this.batchBytes] = 0;
    this.batch.writeUInt32BE(length, this.batchBytes + 1);
    this.batchBytes += 5;
    for (const p of parts) this.batchBytes += p.copy(this.batch, this.batchBytes);
  }

  private flush(): void {
    this.sendHeaders();
    if (!this.batchBytes) return;
    const data = this.batch.subarray(0, this.batchBytes);
    // The stream keeps `data` until it is written, so the next batch needs a buffer of its own.
    this.batch = Buffer.allocUnsafe(WRITE_BATCH_BYTES);
    this.batchBytes = 0;
    this.send(data);
  }

  private send(data: Buffer): void {
    this.sendHeaders();
    if (!this.stream.write(data) && !this.congested) {
      this.congested = new Promise<void>((resolve) => {
        const done = () => {
          this.stream.off('drain', done);
          this.stream.off('close', done);
          this.congested = undefined;
          resolve();
        };
        this.stream.on('drain', done);
        this.stream.on('close', done);
      });
    }
  }

  /** Ends the call with a status; a call that never sent anything gets a trailers-only response. */
  finish(code: number, message: string): void {
    if (this.gone) return;
    const trailers = { 'grpc-status': String(code), ...(message ? { 'grpc-message': encodeGrpcMessage(message) } : {}) };
    if (!this.headersSent && !this.batchBytes) {
      this.headersSent = true;
      this.stream.respond({ ':status': 200, 'content-type': 'application/grpc', ...trailers }, { endStream: true });
      return;
    }
    this.flush();
    this.stream.once('wantTrailers', () => this.stream.sendTrailers(trailers));
    this.stream.end();
  }
}

/** A running gRPC server bound to one address. */
export class GrpcServer {
  private readonly server: http2.Http2SecureServer;
  private readonly sessions = new Set<http2.ServerHttp2Session>();
  /** Every TCP connection, handshaking or not: close() cuts them all, or a handshake that ends during it would keep the server open. */
  private readonly sockets = new Set<Socket>();
  private closing = false;
  private readonly shutdown = new AbortController();

  constructor(tls: TlsOptions, router: Router) {
    // One listener per open call (watches, log follows, health checks): many at once is normal, not a leak.
    setMaxListeners(Infinity, this.shutdown.signal);
    this.server = http2.createSecureServer({
      key: toNodePem(tls.key),
      cert: tls.cert,
      ...(tls.clientCa ? { ca: tls.clientCa, requestCert: true, rejectUnauthorized: true } : { requestCert: false }),
      minVersion: 'TLSv1.2',
      ALPNProtocols: ['h2'],
      allowHTTP1: false,
      settings: { initialWindowSize: 1024 * 1024 },
    });
    this.server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    this.server.on('session', (session) => {
      if (this.closing) return void session.destroy();
      this.sessions.add(session);
      session.on('close', () => this.sessions.delete(session));
      session.on('error', () => undefined);
    });
    this.server.on('stream', (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, _flags: number, rawHeaders: string[]) => {
      void this.serve(stream, headers, rawHeaders, router);
    });
    // A client that fails the TLS handshake (wrong CA, expired certificate) is simply refused.
    this.server.on('tlsClientError', () => undefined);
  }

  /** Starts listening; rejects when the address is taken or not local. */
  listen(host: string, port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.off('error', onError);
        resolve();
      });
    });
  }

  /** Stops at once: open calls are cut off, as when a machine loses power or reboots. */
  async close(): Promise<void> {
    this.closing = true;
    this.shutdown.abort();
    for (const session of this.sessions) session.destroy();
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async serve(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, rawHeaders: string[], router: Router): Promise<void> {
    stream.on('error', () => undefined);
    const writer = new BatchedWriter(stream);
    const controller = new AbortController();
    const abort = () => controller.abort();
    stream.on('close', abort);
    this.shutdown.signal.addEventListener('abort', abort, { once: true });
    const timeoutMs = parseTimeout(headers['grpc-timeout'] as string | undefined);
    const timer = timeoutMs === undefined ? undefined : setTimeout(abort, timeoutMs);
    try {
      if (headers[':method'] !== 'POST' || !String(headers['content-type'] ?? '').startsWith('application/grpc')) {
        stream.respond({ ':status': 415 }, { endStream: true });
        return;
      }
      const socket = stream.session?.socket as TLSSocket | undefined;
      const peer = socket?.getPeerCertificate?.();
      const ctx: CallContext = {
        path: String(headers[':path']),
        metadata: parseMetadata(rawHeaders),
        peerCertificate: peer && Object.keys(peer).length ? peer : undefined,
        signal: controller.signal,
        authority: String(headers[':authority'] ?? ''),
      };
      const handler = router(ctx.path, ctx);
      if (!handler) throw new GrpcError(Code.UNIMPLEMENTED, `unknown method ${ctx.path}`);
      if (handler.kind === 'client-stream') {
        try {
          await writer.write(await handler.handle(readMessages(stream), ctx));
        } finally {
          stream.resume(); // discard what the client still sends
        }
      } else {
        let request: Buffer | undefined;
        for await (const message of readMessages(stream)) {
          if (request) throw new GrpcError(Code.INTERNAL, 'expected one request message, got several');
          request = message;
        }
        request ??= Buffer.alloc(0);
        if (handler.kind === 'unary') await writer.write(await handler.handle(request, ctx));
        else await handler.handle(request, ctx, writer);
      }
      writer.finish(Code.OK, '');
    } catch (err) {
      if (controller.signal.aborted && timeoutMs !== undefined && !stream.closed) {
        writer.finish(Code.DEADLINE_EXCEEDED, 'context deadline exceeded');
      } else if (err instanceof GrpcError) {
        writer.finish(err.grpcCode, err.message);
      } else {
        writer.finish(Code.UNKNOWN, err instanceof Error ? err.message : String(err));
      }
    } finally {
      if (timer) clearTimeout(timer);
      this.shutdown.signal.removeEventListener('abort', abort);
    }
  }
}
