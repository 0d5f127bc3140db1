import { generateMachineConfigs } from '../config/generate';
import { renderNodeConfig } from '../config/node';
import type { ConfigPatch } from '../config/patches';
import type { LoadedInventory } from './inventory';

/** The installer image a cluster installs: the inventory's, else upstream's installer of the cluster's Talos version. */
export function installImageOf(inv: LoadedInventory, cluster: string): string {
  const spec = inv.cluster(cluster);
  return spec.installImage ?? `ghcr.io/siderolabs/installer:${spec.talosVersion}`;
}

/**
 * One node's machine configuration, rendered from the inventory exactly as `talosctl gen config --with-secrets`
 * plus the per-node settings and patches would: the same input always gives the same bytes, so a retried apply
 * sends what the first attempt sent. The result holds the cluster's CA keys (for control planes): never log it.
 */
export async function renderClusterNodeConfig(inv: LoadedInventory, cluster: string, nodeName: string, extraPatches: ConfigPatch[] = []): Promise<string> {
  const spec = inv.cluster(cluster);
  const node = inv.node(cluster, nodeName);
  const patches = inv.patches(cluster);
  const generated = await generateMachineConfigs({
    clusterName: spec.name,
    endpoint: spec.endpoint,
    secrets: inv.secrets(cluster),
    talosVersion: spec.talosVersion,
    ...(spec.kubernetesVersion ? { kubernetesVersion: spec.kubernetesVersion } : {}),
    installImage: installImageOf(inv, cluster),
    patches: patches.all,
    controlPlanePatches: patches.controlplane,
    workerPatches: patches.worker,
  });
  const base = node.role === 'controlplane' ? generated.controlplane : generated.worker;
  return renderNodeConfig(base, { hostname: node.hostname ?? node.name, installDisk: node.installDisk }, [...patches.node(node.name), ...extraPatches], `config of ${cluster}/${node.name}`);
}
