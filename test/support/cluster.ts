import { join } from 'node:path';
import { generateSecretsBundle } from '../../src/config/secrets';
import type { LoadedInventory } from '../../src/fleet/inventory';
import { scaffoldInventory } from '../../src/fleet/scaffold';
import { startFleet, type TestFleet } from './fleet';

/** A bootstrapped simulated cluster and an inventory that manages it (the same secrets and admin talosconfig). */
export interface ManagedCluster {
  t: TestFleet;
  inventory: LoadedInventory;
}

/** Starts a bootstrapped fleet named `cluster` and writes its inventory, with `policy` as the cluster's policy block. */
export async function startManagedCluster(opts: { nodes: string; cluster: string; version?: string; policy: Record<string, unknown> }): Promise<ManagedCluster> {
  const version = opts.version ?? 'v1.10.9';
  const secrets = await generateSecretsBundle({ versionContract: version });
  const t = await startFleet({ nodes: opts.nodes, state: 'bootstrapped', version, secrets, clusterName: opts.cluster });
  const inventory = await scaffoldInventory({
    dir: join(t.dir, 'inventory'),
    cluster: opts.cluster,
    nodes: t.fleet.nodes().map((n) => ({ name: n.name, address: n.spec.address, role: n.spec.role })),
    talosVersion: version,
    approvers: (opts.policy.approvers as string[] | undefined) ?? [],
    allowSelfApproval: (opts.policy.allowSelfApproval as boolean | undefined) ?? false,
    policy: opts.policy,
    existing: { secrets, talosconfig: t.talosconfig! },
  });
  return { t, inventory };
}

/** Every gate list empty: a run that goes straight through. */
export const NO_GATES = { gates: { install: [], upgrade: [], 'upgrade-k8s': [], apply: [], restore: [] } };
