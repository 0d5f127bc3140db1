import { fromProtoTime } from '../../talos/codec';
import { Code, GrpcError } from '../grpc/server';
import { DEFAULT_CLUSTER_CHECKS, type ClusterUnderCheck } from '../health';
import { withRealKubernetes } from '../kubernetes/checks';
import type { SimClock } from '../timing';
import type { Impl, FleetView } from './types';
import type { SimulatedNode } from '../node';
import { delay } from '../../time';
import { healthCheckRefusal } from '../version-rules';

/** The nodes to check: the ones the caller listed, or the receiving node's cluster as discovery sees it. */
function clusterToCheck(node: SimulatedNode, fleet: FleetView, info: { controlPlaneNodes: string[]; workerNodes: string[] }): ClusterUnderCheck {
  if (info.controlPlaneNodes.length || info.workerNodes.length) {
    const pick = (list: string[]) => list.map((a) => fleet.find(a)).filter((n): n is SimulatedNode => n !== undefined);
    const unknown = [...info.controlPlaneNodes, ...info.workerNodes].filter((a) => !fleet.find(a));
    return { controlPlanes: pick(info.controlPlaneNodes), workers: pick(info.workerNodes), unknown };
  }
  const members = fleet.nodes().filter((n) => n.clusterId !== undefined && n.clusterId === node.clusterId);
  return { controlPlanes: members.filter((n) => n.role === 'controlplane'), workers: members.filter((n) => n.role === 'worker'), unknown: [] };
}


/** ClusterService.HealthCheck: upstream's named checks, run in order on the receiving node, progress streamed. */
export function clusterHandlers(clock: SimClock): Record<string, Impl> {
  return {
    HealthCheck: {
      stream: async (req: { waitTimeout?: { seconds: string; nanos: number } | null; clusterInfo?: { controlPlaneNodes: string[]; workerNodes: string[] } | null }, { node, fleet, ctx }, send) => {
        const refusal = healthCheckRefusal(node);
        if (refusal) throw refusal;
        const cluster = clusterToCheck(node, fleet, req.clusterInfo ?? { controlPlaneNodes: [], workerNodes: [] });
        const addresses = [...cluster.controlPlanes, ...cluster.workers].map((n) => n.spec.address);
        await send({ message: `discovered nodes: [${addresses.map((a) => `"${a}"`).join(' ')}]` });
        const deadline = Date.now() + (fromProtoTime(req.waitTimeout) || 20 * 60_000);
        const kubernetes = fleet.kubernetesOf?.(node);
        const checks = kubernetes ? withRealKubernetes(DEFAULT_CLUSTER_CHECKS, () => kubernetes.apiClient, clock.timeScale) : DEFAULT_CLUSTER_CHECKS;
        for (const check of checks) {
          // Up to 1.12 each check has its own timeout; from 1.13 each polls until the request's wait timeout.
          const checkDeadline = node.profile.health.perCheckTimeouts ? Math.min(deadline, Date.now() + clock.real(check.timeoutMs)) : deadline;
          await send({ message: `waiting for ${check.name}: ...` });
          let last: string | undefined;
          for (;;) {
            if (ctx.signal.aborted) return;
            const reason = await check.assert(cluster);
            if (reason === undefined) {
              await send({ message: `waiting for ${check.name}: OK` });
              break;
            }
            if (reason !== last) await send({ message: `waiting for ${check.name}: ${reason}` });
            last = reason;
            if (Date.now() >= checkDeadline) throw new GrpcError(Code.DEADLINE_EXCEEDED, `${check.name}: ${reason}: context deadline exceeded`);
            await delay(Math.max(20, Math.min(clock.real(check.intervalMs), checkDeadline - Date.now())), ctx.signal);
          }
        }
      },
    },
  };
}
