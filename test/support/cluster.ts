import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ageKeygen } from './backups';
import { generateSecretsBundle } from '../../src/config/secrets';
import type { LoadedInventory } from '../../src/fleet/inventory';
import { scaffoldInventory } from '../../src/fleet/scaffold';
import type { KubernetesClients } from '../../src/kubernetes/client';
import { startFleet, waitUntil, type TestFleet } from './fleet';

/** A bootstrapped simulated cluster and an inventory that manages it (the same secrets and admin talosconfig). */
export interface ManagedCluster {
  t: TestFleet;
  inventory: LoadedInventory;
}

/**
 * Starts a bootstrapped fleet named `cluster` and writes its inventory, with `policy` as the cluster's policy block;
 * `kubernetes: 'real'` runs a real Kubernetes control plane on it (about half a GiB per control plane), `kubernetesVersion`
 * sets the configs' and the inventory's Kubernetes version; `store` is the backups store URL (a directory of the
 * fleet's by default).
 */
export async function startManagedCluster(opts: { nodes: string; cluster: string; version?: string; policy: Record<string, unknown>; kubernetes?: 'real' | 'none'; kubernetesVersion?: string; store?: string }): Promise<ManagedCluster> {
  const version = opts.version ?? 'v1.10.9';
  const secrets = await generateSecretsBundle({ versionContract: version });
  const k8s = { ...(opts.kubernetes ? { kubernetes: opts.kubernetes } : {}), ...(opts.kubernetesVersion ? { kubernetesVersion: opts.kubernetesVersion } : {}) };
  const t = await startFleet({ nodes: opts.nodes, state: 'bootstrapped', version, secrets, clusterName: opts.cluster, ...k8s });
  // Backups to a directory, encrypted to an age key of the test's own: upgrades start from a verified snapshot.
  const dir = join(t.dir, 'inventory');
  mkdirSync(join(dir, opts.cluster), { recursive: true });
  mkdirSync(join(t.dir, 'snapshots'), { recursive: true });
  const identity = ageKeygen(join(dir, opts.cluster, 'backup.agekey'));
  const inventory = await scaffoldInventory({
    dir,
    cluster: opts.cluster,
    nodes: t.fleet.nodes().map((n) => ({ name: n.name, address: n.spec.address, role: n.spec.role })),
    talosVersion: version,
    ...(opts.kubernetesVersion ? { kubernetesVersion: opts.kubernetesVersion } : {}),
    approvers: (opts.policy.approvers as string[] | undefined) ?? [],
    allowSelfApproval: (opts.policy.allowSelfApproval as boolean | undefined) ?? false,
    policy: opts.policy,
    existing: { secrets, talosconfig: t.talosconfig! },
    backups: { store: opts.store ?? `file://${join(t.dir, 'snapshots')}`, recipients: [identity.recipient], identity: `${opts.cluster}/backup.agekey` },
  });
  return { t, inventory };
}

/** Every gate list empty: a run that goes straight through. */
export const NO_GATES = { gates: { install: [], upgrade: [], 'upgrade-k8s': [], apply: [], restore: [] } };

/**
 * Waits until every control plane's three static pods run as mirror pods: the health check an upgrade starts with
 * wants them, and on a loaded machine kwok may take a while after the bootstrap.
 */
export async function controlPlanePodsRunning(k8s: KubernetesClients, controlPlanes: number, timeoutMs = 180_000): Promise<void> {
  await waitUntil(
    'every control-plane mirror pod to run',
    async () => (await k8s.core.listNamespacedPod({ namespace: 'kube-system', labelSelector: 'tier=control-plane' })).items.filter((p) => p.status?.phase === 'Running').length === 3 * controlPlanes,
    timeoutMs,
  );
}
