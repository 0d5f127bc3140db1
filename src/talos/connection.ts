import * as grpc from '@grpc/grpc-js';
import { Readable } from 'node:stream';
import { FleetError } from '../errors';
import { decodeData, METHODS, messageCodec, type MethodInfo } from './codec';
import { fromStatus, TalosApiError, toTalosError, type ErrorSite } from './errors';
import { PullQueue } from './pull-queue';
import type { NodeResult } from './replies';
import { hostOf, withPort } from '../address';

/** The Talos API port (apid, and the maintenance service). */
export const TALOS_API_PORT = 50000;

/** Talos caps gRPC messages at 32 MiB. */
const MAX_MESSAGE_BYTES = 32 * 1024 * 1024;

/** HTTP/2 receive window of our channels (the default is 64 KiB). */
export const FLOW_CONTROL_WINDOW_BYTES = 4 * 1024 * 1024;

/**
 * Which nodes a call is for, as talosctl does it:
 * - `node`: one-to-one; the endpoint forwards verbatim (required for COSI calls). Per-node work goes out as one
 *   call per node with `node` ({@link TalosClient.forEachNode}), as talosctl 1.14 does.
 * - `nodes`: one-to-many; the endpoint fans out and every node answers inside one reply (deprecated in Talos 1.14;
 *   refused for byte streams, whose bytes from several nodes would interleave).
 * - neither: the endpoint node itself answers.
 */
export interface Target {
  nodes?: string[];
  node?: string;
}

/** Per-call settings. */
export interface CallOptions {
  /**
   * Deadline of the whole call in ms, failover to other endpoints included; default: the client's `timeoutMs`.
   * `Infinity` means no deadline: only for long streams (following logs or events) that you end with `signal`.
   */
  timeoutMs?: number;
  /**
   * Cancels the call. Already aborted: nothing is sent. During the call: it ends with code `cancelled`, `cause`
   * the signal's reason, and `mayHaveApplied` true if the request had been sent.
   */
  signal?: AbortSignal;
}

/** One message of a server stream, from one node. */
export type NodeMessage<T> = NodeResult<T>;

/** How a connection reaches the API. */
export interface ConnectionOptions {
  /** `host` or `host:port`; the port defaults to 50000. */
  endpoints: string[];
  credentials: grpc.ChannelCredentials;
  /** Default deadline of every call, ms (30 s); finite (a single call may pass `Infinity`). */
  timeoutMs?: number;
  /**
   * Longest pause between reconnect attempts to a node that went away (it may be rebooting), ms; 250 by default, so
   * a node's return is noticed within a quarter second of its API answering again (grpc-js only reconnects while
   * calls wait, so a node that stays away costs one connection attempt per pause, at most).
   */
  maxReconnectBackoffMs?: number;
}

interface MessageWithMetadata {
  metadata?: { hostname?: string; error?: string; status?: { code?: number; message?: string } | null } | null;
}

interface Endpoint {
  address: string;
  client: grpc.Client;
}

/** `host` → `host:50000`; keeps an explicit port, brackets IPv6 literals, drops a `scheme://`. */
export function endpointAddress(endpoint: string): string {
  return withPort(endpoint.replace(/^[a-z]+:\/\//i, ''), TALOS_API_PORT);
}

/** A call in flight, which the caller's signal or {@link Connection.close} can stop; remembers which did. */
class Flight {
  stoppedBy: 'cancelled' | 'closed' | undefined;

  constructor(private readonly cancel: () => void) {}

  stop(why: 'cancelled' | 'closed'): void {
    if (this.stoppedBy) return;
    this.stoppedBy = why;
    this.cancel();
  }
}

/** Safe to repeat on the next endpoint: the connection could not be made, so the request never left. */
function canTryNext(err: TalosApiError): boolean {
  return err.grpcCode === grpc.status.UNAVAILABLE && !err.mayHaveApplied && err.code !== 'closed' && err.code !== 'cancelled';
}

/**
 * Channels to the configured endpoints and the generic machinery of a call: metadata for node targeting,
 * deadlines, failover between endpoints (only while nothing was sent), cancellation, and splitting replies
 * into per-node results.
 */
export class Connection {
  private readonly clients: Endpoint[];
  private current = 0;
  private closed = false;
  private readonly flights = new Set<Flight>();
  readonly timeoutMs: number;

  constructor(options: ConnectionOptions) {
    if (options.endpoints.length === 0) {
      throw new FleetError('no_endpoints', 'no Talos API endpoints configured: set `endpoints` in the talosconfig context or pass them explicitly');
    }
    this.timeoutMs = checkTimeout(options.timeoutMs ?? 30_000, 'timeoutMs');
    if (this.timeoutMs === Infinity) {
      throw new FleetError('invalid_option', 'timeoutMs of a client must be finite: every call needs a deadline; pass timeoutMs: Infinity to a single long stream instead');
    }
    const channelOptions: grpc.ChannelOptions = {
      'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
      'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
      // HTTP/2's default 64 KiB receive window makes a node stop and wait for our window updates every 64 messages
      // of a snapshot; a larger one keeps the stream flowing (measured: docs/benchmarks.md).
      'grpc-node.flow_control_window': FLOW_CONTROL_WINDOW_BYTES,
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': options.maxReconnectBackoffMs ?? 250,
      // Retries are a decision of the caller (a Temporal activity), never hidden in the transport.
      'grpc.enable_retries': 0,
    };
    this.clients = options.endpoints.map((e) => {
      const address = endpointAddress(e);
      return { address, client: new grpc.Client(address, options.credentials, channelOptions) };
    });
  }

  /** Closes every channel: calls in flight end with code `closed`, and so does every call made afterwards. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const flight of [...this.flights]) flight.stop('closed');
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

  /** Byte streams carry one node's bytes: from several nodes they would interleave into one corrupt stream. */
  private oneNode(target: Target, method: MethodInfo): void {
    if ((target.nodes?.length ?? 0) > 1) {
      throw new FleetError(
        'invalid_target',
        `${method.name} streams bytes from one node, but ${target.nodes!.length} were given (${target.nodes!.join(', ')}): the streams would interleave into one corrupt stream; call it once per node (forEachNode, or { node })`,
      );
    }
  }

  /** The absolute deadline of a call (shared by all its failover attempts); Infinity for none. */
  private deadline(options: CallOptions, defaultMs = this.timeoutMs): number {
    const ms = checkTimeout(options.timeoutMs ?? defaultMs, 'CallOptions.timeoutMs');
    return ms === Infinity ? Infinity : Date.now() + ms;
  }

  private site(method: MethodInfo, target: Target, address: string, node?: string): ErrorSite {
    return { method: method.path, node: node ?? target.node ?? target.nodes?.join(','), endpoint: address };
  }

  /** The error for a call that must not start: the client is closed, or the caller already cancelled. */
  private refusal(site: ErrorSite, signal: AbortSignal | undefined): TalosApiError | undefined {
    if (this.closed) return new TalosApiError(grpc.status.CANCELLED, 'the client is closed; nothing was sent', site, { sent: false, stoppedBy: 'closed' });
    if (signal?.aborted) {
      return new TalosApiError(grpc.status.CANCELLED, 'cancelled by the caller before the request was sent', site, { sent: false, stoppedBy: 'cancelled', cause: signal.reason });
    }
    return undefined;
  }

  /**
   * Registers a call so that `close()` and the caller's signal can stop it. Callers often pass one signal (an
   * activity's cancellation) to many calls, so `release` detaches it when the call ends.
   */
  private track(cancel: () => void, signal: AbortSignal | undefined): { flight: Flight; release: () => void } {
    const flight = new Flight(cancel);
    const onAbort = () => flight.stop('cancelled');
    this.flights.add(flight);
    signal?.addEventListener('abort', onAbort, { once: true });
    return {
      flight,
      release: () => {
        this.flights.delete(flight);
        signal?.removeEventListener('abort', onAbort);
      },
    };
  }

  /**
   * Whether a call that ended got as far as a stream to the node: grpc-js then names the node's address as the
   * peer, and otherwise the channel target (or 'unknown' before it has settled on an attempt).
   */
  private static sent(call: { getPeer(): string }, endpoint: Endpoint): boolean {
    const peer = call.getPeer();
    return peer !== 'unknown' && peer !== endpoint.client.getChannel().getTarget();
  }

  /** Resolves once the endpoint's channel is connected, or `stop()` says the call ended (rechecked each second). */
  private static connected(endpoint: Endpoint, stop: () => boolean): Promise<void> {
    const channel = endpoint.client.getChannel();
    return new Promise((resolve) => {
      const check = () => {
        const state = channel.getConnectivityState(true);
        if (state === grpc.connectivityState.READY || state === grpc.connectivityState.SHUTDOWN || stop()) resolve();
        else channel.watchConnectivityState(state, Date.now() + 1_000, check);
      };
      check();
    });
  }

  /** Maps how a call ended: stopped by us (`closed`, `cancelled`), else its status. */
  private failure(err: unknown, site: ErrorSite, sent: boolean, flight: Flight, signal: AbortSignal | undefined): TalosApiError {
    const when = sent ? 'after the request was sent' : 'before the request was sent';
    if (flight.stoppedBy === 'closed') return new TalosApiError(grpc.status.CANCELLED, `the client was closed ${when}`, site, { sent, stoppedBy: 'closed', cause: err });
    if (flight.stoppedBy === 'cancelled') return new TalosApiError(grpc.status.CANCELLED, `cancelled by the caller ${when}`, site, { sent, stoppedBy: 'cancelled', cause: signal?.reason });
    return toTalosError(err, site, { sent });
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

  /**
   * Runs `attempt` on the endpoints in turn, moving on only when the request certainly did not leave (the
   * connection could not be made). Every attempt shares the call's one deadline.
   */
  private async withFailover<T>(method: MethodInfo, target: Target, options: CallOptions, attempt: (endpoint: Endpoint, deadline: number) => Promise<T>): Promise<{ value: T; endpoint: Endpoint }> {
    this.metadata(target, method);
    const deadline = this.deadline(options);
    let lastError: TalosApiError | undefined;
    for (let i = 0; i < this.clients.length; i++) {
      const index = (this.current + i) % this.clients.length;
      const endpoint = this.clients[index]!;
      const refused = this.refusal(this.site(method, target, endpoint.address), options.signal);
      if (refused) throw refused;
      try {
        const value = await attempt(endpoint, deadline);
        this.current = index;
        return { value, endpoint };
      } catch (err) {
        if (!(err instanceof TalosApiError) || !canTryNext(err)) throw err;
        lastError = err;
      }
    }
    throw lastError!;
  }

  /** A unary call whose reply is `{ messages: Item[] }`; returns one result per node. */
  async unary<Req, Item extends MessageWithMetadata>(path: string, request: Req, target: Target = {}, options: CallOptions = {}): Promise<NodeResult<Item>[]> {
    const method = this.method(path);
    const { value, endpoint } = await this.withFailover(method, target, options, (ep, deadline) => this.unaryAttempt<Req, { messages?: Item[] }>(ep, method, request, target, deadline, options.signal));
    return (value.messages ?? []).map((item) => this.toResult(item, method, target, endpoint.address));
  }

  /** A unary call whose reply is used as it is (COSI replies have no per-node wrapper). */
  async call<Req, Res>(path: string, request: Req, target: Target = {}, options: CallOptions = {}): Promise<Res> {
    const method = this.method(path);
    return (await this.withFailover(method, target, options, (ep, deadline) => this.unaryAttempt<Req, Res>(ep, method, request, target, deadline, options.signal))).value;
  }

  private unaryAttempt<Req, Res>(endpoint: Endpoint, method: MethodInfo, request: Req, target: Target, deadline: number, signal: AbortSignal | undefined): Promise<Res> {
    const req = messageCodec<Req>(method.requestType);
    const res = messageCodec<unknown, Res>(method.responseType);
    const site = this.site(method, target, endpoint.address);
    return new Promise<Res>((resolve, reject) => {
      // The flight refers to `call` lazily: nothing can stop it before the call exists.
      const tracked = this.track(() => call.cancel(), signal);
      const call = endpoint.client.makeUnaryRequest<Req, Res>(
        method.path,
        (v) => req.encode(v),
        (b) => res.decode(b),
        request,
        this.metadata(target, method),
        { deadline },
        (err, value) => {
          tracked.release();
          if (err) reject(this.failure(err, site, Connection.sent(call, endpoint), tracked.flight, signal));
          else resolve(value!);
        },
      );
    });
  }

  /** A server stream; each message is tagged with its node, and a node's failure arrives as an error entry. */
  async *serverStream<Req, Msg extends MessageWithMetadata>(path: string, request: Req, target: Target = {}, options: CallOptions = {}): AsyncGenerator<NodeMessage<Msg>> {
    const method = this.method(path);
    const { value: queue, endpoint } = await this.withFailover(method, target, options, (ep, deadline) => this.openServerStream<Req, Msg>(ep, method, request, target, deadline, options.signal));
    try {
      for (;;) {
        const next = await queue.next();
        if (next.done) return;
        yield this.toResult(next.value, method, target, endpoint.address);
      }
    } finally {
      queue.close();
    }
  }

  /** Starts a server stream and waits for its first message (or end, or error) to know whether it got through. */
  private async openServerStream<Req, Msg>(endpoint: Endpoint, method: MethodInfo, request: Req, target: Target, deadline: number, signal: AbortSignal | undefined): Promise<PullQueue<Msg>> {
    const req = messageCodec<Req>(method.requestType);
    const res = messageCodec<unknown, Msg>(method.responseType);
    const site = this.site(method, target, endpoint.address);
    const call = endpoint.client.makeServerStreamRequest<Req, Msg>(method.path, (v) => req.encode(v), (b) => res.decode(b), request, this.metadata(target, method), { deadline });
    const { flight, release } = this.track(() => call.cancel(), signal);
    let answered = false;
    call.once('metadata', () => (answered = true));
    const queue = new PullQueue<Msg>(call, (err) => this.failure(err, site, answered || Connection.sent(call, endpoint), flight, signal), release);
    await queue.ready();
    return queue;
  }

  /**
   * A server stream of `common.Data` from one node, as a byte stream with backpressure: the node is only
   * asked for more when the consumer has room, so memory stays flat however large the stream is.
   */
  byteStream(path: string, request: unknown, target: Target, options: CallOptions = {}): Readable {
    const method = this.method(path);
    this.oneNode(target, method);
    this.metadata(target, method);
    const deadline = this.deadline(options);
    const req = messageCodec(method.requestType);
    let call: grpc.ClientReadableStream<DataMessage> | undefined;
    const out = new Readable({
      read: () => call?.resume(),
      destroy: (err, cb) => {
        call?.cancel();
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
      if (!out.push(chunk)) call?.pause();
    };
    const start = (attempt: number): void => {
      const index = (this.current + attempt) % this.clients.length;
      const endpoint = this.clients[index]!;
      const site = this.site(method, target, endpoint.address);
      const refused = this.refusal(site, options.signal);
      if (refused) return void out.destroy(refused);
      const c = endpoint.client.makeServerStreamRequest<unknown, DataMessage>(method.path, (v) => req.encode(v), (b) => decodeData(b), request, this.metadata(target, method), { deadline });
      call = c;
      const tracked = this.track(() => c.cancel(), options.signal);
      let answered = false;
      c.once('metadata', () => {
        answered = true;
        this.current = index;
      });
      c.on('data', (msg: DataMessage) => {
        answered = true;
        const failed = msg.metadata?.error ? this.toResult(msg, method, target, endpoint.address).error : undefined;
        if (failed) return void out.destroy(failed);
        pending.push(msg.bytes);
        pendingBytes += msg.bytes.length;
        if (pendingBytes >= COALESCE_BYTES) release();
        else if (!scheduled) {
          scheduled = true;
          setImmediate(release);
        }
      });
      let failed = false;
      c.on('end', () => {
        tracked.release();
        // grpc-js ends a failed call's stream too (it pushes the end, then emits 'error'): only a clean end ends ours.
        if (failed) return;
        release();
        out.push(null);
      });
      c.on('error', (err: unknown) => {
        failed = true;
        tracked.release();
        // The consumer destroyed the stream (and so cancelled the call): nothing to report.
        if (out.destroyed) return;
        const failure = this.failure(err, site, answered || Connection.sent(c, endpoint), tracked.flight, options.signal);
        if (!answered && canTryNext(failure) && attempt + 1 < this.clients.length) return start(attempt + 1);
        out.destroy(failure);
      });
    };
    start(0);
    return out;
  }

  /**
   * A client stream of `common.Data` chunks to one node (EtcdRecover); resolves with the per-node results of the
   * reply. It fails over to the next endpoint only until the first chunk has been handed to a connection: the
   * source cannot be read twice, so that first chunk is the only one kept to send again.
   */
  async clientStream<Item extends MessageWithMetadata>(path: string, source: AsyncIterable<Uint8Array>, target: Target, options: CallOptions = {}): Promise<NodeResult<Item>[]> {
    const method = this.method(path);
    this.oneNode(target, method);
    const chunks = uploadChunks(source)[Symbol.asyncIterator]();
    try {
      const first = await chunks.next();
      const { value: upload, endpoint } = await this.withFailover(method, target, options, (ep, deadline) => this.openClientStream<Item>(ep, method, target, deadline, options.signal, first));
      try {
        if (!first.done) {
          // Stop sending as soon as the node has answered: it failed the call, or will not read more.
          for (let next = await chunks.next(); !next.done && !upload.settled(); next = await chunks.next()) {
            if (!upload.call.write({ bytes: next.value })) await Promise.race([new Promise<void>((resolve) => upload.call.once('drain', resolve)), upload.ended]);
          }
          upload.call.end();
        }
      } catch (err) {
        // The source failed: give up the call and report the source's error.
        upload.call.cancel();
        await upload.ended;
        throw err;
      }
      const value = await upload.reply;
      return (value.messages ?? []).map((item) => this.toResult(item, method, target, endpoint.address));
    } finally {
      await chunks.return?.(undefined);
    }
  }

  /** Starts a client stream and hands it the first chunk; resolves once that chunk is on a connection. */
  private async openClientStream<Item>(endpoint: Endpoint, method: MethodInfo, target: Target, deadline: number, signal: AbortSignal | undefined, first: IteratorResult<Uint8Array>): Promise<Upload<Item>> {
    const req = messageCodec<{ bytes: Uint8Array }>(method.requestType);
    const res = messageCodec<unknown, { messages?: Item[] }>(method.responseType);
    const site = this.site(method, target, endpoint.address);
    let resolveReply!: (value: { messages?: Item[] }) => void;
    let rejectReply!: (err: TalosApiError) => void;
    const reply = new Promise<{ messages?: Item[] }>((resolve, reject) => {
      resolveReply = resolve;
      rejectReply = reject;
    });
    let settled = false;
    // The flight refers to `call` lazily: nothing can stop it before the call exists.
    const tracked = this.track(() => call.cancel(), signal);
    const call: grpc.ClientWritableStream<{ bytes: Uint8Array }> = endpoint.client.makeClientStreamRequest(
      method.path,
      (v: { bytes: Uint8Array }) => req.encode(v),
      (b: Buffer) => res.decode(b),
      this.metadata(target, method),
      { deadline },
      (err: grpc.ServiceError | null, value?: { messages?: Item[] }) => {
        settled = true;
        tracked.release();
        if (err) rejectReply(this.failure(err, site, Connection.sent(call, endpoint), tracked.flight, signal));
        else resolveReply(value!);
      },
    );
    const ended = reply.then(
      () => undefined,
      () => undefined,
    );
    if (first.done) call.end();
    else {
      call.write({ bytes: first.value });
      // grpc-js acknowledges writes before the call has a connection (it buffers them), so the sign that the call
      // gets a stream on this endpoint, after which it must never be repeated on another, is a connected channel.
      await Promise.race([Connection.connected(endpoint, () => settled), reply]);
    }
    // A failure before the first chunk left rejects here, so the failover loop can try the next endpoint.
    if (settled) await reply;
    return { call, reply, ended, settled: () => settled };
  }
}

/** A client stream in progress. */
interface Upload<Item> {
  call: grpc.ClientWritableStream<{ bytes: Uint8Array }>;
  reply: Promise<{ messages?: Item[] }>;
  /** Resolves when the call has ended, however it ended. */
  ended: Promise<void>;
  settled(): boolean;
}

/** A timeout must be a positive number of milliseconds, or Infinity for none. */
function checkTimeout(ms: number, name: string): number {
  if (!(ms > 0)) throw new FleetError('invalid_option', `${name} must be a positive number of milliseconds, or Infinity for no deadline; got ${ms}`);
  return ms;
}

/** The source cut into upload messages. */
async function* uploadChunks(source: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  for await (const chunk of source) {
    for (let offset = 0; offset < chunk.length; offset += UPLOAD_CHUNK_BYTES) yield chunk.subarray(offset, offset + UPLOAD_CHUNK_BYTES);
  }
}

/** Received byte streams are handed to the consumer in chunks of up to this size. */
const COALESCE_BYTES = 64 * 1024;

/** Upload chunk size: large enough to keep per-message overhead small, far below the 32 MiB cap. */
const UPLOAD_CHUNK_BYTES = 64 * 1024;

interface DataMessage extends MessageWithMetadata {
  bytes: Buffer;
}
