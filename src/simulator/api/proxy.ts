import * as grpc from '@grpc/grpc-js';
import type { MethodInfo } from '../../talos/codec';
import { metadataPayload, nodeErrorReply, spliceNodeMetadata } from './apid-wire';
import { mutualTlsCredentials } from '../../talos/credentials';
import { grpcCodeName } from '../../talos/errors';
import { decodePair } from '../../config/machineconfig';
import { Code, GrpcError, type CallContext, type Handler, type MessageWriter } from '../grpc/server';
import type { SimulatedNode } from '../node';
import { FLOW_CONTROL_WINDOW_BYTES, TALOS_API_PORT } from '../../talos/connection';

const identity = (b: Buffer): Buffer => b;

/** Where a target named in `nodes`/`node` listens: the fleet knows its nodes; anything else is tried at :50000. */
export type ResolveTarget = (target: string) => string;

/** Splits `nodes` values the way apid reads them: each header value may itself be a comma-separated list. */
export function splitTargets(values: string[]): string[] {
  return values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
}

interface BackendError {
  code?: number;
  details?: string;
  message?: string;
}

function errorMetadata(target: string, err: BackendError): { hostname: string; error: string; status: { code: number; message: string } } {
  const code = typeof err.code === 'number' ? err.code : Code.UNKNOWN;
  const message = err.details ?? err.message ?? 'unknown error';
  return { hostname: target, error: `rpc error: code = ${grpcCodeName(code)} desc = ${message}`, status: { code, message } };
}

interface StreamBackend {
  call: grpc.ClientWritableStream<Buffer>;
  reply: Promise<Buffer>;
}

/**
 * Copies the caller's request stream to every backend, with backpressure, until the caller ends it or every
 * backend has answered (a backend that fails early must not leave us waiting for it to drain).
 */
async function forwardRequests(requests: AsyncIterable<Buffer>, backends: StreamBackend[]): Promise<void> {
  const open = new Map(backends.map((b) => [b, b.reply.then(() => void open.delete(b), () => void open.delete(b))]));
  for await (const msg of requests) {
    if (open.size === 0) break;
    await Promise.all(
      [...open].map(([b, answered]) => (b.call.write(msg) ? Promise.resolve() : Promise.race([new Promise((r) => b.call.once('drain', r)), answered]))),
    );
  }
  for (const b of backends) b.call.end();
}

/** Serializes writes from several backends into one response stream. */
function serialized(out: MessageWriter): (messages: readonly (readonly Buffer[])[]) => Promise<void> {
  let chain = Promise.resolve();
  return (messages) => (chain = chain.then(() => out.writeMany(messages)));
}

/**
 * apid's forwarding: a call with `nodes` goes to every target (one-to-many, each reply stamped with the
 * target and failures turned into entries), a call with `node` to one target verbatim. Backends are called
 * over real gRPC with this node's os:impersonator certificate, passing the caller's roles in `talos-role`.
 */
export class ApidProxy {
  private readonly clients = new Map<string, grpc.Client>();

  constructor(
    private readonly node: SimulatedNode,
    private readonly resolve: ResolveTarget,
  ) {}

  /** Drops the backend connections (the node is powering off). */
  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }

  private client(target: string): grpc.Client {
    const address = this.resolve(target);
    let client = this.clients.get(address);
    if (!client) {
      const cfg = this.node.config!.parsed;
      const credentials = mutualTlsCredentials({ ca: decodePair(cfg.machine.ca).crt, crt: this.node.impersonator!.crt, key: this.node.impersonator!.key });
      client = new grpc.Client(address, credentials, {
        'grpc.max_receive_message_length': 32 * 1024 * 1024,
        'grpc.max_send_message_length': 32 * 1024 * 1024,
        'grpc-node.flow_control_window': FLOW_CONTROL_WINDOW_BYTES,
        'grpc.initial_reconnect_backoff_ms': 100,
        'grpc.max_reconnect_backoff_ms': 1000,
      });
      this.clients.set(address, client);
    }
    return client;
  }

  private metadata(ctx: CallContext, roles: string[]): grpc.Metadata {
    const md = new grpc.Metadata();
    for (const [key, values] of ctx.metadata) {
      if (key === 'node' || key === 'nodes' || key === 'talos-role' || key === 'proxyfrom' || key.endsWith('-bin')) continue;
      for (const v of values) md.add(key, v);
    }
    md.add('proxyfrom', ctx.authority);
    for (const r of roles) md.add('talos-role', r);
    return md;
  }

  private unaryCall(target: string, method: MethodInfo, request: Buffer, ctx: CallContext, roles: string[]): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const call = this.client(target).makeUnaryRequest(method.path, identity, identity, request, this.metadata(ctx, roles), {}, (err, value) => (err ? reject(err) : resolve(value!)));
      ctx.signal.addEventListener('abort', () => call.cancel(), { once: true });
    });
  }

  private serverStream(target: string, method: MethodInfo, request: Buffer, ctx: CallContext, roles: string[]): grpc.ClientReadableStream<Buffer> {
    const call = this.client(target).makeServerStreamRequest(method.path, identity, identity, request, this.metadata(ctx, roles), {});
    ctx.signal.addEventListener('abort', () => call.cancel(), { once: true });
    return call;
  }

  private clientStream(target: string, method: MethodInfo, ctx: CallContext, roles: string[]): { call: grpc.ClientWritableStream<Buffer>; reply: Promise<Buffer> } {
    let call!: grpc.ClientWritableStream<Buffer>;
    const reply = new Promise<Buffer>((resolve, reject) => {
      call = this.client(target).makeClientStreamRequest(method.path, identity, identity, this.metadata(ctx, roles), {}, (err, value) => (err ? reject(err) : resolve(value!)));
    });
    ctx.signal.addEventListener('abort', () => call.cancel(), { once: true });
    return { call, reply };
  }

  /** One-to-many: every target answers inside one reply. */
  oneToMany(method: MethodInfo, targets: string[], roles: string[]): Handler {
    if (method.responseStream) {
      return {
        kind: 'server-stream',
        handle: async (request, ctx, out) => {
          const write = serialized(out);
          await Promise.all(
            targets.map(async (target) => {
              // Appending common.Empty{metadata} to a stream message sets its metadata; encoded once per backend.
              const stamp = metadataPayload({ hostname: target });
              try {
                for await (const msg of this.serverStream(target, method, request, ctx, roles) as AsyncIterable<Buffer>) {
                  await write([[msg, stamp]]);
                }
              } catch (err) {
                if (!ctx.signal.aborted) await write([[nodeErrorReply(errorMetadata(target, err as BackendError), true)]]);
              }
            }),
          );
        },
      };
    }
    const reply = async (target: string, call: () => Promise<Buffer>): Promise<Buffer> => {
      try {
        return spliceNodeMetadata(await call(), { hostname: target });
      } catch (err) {
        return nodeErrorReply(errorMetadata(target, err as BackendError), false);
      }
    };
    if (method.requestStream) {
      return {
        kind: 'client-stream',
        handle: async (requests, ctx) => {
          const backends = targets.map((t) => ({ target: t, ...this.clientStream(t, method, ctx, roles) }));
          await forwardRequests(requests, backends);
          return Buffer.concat(await Promise.all(backends.map((b) => reply(b.target, () => b.reply))));
        },
      };
    }
    return {
      kind: 'unary',
      handle: async (request, ctx) => Buffer.concat(await Promise.all(targets.map((t) => reply(t, () => this.unaryCall(t, method, request, ctx, roles))))),
    };
  }

  /** One-to-one: the call goes to the target verbatim, its errors come back as they are. */
  oneToOne(method: MethodInfo, target: string, roles: string[]): Handler {
    const asGrpcError = (err: BackendError) => new GrpcError(typeof err.code === 'number' ? err.code : Code.UNKNOWN, err.details ?? err.message ?? 'unknown error');
    if (method.responseStream) {
      return {
        kind: 'server-stream',
        handle: async (request, ctx, out) => {
          try {
            for await (const msg of this.serverStream(target, method, request, ctx, roles) as AsyncIterable<Buffer>) await out.write(msg);
          } catch (err) {
            throw asGrpcError(err as BackendError);
          }
        },
      };
    }
    if (method.requestStream) {
      return {
        kind: 'client-stream',
        handle: async (requests, ctx) => {
          const backend = this.clientStream(target, method, ctx, roles);
          await forwardRequests(requests, [backend]);
          return backend.reply.catch((err: BackendError) => Promise.reject(asGrpcError(err)));
        },
      };
    }
    return { kind: 'unary', handle: (request, ctx) => this.unaryCall(target, method, request, ctx, roles).catch((err: BackendError) => Promise.reject(asGrpcError(err))) };
  }
}

/** The address apid dials for a target that is not a known node. */
export function defaultTargetAddress(target: string): string {
  return /:\d+$/.test(target) && !target.startsWith('[') ? target : `${target}:${TALOS_API_PORT}`;
}
