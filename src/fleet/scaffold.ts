import { join } from 'node:path';
import { stringify as stringifyYaml } from 'yaml';
import { writeFilesAtomically } from '../config/files';
import { generateMachineConfigs } from '../config/generate';
import { generateSecretsBundle, stringifySecretsBundle, type SecretsBundle } from '../config/secrets';
import { stringifyTalosconfig, type Talosconfig } from '../config/talosconfig';
import { loadInventory, type LoadedInventory } from './inventory';

/** A node to put in a scaffolded inventory. */
export interface ScaffoldNode {
  name: string;
  address: string;
  role: 'controlplane' | 'worker';
  port?: number;
}

/** What a new cluster's inventory entry needs. */
export interface ScaffoldInput {
  /** Directory of fleet.yaml; the cluster's key material goes to `DIR/CLUSTER/`. */
  dir: string;
  cluster: string;
  nodes: ScaffoldNode[];
  talosVersion: string;
  kubernetesVersion?: string;
  approvers: string[];
  allowSelfApproval: boolean;
  /** Extra policy fields (durations as Go strings: `approvalTimeout: 30s`). */
  policy?: Record<string, unknown>;
  /** The cluster's backups block as the inventory spells it (store URL, recipients, identity file). */
  backups?: Record<string, unknown>;
  /** An existing cluster's secrets and admin talosconfig; new ones are generated when absent. */
  existing?: { secrets: SecretsBundle; talosconfig: Talosconfig };
}

/**
 * Writes a new inventory with one cluster: a fresh secrets bundle and admin talosconfig under `DIR/CLUSTER/` (mode
 * 0600) and `DIR/fleet.yaml` pointing at them, all-or-nothing. Used by `talos-fleet dev` and the tests.
 */
export async function scaffoldInventory(input: ScaffoldInput): Promise<LoadedInventory> {
  const controlPlanes = input.nodes.filter((n) => n.role === 'controlplane');
  const endpoint = `https://${controlPlanes[0]!.address}:6443`;
  const secrets = input.existing?.secrets ?? (await generateSecretsBundle({ versionContract: input.talosVersion }));
  const talosconfig =
    input.existing?.talosconfig ??
    (
      await generateMachineConfigs({
        clusterName: input.cluster,
        endpoint,
        secrets,
        talosVersion: input.talosVersion,
        ...(input.kubernetesVersion ? { kubernetesVersion: input.kubernetesVersion } : {}),
        talosconfigEndpoints: controlPlanes.map((n) => n.address),
      })
    ).talosconfig;
  const inventory = {
    clusters: [
      {
        name: input.cluster,
        endpoint,
        talosVersion: input.talosVersion,
        ...(input.kubernetesVersion ? { kubernetesVersion: input.kubernetesVersion } : {}),
        secrets: `${input.cluster}/secrets.yaml`,
        talosconfig: `${input.cluster}/talosconfig`,
        nodes: input.nodes.map((n) => ({ name: n.name, address: n.address, role: n.role, ...(n.port && n.port !== 50000 ? { port: n.port } : {}) })),
        policy: { approvers: input.approvers, allowSelfApproval: input.allowSelfApproval, ...input.policy },
        ...(input.backups ? { backups: input.backups } : {}),
      },
    ],
  };
  const path = join(input.dir, 'fleet.yaml');
  writeFilesAtomically([
    { path: join(input.dir, input.cluster, 'secrets.yaml'), content: stringifySecretsBundle(secrets), mode: 0o600 },
    { path: join(input.dir, input.cluster, 'talosconfig'), content: stringifyTalosconfig(talosconfig), mode: 0o600 },
    { path, content: `# The clusters this talos-fleet deployment manages (see README: Inventory).\n${stringifyYaml(inventory)}` },
  ]);
  return loadInventory(path);
}
