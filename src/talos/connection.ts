import * as grpc from '@grpc/grpc-js';
import { Readable } from 'node:stream';
import { FleetError } from '../errors';
import { decodeData, METHODS, messageCodec, type MethodInfo } from './codec';
import { TalosChannelCredentials } from './credentials';
import { fromStatus, toTalosError, type ErrorSite, type TalosApiError } from './errors';
import type { NodeResult } from './replies';

/** The Talos API port (apid, and the maintenance service). */
export const TALOS_API_PORT = 50000;

/** Talos caps gRPC messages at 32 MiB. */
const MAX_MESSAGE_BYTES = 32 * 1024 * 1024;

/** HTTP/2 receive window of our channels (the default is 64 KiB). */
export const FLOW_CONTROL_WINDOW_BYTES = 4 * 1024 * 1024;

/**
 * Which nodes a call is for, as talosctl does it:
 * - `nodes`: one-to-many; the endpoint fans out and every node answers inside one reply.
 * - `node`: one-to-one; the endpoint forwards verbatim (required for COSI calls).
 * - neither: the endpoint node itself answers.
 */
export interface Target {
  nodes?: string[];
  node?: string;
}

/** Per-call settings. */
export interface CallOptions {
  /** Deadline for this call in ms (unary default: the client's `timeoutMs`; streams: none). */
  timeoutMs?: number;
  /** Cancels the call. */
  signal?: AbortSignal;
}

/** One message of a server stream, from one node. */
export type NodeMessage<T> = NodeResult<T>;

/** How a connection reaches the API. */
export interface ConnectionOptions {
  /** `host` or `host:port`; the port defaults to 50000. */
  endpoints: string[];
  credentials: grpc.ChannelCredentials;
  /** Default deadline of unary calls, ms. */
  timeoutMs?: number;
  /** Longest pause between reconnect attempts to a node that went away (it may be rebooting), ms. */
  maxReconnectBackoffMs?: number;
}

interface MessageWithMetadata {
  metadata?: { hostname?: string; error?: string; status?: { code?: number; message?: string } | null } | null;
}

/** `host` → `host:50000`; keeps an explicit port and bracketed IPv6 literals. */
export function endpointAddress(endpoint: string): string {
  const trimmed = endpoint.replace(/^[a-z]+:\/\//i, '');
  if (/^\[.*\]:\d+$/.test(trimmed) || /^[^:]+:\d+$/.test(trimmed)) return trimmed;
  if (trimmed.includes(':') && !trimmed.startsWith('[')) return `[${trimmed}]:${TALOS_API_PORT}`;
  return `${trimmed}:${TALOS_API_PORT}`;
}

function hostOf(address: string): string {
  return address.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
}

/**
 * Runs `fn` when `signal` aborts; returns a function that detaches it. Callers often pass one signal (an
 * activity's cancellation) to many calls, so every listener is removed when its call ends.
 */
function onAbort(signal: AbortSignal | undefined, fn: () => void): () => void {
  if (!signal) return () => undefined;
  signal.addEventListener('abort', fn, { once: true });
  return () => signal.removeEventListener('abort', fn);
}

/** A failed connection attempt: safe to repeat on another endpoint, because the request never left. */
function neverConnected(err: TalosApiError): boolean {
  return err.grpcCode === grpc.status.UNAVAILABLE && /No connection established|ECONNREFUSED|EHOSTUNREACH|ENETUNREACH/.test(err.detail);
}

/**
 * Channels to the configured endpoints and the generic machinery of a call: metadata for node
 * targeting, deadlines, failover between endpoints, and splitting replies into per-node results.
 */
export class Connection {
  private readonly clients: { address: string; client: grpc.Client }[];
  private current = 0;
  private readonly credentials: grpc.ChannelCredentials;
  readonly timeoutMs: number;

  constructor(options: ConnectionOptions) {
    if (options.endpoints.length === 0) {
      throw new FleetError('no_endpoints', 'no Talos API endpoints configured: set `endpoints` in the talosconfig context or pass them explicitly');
    }
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.credentials = options.credentials;
    const channelOptions: grpc.ChannelOptions = {
      'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
      'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
      // HTTP/2's default 64 KiB receive window makes a node stop and wait for our window updates every 64 messages
      // of a snapshot; a larger one keeps the stream flowing (measured: docs/benchmarks.md).
      'grpc-node.flow_control_window': FLOW_CONTROL_WINDOW_BYTES,
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': options.maxReconnectBackoffMs ?? 2_000,
      // Retries are a decision of the caller (a Temporal activity), never hidden in the transport.
      'grpc.enable_retries': 0,
    };
    this.clients = options.endpoints.map((e) => {
      const address = endpointAddress(e);
      return { address, client: new grpc.Client(address, options.credentials, channelOptions) };
    });
  }

  /** Closes every channel; in-flight calls fail. */
  close(): void {
    for (const { client } of this.clients) client.close();
  }

  private method(path: string): MethodInfo {
    const m = METHODS.get(path);
    if (!m) throw new FleetError('unknown_method', `${path} is not part of the Talos API subset this client knows`);
    return m;
  }

  private metadata(target: Target, method: MethodInfo): grpc.Metadata {
    if (target.node !== undefined && target.nodes !== undefined) {
      throw new FleetError('invalid_target', `${method.name}: give either node (one-to-one) or nodes (one-to-many), not both`);
    }
    if (method.service === 'cosi.resource.State' && target.nodes !== undefined) {
      throw new FleetError('invalid_target', `${method.name}: COSI calls cannot fan out; target one node with \`node\``);
    }
    const md = new grpc.Metadata();
    if (target.node !== undefined) md.set('node', target.node);
    // grpc-js merges repeated headers into one comma-joined value unless each is added on its own.
    for (const n of target.nodes ?? []) md.add('nodes', n);
    return md;
  }

  private callOptions(timeoutMs: number | undefined): grpc.CallOptions {
    return timeoutMs === undefined ? {} : { deadline: Date.now() + timeoutMs };
  }

  /** Maps a call failure, adding the TLS reason when grpc-js only says the connection failed. */
  private error(err: unknown, site: ErrorSite): TalosApiError {
    const e = err as { code?: number; details?: string };
    const tls = this.credentials instanceof TalosChannelCredentials && site.endpoint ? this.credentials.handshakeFailure(hostOf(site.endpoint)) : undefined;
    if (tls && e.code === grpc.status.UNAVAILABLE && !String(e.details).includes(tls)) {
      return toTalosError({ code: e.code, details: `${e.details ?? ''} (TLS: ${tls})` }, site);
    }
    return toTalosError(err, site);
  }

  private site(method: MethodInfo, target: Target, address: string, node?: string): ErrorSite {
    return { method: method.path, node: node ?? target.node ?? target.nodes?.join(','), endpoint: address };
  }

  /** The node a reply item belongs to: apid's stamp, else the node we addressed, else the endpoint itself. */
  private nodeOf(item: MessageWithMetadata, target: Target, address: string): string {
    return item.metadata?.hostname || target.node || (target.nodes?.length === 1 ? target.nodes[0]! : hostOf(address));
  }

  private toResult<T extends MessageWithMetadata>(item: T, method: MethodInfo, target: Target, address: string): NodeResult<T> {
    const node = this.nodeOf(item, target, address);
    const md = item.metadata;
    if (md?.error) {
      const code = (md.status?.code ?? grpc.status.UNKNOWN) as grpc.status;
      return { node, error: fromStatus(code, md.status?.message || md.error, this.site(method, target, address, node)) };
    }
    return { node, value: item };
  }

  /** A unary call whose reply is `{ messages: Item[] }`; returns one result per node. */
  async unary<Req, Item extends MessageWithMetadata>(path: string, request: Req, target: Target = {}, options: CallOptions = {}): Promise<NodeResult<Item>[]> {
    const method = this.method(path);
    const { reply, address } = await this.withFailover<Req, { messages?: Item[] }>(method, request, target, options);
    return (reply.messages ?? []).map((item) => this.toResult(item, method, target, address));
  }

  /** A unary call whose reply is used as it is (COSI replies have no per-node wrapper). */
  async call<Req, Res>(path: string, request: Req, target: Target = {}, options: CallOptions = {}): Promise<Res> {
    return (await this.withFailover<Req, Res>(this.method(path), request, target, options)).reply;
  }

  /** Tries the endpoints in turn, moving on only when a connection could not be made at all. */
  private async withFailover<Req, Res>(method: MethodInfo, request: Req, target: Target, options: CallOptions): Promise<{ reply: Res; address: string }> {
    const metadata = this.metadata(target, method);
    let lastError: TalosApiError | undefined;
    for (let attempt = 0; attempt < this.clients.length; attempt++) {
      const index = (this.current + attempt) % this.clients.length;
      const { address, client } = this.clients[index]!;
      try {
        const reply = await this.invokeUnary<Req, Res>(client, method, request, metadata, options);
        this.current = index;
        return { reply, address };
      } catch (err) {
        lastError = this.error(err, this.site(method, target, address));
        if (!neverConnected(lastError)) throw lastError;
      }
    }
    throw lastError!;
  }

  private invokeUnary<Req, Res>(client: grpc.Client, method: MethodInfo, request: Req, metadata: grpc.Metadata, options: CallOptions): Promise<Res> {
    const req = messageCodec<Req>(method.requestType);
    const res = messageCodec<unknown, Res>(method.responseType);
    return new Promise<Res>((resolve, reject) => {
      let detach = () => undefined as void;
      const call = client.makeUnaryRequest<Req, Res>(
        method.path,
        (v) => req.encode(v),
        (b) => res.decode(b),
        request,
        metadata,
        this.callOptions(options.timeoutMs ?? this.timeoutMs),
        (err, value) => {
          detach();
          if (err) reject(err);
          else resolve(value!);
        },
      );
      detach = onAbort(options.signal, () => call.cancel());
    });
  }

  private get endpoint(): { address: string; client: grpc.Client } {
    return this.clients[this.current]!;
  }

  /** A server stream; each message is tagged with its node, and a node's failure arrives as an error entry. */
  async *serverStream<Req, Msg extends MessageWithMetadata>(path: string, request: Req, target: Target = {}, options: CallOptions = {}): AsyncGenerator<NodeMessage<Msg>> {
    const method = this.method(path);
    const { address, client } = this.endpoint;
    const req = messageCodec<Req>(method.requestType);
    const res = messageCodec<unknown, Msg>(method.responseType);
    const call = client.makeServerStreamRequest<Req, Msg>(
      method.path,
      (v) => req.encode(v),
      (b) => res.decode(b),
      request,
      this.metadata(target, method),
      this.callOptions(options.timeoutMs),
    );
    const detach = onAbort(options.signal, () => call.cancel());
    try {
      for await (const msg of call as AsyncIterable<Msg>) yield this.toResult(msg, method, target, address);
    } catch (err) {
      throw this.error(err, this.site(method, target, address));
    } finally {
      detach();
      call.cancel();
    }
  }

  /**
   * A server stream of `common.Data` from one node, as a byte stream with backpressure: the node is only
   * asked for more when the consumer has room, so memory stays flat however large the stream is.
   */
  byteStream(path: string, request: unknown, target: Target, options: CallOptions = {}): Readable {
    const method = this.method(path);
    const { address, client } = this.endpoint;
    const req = messageCodec(method.requestType);
    const call = client.makeServerStreamRequest<unknown, DataMessage>(
      method.path,
      (v) => req.encode(v),
      (b) => decodeData(b),
      request,
      this.metadata(target, method),
      this.callOptions(options.timeoutMs),
    );
    const out = new Readable({
      read: () => call.resume(),
      destroy: (err, cb) => {
        call.cancel();
        cb(err);
      },
    });
    // Talos sends 1 KiB messages; handing each to the consumer costs more than the bytes. They are gathered into
    // chunks of up to 64 KiB, handed on as soon as the event loop is idle, so a slow stream is not held back.
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let scheduled = false;
    const release = () => {
      scheduled = false;
      if (!pendingBytes || out.destroyed) return;
      const chunk = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
      pending = [];
      pendingBytes = 0;
      if (!out.push(chunk)) call.pause();
    };
    call.on('data', (msg: DataMessage) => {
      const failed = msg.metadata?.error ? this.toResult(msg, method, target, address).error : undefined;
      if (failed) return out.destroy(failed);
      pending.push(msg.bytes);
      pendingBytes += msg.bytes.length;
      if (pendingBytes >= COALESCE_BYTES) release();
      else if (!scheduled) {
        scheduled = true;
        setImmediate(release);
      }
    });
    call.on('end', () => {
      release();
      out.push(null);
    });
    call.on('error', (err: { code?: grpc.status }) => {
      if (err.code === grpc.status.CANCELLED && out.destroyed) return;
      out.destroy(this.error(err, this.site(method, target, address)));
    });
    const detach = onAbort(options.signal, () => out.destroy(toTalosError({ code: grpc.status.CANCELLED, details: 'cancelled by caller' }, this.site(method, target, address))));
    out.once('close', detach);
    return out;
  }

  /** A client stream of `common.Data` chunks (EtcdRecover); resolves with the per-node results of the reply. */
  async clientStream<Item extends MessageWithMetadata>(path: string, source: AsyncIterable<Uint8Array>, target: Target, options: CallOptions = {}): Promise<NodeResult<Item>[]> {
    const method = this.method(path);
    const { address, client } = this.endpoint;
    const req = messageCodec<{ bytes: Uint8Array }>(method.requestType);
    const res = messageCodec<unknown, { messages?: Item[] }>(method.responseType);
    let call!: grpc.ClientWritableStream<{ bytes: Uint8Array }>;
    const reply = new Promise<{ messages?: Item[] }>((resolve, reject) => {
      call = client.makeClientStreamRequest(
        method.path,
        (v) => req.encode(v),
        (b) => res.decode(b),
        this.metadata(target, method),
        this.callOptions(options.timeoutMs),
        (err, value) => (err ? reject(err) : resolve(value!)),
      );
    });
    let settled = false;
    const ended = reply.then(
      () => void (settled = true),
      () => void (settled = true),
    );
    const detach = onAbort(options.signal, () => call.cancel());
    try {
      try {
        // Stop sending as soon as the node has answered: it failed the call, or will not read more.
        upload: for await (const chunk of source) {
          for (let offset = 0; offset < chunk.length; offset += UPLOAD_CHUNK_BYTES) {
            if (settled) break upload;
            if (!call.write({ bytes: chunk.subarray(offset, offset + UPLOAD_CHUNK_BYTES) })) {
              await Promise.race([new Promise<void>((resolve) => call.once('drain', resolve)), ended]);
            }
          }
        }
        call.end();
      } catch (err) {
        call.cancel();
        await ended;
        throw err;
      }
      const value = await reply.catch((err: unknown) => Promise.reject(this.error(err, this.site(method, target, address))));
      return (value.messages ?? []).map((item) => this.toResult(item, method, target, address));
    } finally {
      detach();
    }
  }
}

/** Received byte streams are handed to the consumer in chunks of up to this size. */
const COALESCE_BYTES = 64 * 1024;

/** Upload chunk size: large enough to keep per-message overhead small, far below the 32 MiB cap. */
const UPLOAD_CHUNK_BYTES = 64 * 1024;

interface DataMessage extends MessageWithMetadata {
  bytes: Buffer;
}
