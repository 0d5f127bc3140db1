import { isEncoded, isEncodedBatch, messageCodec, METHODS, type MethodInfo } from '../../talos/codec';
import { Code, GrpcError, type CallContext, type Handler, type MessageWriter, type Router } from '../grpc/server';
import type { MutationRecord, SimulatedNode } from '../node';
import type { SimClock } from '../timing';
import { isAllowed } from './authz';
import { clusterHandlers } from './cluster';
import { cosiHandlers } from './cosi';
import { etcdHandlers } from './etcd';
import { machineHandlers } from './machine';
import { maintenanceHandlers } from './maintenance';
import { apidMaintenanceHandlers } from './maintenance-apid';
import { imageHandlers } from './image';
import { lifecycleHandlers } from './lifecycle';
import { ApidProxy, splitTargets } from './proxy';
import { isMutating, outcomeOf } from './record';
import type { FleetView, Impl, LocalCall } from './types';

const ALL_ROLES = ['os:admin', 'os:operator', 'os:reader', 'os:etcd:backup'];

/** Roles of the caller: the certificate's O values, or the forwarded `talos-role` when an impersonator proxies. */
export function callerRoles(ctx: CallContext, rbacEnabled: boolean): string[] {
  if (!rbacEnabled) return ALL_ROLES;
  const o = ctx.peerCertificate?.subject?.O;
  const orgs = (Array.isArray(o) ? o : o ? [o] : []).filter((v) => v !== '');
  if (orgs.includes('os:impersonator') && ctx.metadata.has('talos-role')) return splitTargets(ctx.metadata.get('talos-role')!);
  return orgs;
}

/** Settles a call's record entry with how the call ended (a no-op for calls that are not recorded). */
async function settle<T>(record: MutationRecord | undefined, run: () => Promise<T>): Promise<T> {
  try {
    const result = await run();
    if (record) record.outcome = 'ok';
    return result;
  } catch (err) {
    if (record) record.outcome = outcomeOf(err);
    throw err;
  }
}

/**
 * A call refused before any implementation runs (not authorized, not served in maintenance mode). Not recorded:
 * the call record holds the calls the node acted on, and an unauthorized caller cannot make it act.
 */
function refused(method: MethodInfo, err: GrpcError): Handler {
  if (method.responseStream) return { kind: 'server-stream', handle: () => Promise.reject(err) };
  if (method.requestStream) return { kind: 'client-stream', handle: () => Promise.reject(err) };
  return { kind: 'unary', handle: () => Promise.reject(err) };
}

async function* decoded(requests: AsyncIterable<Buffer>, type: string): AsyncGenerator<unknown> {
  const codec = messageCodec(type);
  for await (const r of requests) yield codec.decode(r);
}

/**
 * Wraps a local implementation with decoding of requests and encoding of replies; a mutating method's call is
 * recorded on receipt and settled with its outcome before the reply goes out.
 */
function local(node: SimulatedNode, method: MethodInfo, impl: Impl, call: (ctx: CallContext) => LocalCall): Handler {
  const req = messageCodec(method.requestType);
  const res = messageCodec(method.responseType);
  // MachineService methods are recorded by name (`Upgrade`); the others with their service (`LifecycleService.Upgrade`).
  const recordName = method.service === 'machine.MachineService' ? method.name : `${method.service.split('.').pop()}.${method.name}`;
  const begin = (request: unknown) => (isMutating(method.path) ? node.recordCall(recordName, impl.details?.(request) ?? {}) : undefined);
  if ('stream' in impl) {
    const send = (out: MessageWriter, m: unknown) => (isEncodedBatch(m) ? out.writeMany(m.messages) : out.write(isEncoded(m) ? m.encoded : res.encode(m)));
    return {
      kind: 'server-stream',
      handle: (request, ctx, out) => {
        const message = req.decode(request);
        const record = begin(message);
        return settle(record, () => impl.stream(message, { ...call(ctx), record }, (m) => send(out, m)));
      },
    };
  }
  if ('clientStream' in impl) {
    return {
      kind: 'client-stream',
      handle: (requests, ctx) => {
        const record = begin(undefined);
        return settle(record, async () => res.encode(await impl.clientStream(decoded(requests, method.requestType), { ...call(ctx), record })));
      },
    };
  }
  return {
    kind: 'unary',
    handle: (request, ctx) => {
      const message = req.decode(request);
      const record = begin(message);
      return settle(record, async () => res.encode(await impl.unary(message, { ...call(ctx), record })));
    },
  };
}

function implementation(method: MethodInfo, clock: SimClock, node: SimulatedNode): Impl | undefined {
  // A service the node's Talos does not have (ImageService before 1.13, say) is unknown to its gRPC server.
  if (!node.profile.apiServices.includes(method.service)) return undefined;
  switch (method.service) {
    case 'machine.MachineService':
      return machineHandlers[method.name] ?? etcdHandlers[method.name];
    case 'machine.ImageService':
      return imageHandlers[method.name];
    case 'machine.LifecycleService':
      return lifecycleHandlers(clock)[method.name];
    case 'cluster.ClusterService':
      return clusterHandlers(clock)[method.name];
    case 'cosi.resource.State':
      return cosiHandlers[method.name];
    default:
      return undefined;
  }
}

/**
 * The request path of one simulated node, in apid's order: maintenance mode serves its own small API;
 * otherwise `nodes` fans out, `node` forwards, and anything else is authorized against the rule table
 * and served locally.
 */
export function nodeRouter(node: SimulatedNode, fleet: FleetView, clock: SimClock, proxy: ApidProxy): Router {
  return (path, ctx) => {
    const method = METHODS.get(path);
    if (!method) return undefined;
    if (node.inMaintenance) {
      if (node.profile.maintenance.server === 'maintenance-service') {
        const impl = maintenanceHandlers[method.path];
        if (!impl) return refused(method, new GrpcError(Code.UNIMPLEMENTED, 'API is not implemented in maintenance mode'));
        return local(node, method, impl, (c) => ({ node, roles: ['os:reader'], ctx: c, fleet }));
      }
      // 1.13+: apid itself, with node routing disabled (node/nodes ignored) and every caller os:reader.
      const readerRoles = ['os:reader'];
      if (!isAllowed(method.path, readerRoles, node.version, true)) return refused(method, new GrpcError(Code.PERMISSION_DENIED, 'not authorized'));
      const impl = apidMaintenanceHandlers[method.path] ?? implementation(method, clock, node);
      if (!impl) return refused(method, new GrpcError(Code.UNIMPLEMENTED, `method ${method.name} is not implemented by the simulator`));
      return local(node, method, impl, (c) => ({ node, roles: readerRoles, ctx: c, fleet }));
    }
    const roles = callerRoles(ctx, node.rbacEnabled);
    if (!ctx.metadata.has('proxyfrom')) {
      const nodes = ctx.metadata.get('nodes');
      const single = ctx.metadata.get('node');
      if (nodes) {
        const allowed = node.profile.proxying.nodesAllowedFor;
        if (allowed !== 'all' && !allowed.some((prefix) => method.path.startsWith(prefix))) {
          return refused(method, new GrpcError(Code.INVALID_ARGUMENT, `one-2-many proxying is not supported for method ${method.path}`));
        }
        if (method.service === 'cosi.resource.State') return refused(method, new GrpcError(Code.INVALID_ARGUMENT, 'one-to-many proxying is not supported for COSI methods'));
        if (node.profile.proxying.nodesDeprecated) node.log('apid', `multi-node proxying is deprecated: ${method.path} with nodes ${splitTargets(nodes).join(',')}`);
        return proxy.oneToMany(method, splitTargets(nodes), roles);
      }
      if (single) {
        const targets = splitTargets(single);
        if (targets.length !== 1) return refused(method, new GrpcError(Code.INVALID_ARGUMENT, `node metadata must have exactly one value, got ${targets.length}`));
        return proxy.oneToOne(method, targets[0]!, roles);
      }
    }
    if (!isAllowed(method.path, roles, node.version, false)) return refused(method, new GrpcError(Code.PERMISSION_DENIED, 'not authorized'));
    const impl = implementation(method, clock, node);
    if (!impl && !node.profile.apiServices.includes(method.service)) return refused(method, new GrpcError(Code.UNIMPLEMENTED, `unknown service ${method.service}`));
    if (!impl) return refused(method, new GrpcError(Code.UNIMPLEMENTED, `method ${method.name} is not implemented by the simulator`));
    return local(node, method, impl, (c) => ({ node, roles, ctx: c, fleet }));
  };
}
