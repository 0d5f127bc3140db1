import { parse as parseYaml } from 'yaml';
import type { FleetConnector } from '../fleet/connect';
import type { LoadedInventory } from '../fleet/inventory';
import { gatePolicy } from '../fleet/policy';
import { compareSemVer, imageTag, parseSemVer } from '../releases/versions';
import type { GatePolicy } from '../shared/runs';
import { onlyValue } from '../talos/replies';
import { planUpgrade, UpgradeRefusal, type ClusterUpgradeState, type NodeUpgradeState, type RolloutPolicy, type UpgradePlan } from './plan';

/** The plan, the policy its gates follow, and the nodes it is about. */
export interface PlannedUpgrade {
  plan: UpgradePlan;
  policy: GatePolicy;
  rollout: RolloutPolicy;
  soakMs?: number;
  nodes: { name: string; address: string; role: 'controlplane' | 'worker' }[];
}

/** An etcd member that does not answer its status within this long is not counted as the leader. */
const STATUS_TIMEOUT_MS = 5_000;

/** The installer and kubelet images in a node's machine config, without keeping the config (it holds keys). */
function imagesOf(configYaml: string): { install?: string; kubelet?: string } {
  const doc = parseYaml(configYaml.split(/^---$/m)[0] ?? '') as { machine?: { install?: { image?: string }; kubelet?: { image?: string } } } | null;
  return { install: doc?.machine?.install?.image, kubelet: doc?.machine?.kubelet?.image };
}

/** What every node of a cluster runs now: version, installer image, etcd leadership; and the cluster's Kubernetes version. */
export async function readUpgradeState(connector: FleetConnector, inv: LoadedInventory, cluster: string): Promise<ClusterUpgradeState> {
  const client = connector.cluster(cluster);
  const nodes: NodeUpgradeState[] = [];
  const kubelets: string[] = [];
  for (const n of inv.cluster(cluster).nodes) {
    const target = { node: n.address };
    const version = await client.version(target).then((r) => onlyValue(r).version?.tag ?? '');
    const images = imagesOf(await client.machineConfig(target));
    if (images.kubelet) kubelets.push(imageTag(images.kubelet) ?? '');
    // Leadership only orders the plan: a member that does not answer now is simply not the leader.
    const status = n.role === 'controlplane' ? await client.etcdStatus(target, { timeoutMs: STATUS_TIMEOUT_MS }).then((r) => onlyValue(r).memberStatus, () => undefined) : undefined;
    nodes.push({ name: n.name, address: n.address, role: n.role, version, ...(images.install ? { installImage: images.install } : {}), ...(status ? { etcdLeader: status.leader === status.memberId } : {}) });
  }
  const kubernetesVersion = kubelets
    .map((t) => t.replace(/^v/, ''))
    .filter((t) => parseSemVer(t))
    .sort((a, b) => compareSemVer(parseSemVer(a)!, parseSemVer(b)!))[0];
  return { cluster, nodes, ...(kubernetesVersion ? { kubernetesVersion } : {}) };
}

/** Reads the cluster and plans its upgrade to `toVersion` (the inventory's version when absent); throws UpgradeRefusal. */
export async function planClusterUpgrade(connector: FleetConnector, inv: LoadedInventory, cluster: string, toVersion?: string): Promise<PlannedUpgrade> {
  const spec = inv.cluster(cluster);
  const state = await readUpgradeState(connector, inv, cluster);
  const rollout: RolloutPolicy = { canaryCount: spec.policy.canaryCount, workerBatchSize: spec.policy.workerBatchSize, path: spec.policy.upgradePath, gates: spec.policy.gates.upgrade };
  if (spec.policy.snapshotBeforeUpgrade && !spec.backups) {
    throw new UpgradeRefusal(cluster, [`the cluster has no backups block, and an upgrade starts from a fresh verified etcd snapshot: configure backups (store, recipients, identity), or set policy.snapshotBeforeUpgrade: false to upgrade without one`]);
  }
  const plan = planUpgrade(state, toVersion ?? spec.talosVersion, rollout, spec.policy.snapshotBeforeUpgrade);
  return {
    plan,
    policy: gatePolicy(spec.policy, 'upgrade'),
    rollout,
    ...(spec.policy.soak ? { soakMs: spec.policy.soak } : {}),
    nodes: spec.nodes.map((x) => ({ name: x.name, address: x.address, role: x.role })),
  };
}
