import type { CallContext } from '../grpc/server';
import type { KubernetesCluster } from '../kubernetes/cluster';
import type { MutationRecord, SimulatedNode } from '../node';

/** The rest of the fleet, as a node's API sees it (health checks, discovery). */
export interface FleetView {
  nodes(): SimulatedNode[];
  /** A node by address or hostname. */
  find(target: string): SimulatedNode | undefined;
  /** The real Kubernetes of a node's cluster; undefined when the fleet runs the lightweight model. */
  kubernetesOf?(node: SimulatedNode): KubernetesCluster | undefined;
}

/** A call being served by the node itself (no proxying). */
export interface LocalCall {
  node: SimulatedNode;
  roles: string[];
  ctx: CallContext;
  fleet: FleetView;
  /** The call's entry in the node's call record (mutating methods only); its actor id names the operation. */
  record?: MutationRecord;
}

/* eslint-disable @typescript-eslint/no-explicit-any -- requests arrive decoded by the codec; each handler types its own. */
export type UnaryImpl = (request: any, call: LocalCall) => Promise<unknown>;
/** `send` takes a message object, or messages already encoded by the codec's fast path (`encodedData`, `encodedDataChunks`). */
export type StreamImpl = (request: any, call: LocalCall, send: (message: unknown) => Promise<void>) => Promise<void>;
export type ClientStreamImpl = (requests: AsyncIterable<any>, call: LocalCall) => Promise<unknown>;
/* eslint-enable @typescript-eslint/no-explicit-any */

/** The local implementation of one method; `details` says what a mutating call asked for, for the call record (never secrets). */
export type Impl = ({ unary: UnaryImpl } | { stream: StreamImpl } | { clientStream: ClientStreamImpl }) & {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the request as decoded by the codec
  details?: (request: any) => Record<string, unknown>;
};

/** The actor id of a mutating call (see {@link LocalCall.record}). */
export function actorOf(call: LocalCall): string {
  return call.record?.actorId ?? '';
}

/** A unary reply in Talos's wrapper: one item for this node, no metadata (apid stamps it when proxying). */
export function one<T>(item: T): { messages: T[] } {
  return { messages: [item] };
}
