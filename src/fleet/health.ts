import type { FleetConnector } from './connect';
import type { LoadedInventory } from './inventory';

/** The outcome of one run of the cluster health check. */
export interface HealthResult {
  healthy: boolean;
  /** The last progress line (`waiting for etcd to be healthy: ...`) or the failure. */
  detail: string;
}

/**
 * Runs upstream's named health checks (ClusterService/HealthCheck, what `talosctl health` calls) on the first
 * control plane for up to `windowMs`, with the inventory's nodes as the cluster, reporting each progress line.
 */
export async function clusterHealth(connector: FleetConnector, inv: LoadedInventory, cluster: string, windowMs: number, onLine: (line: string) => void = () => undefined): Promise<HealthResult> {
  const spec = inv.cluster(cluster);
  const controlPlaneNodes = spec.nodes.filter((n) => n.role === 'controlplane').map((n) => n.address);
  const workerNodes = spec.nodes.filter((n) => n.role === 'worker').map((n) => n.address);
  let last = 'the health check did not start';
  try {
    const stream = connector.cluster(cluster).healthCheck({ waitTimeoutMs: windowMs, controlPlaneNodes, workerNodes }, { node: controlPlaneNodes[0]! }, { timeoutMs: windowMs + 10_000 });
    for await (const m of stream) {
      if (m.error) return { healthy: false, detail: m.error.message };
      last = m.value.message;
      onLine(last);
    }
    return { healthy: true, detail: 'all health checks passed' };
  } catch (err) {
    return { healthy: false, detail: `${last} (${(err as Error).message})` };
  }
}
