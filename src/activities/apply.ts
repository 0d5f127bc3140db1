import { parsePatch } from '../config/patches';
import { configChanges, describeChange } from '../fleet/config-diff';
import { gatePolicy } from '../fleet/policy';
import { renderClusterNodeConfig } from '../fleet/render';
import type { GatePolicy } from '../shared/runs';
import { onlyValue } from '../talos/replies';
import { kubernetesDowngrades } from '../upgrade/kubernetes-config';
import type { ActivityDeps } from './deps';
import { permanent } from './failures';

/** What a rollout will do to one node. */
export interface NodeConfigPlan {
  node: string;
  role: 'controlplane' | 'worker';
  /** The changes, one line each, secret values hidden. */
  changes: string[];
  /** The node needs a reboot to take the change (the node's own dry-run says so). */
  reboot: boolean;
}

export interface ConfigRolloutPlan {
  cluster: string;
  nodes: NodeConfigPlan[];
  upToDate: string[];
  policy: GatePolicy;
  allNodes: { name: string; address: string; role: 'controlplane' | 'worker' }[];
}

/** The config rollout's activities: each compares the node's config with the target first, so nothing is applied twice. */
export function applyActivities(deps: ActivityDeps) {
  const render = async (cluster: string, node: string, patches: string[]) =>
    renderClusterNodeConfig(
      deps.inventory(),
      cluster,
      node,
      patches.map((p, i) => parsePatch(p, `patch ${i + 1} of the rollout`)),
    );

  return {
    /**
     * Renders each node's new config, compares it with what the node runs (the diff, secret values hidden), and asks
     * the node in a dry run whether it would need a reboot, as `talosctl apply-config --dry-run` does.
     */
    async planConfigRollout(input: { cluster: string; nodes?: string[]; patches?: string[] }): Promise<ConfigRolloutPlan> {
      const inv = deps.inventory();
      const spec = inv.cluster(input.cluster);
      const unknown = (input.nodes ?? []).filter((n) => !spec.nodes.some((x) => x.name === n));
      if (unknown.length) throw permanent('UnknownNode', `cluster ${input.cluster} has no node ${unknown.join(', ')}; its nodes: ${spec.nodes.map((n) => n.name).join(', ')}`);
      const selected = spec.nodes.filter((n) => !input.nodes?.length || input.nodes.includes(n.name));
      const client = deps.connector.cluster(input.cluster);
      const nodes: NodeConfigPlan[] = [];
      const upToDate: string[] = [];
      const downgrades: string[] = [];
      for (const n of selected) {
        const next = await render(input.cluster, n.name, input.patches ?? []);
        const current = await client.machineConfig({ node: n.address });
        downgrades.push(...kubernetesDowngrades(current, next).map((d) => `${n.name}: ${d}`));
        const changes = configChanges(current, next);
        if (!changes.length) {
          upToDate.push(n.name);
          continue;
        }
        const dry = onlyValue(await client.applyConfiguration({ data: next, mode: 'AUTO', dryRun: true }, { node: n.address }));
        nodes.push({ node: n.name, role: n.role, changes: changes.map(describeChange), reboot: dry.mode === 'REBOOT' });
      }
      if (downgrades.length) {
        throw permanent(
          'KubernetesDowngrade',
          `the rollout to ${input.cluster} would downgrade Kubernetes (${downgrades.join('; ')}): the nodes run newer images than the inventory's kubernetesVersion renders; set the cluster's kubernetesVersion to what upgrade-k8s installed, or pin the images with a patch. No node was changed.`,
        );
      }
      return { cluster: input.cluster, nodes, upToDate, policy: gatePolicy(spec.policy, 'apply'), allNodes: spec.nodes.map((x) => ({ name: x.name, address: x.address, role: x.role })) };
    },

    /** Applies a node's new config once: a node that already runs it (a lost reply, a retried attempt) is left alone. */
    async applyNodeConfig(input: { cluster: string; node: string; patches?: string[]; reboot: boolean }): Promise<{ applied: boolean; detail: string }> {
      const node = deps.inventory().node(input.cluster, input.node);
      const client = deps.connector.cluster(input.cluster);
      const next = await render(input.cluster, node.name, input.patches ?? []);
      if (!configChanges(await client.machineConfig({ node: node.address }), next).length) return { applied: false, detail: 'already runs the new config' };
      const reply = onlyValue(await client.applyConfiguration({ data: next, mode: input.reboot ? 'REBOOT' : 'NO_REBOOT' }, { node: node.address }));
      return { applied: true, detail: reply.modeDetails || (input.reboot ? 'applied; rebooting' : 'applied without a reboot') };
    },
  };
}
