import { randomUUID } from 'node:crypto';
import { grpcCodeName } from '../../talos/errors';
import { Code, GrpcError } from '../grpc/server';
import type { MutationRecord, SimulatedNode } from '../node';

/**
 * Runs a mutating call with an entry in the node's call record: received time, what was asked (never
 * secrets), a fresh actor id for the operation, and the outcome (`ok`, or the error code it failed with).
 */
export async function recorded<T>(node: SimulatedNode, method: string, details: Record<string, unknown>, run: (actorId: string, record: MutationRecord) => Promise<T>): Promise<T> {
  const actorId = randomUUID();
  const rec = node.recordCall(method, details, actorId);
  try {
    return await run(actorId, rec);
  } catch (err) {
    rec.outcome = grpcCodeName(err instanceof GrpcError ? err.grpcCode : Code.UNKNOWN);
    throw err;
  }
}
