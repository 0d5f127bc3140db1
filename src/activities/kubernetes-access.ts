import { kubernetesFromTalos, type KubernetesClients } from '../kubernetes/client';
import { FleetError } from '../errors';
import type { ActivityDeps } from './deps';

/**
 * Clients for a cluster's Kubernetes, from an admin kubeconfig minted through the Talos API by the first control
 * plane that answers, trying `except` (a node about to reboot, say) last. The kubeconfig holds a client key: it
 * stays in the activity's memory, never in a log, an error or the workflow history.
 */
export async function clusterKubernetes(deps: ActivityDeps, cluster: string, opts: { except?: string; timeoutMs?: number } = {}): Promise<KubernetesClients> {
  const cps = deps.inventory().cluster(cluster).nodes.filter((n) => n.role === 'controlplane');
  const ordered = [...cps.filter((n) => n.name !== opts.except), ...cps.filter((n) => n.name === opts.except)];
  const problems: string[] = [];
  for (const cp of ordered) {
    try {
      return await kubernetesFromTalos(deps.connector.node(cluster, cp), {}, opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : undefined);
    } catch (err) {
      problems.push(`${cp.name}: ${(err as Error).message}`);
    }
  }
  throw new FleetError('kubernetes_unavailable', `no control plane of ${cluster} minted a kubeconfig: ${problems.join('; ') || 'it has no control planes'}`, { retryable: true });
}
