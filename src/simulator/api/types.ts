import type { CallContext } from '../grpc/server';
import type { SimulatedNode } from '../node';

/** The rest of the fleet, as a node's API sees it (health checks, discovery). */
export interface FleetView {
  nodes(): SimulatedNode[];
  /** A node by address or hostname. */
  find(target: string): SimulatedNode | undefined;
}

/** A call being served by the node itself (no proxying). */
export interface LocalCall {
  node: SimulatedNode;
  roles: string[];
  ctx: CallContext;
  fleet: FleetView;
}

/* eslint-disable @typescript-eslint/no-explicit-any -- requests arrive decoded by the codec; each handler types its own. */
export type UnaryImpl = (request: any, call: LocalCall) => Promise<unknown>;
/** `send` takes a message object, or messages already encoded by the codec's fast path (`encodedData`, `encodedDataChunks`). */
export type StreamImpl = (request: any, call: LocalCall, send: (message: unknown) => Promise<void>) => Promise<void>;
export type ClientStreamImpl = (requests: AsyncIterable<any>, call: LocalCall) => Promise<unknown>;
/* eslint-enable @typescript-eslint/no-explicit-any */

/** The local implementation of one method. */
export type Impl = { unary: UnaryImpl } | { stream: StreamImpl } | { clientStream: ClientStreamImpl };

/** A unary reply in Talos's wrapper: one item for this node, no metadata (apid stamps it when proxying). */
export function one<T>(item: T): { messages: T[] } {
  return { messages: [item] };
}
