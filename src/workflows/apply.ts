import type { RetryPolicy } from '@temporalio/common';
import { proxyActivities, setWorkflowOptions } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { NodeConfigPlan } from '../activities/apply';
import { DEFAULT_UPGRADE_TIMINGS, type ApplyConfigInput, type UpgradeTimings } from '../shared/upgrade';
import { causeMessage, NodeFailure, Run } from './run';

export interface ApplyConfigResult {
  cluster: string;
  nodes: { node: string; outcome: 'applied' | 'rebooted' | 'skipped' | 'up-to-date' }[];
}

/** The plan as the start gate shows it: per node, what changes and whether it reboots. */
function describeRollout(cluster: string, nodes: NodeConfigPlan[], upToDate: string[]): string {
  const lines = [`apply new machine configs to ${nodes.length} node(s) of ${cluster}`];
  for (const n of nodes) lines.push(`${n.node} (${n.reboot ? 'needs a reboot: one node at a time with health gates' : 'applied live, no reboot'}):`, ...n.changes.map((c) => `  ${c}`));
  if (upToDate.length) lines.push(`unchanged: ${upToDate.join(', ')}`);
  return lines.join('\n');
}

/**
 * A machine-config rollout (`talos-fleet apply`): each node's new config rendered from the inventory (plus this
 * rollout's patches), its diff and whether it needs a reboot shown at the start gate (the node's own dry run
 * decides), then node by node, control planes first: a live apply where the node can take it, else an apply with a
 * reboot and the same health gates as an upgrade. A failure stops the run at a decision gate.
 */
export async function applyConfig(input: ApplyConfigInput): Promise<ApplyConfigResult> {
  const run = new Run('apply', input.cluster, input.requester);
  const t: UpgradeTimings = { ...DEFAULT_UPGRADE_TIMINGS, ...input.timing };
  const retry: RetryPolicy = { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 10 };
  const acts = proxyActivities<Activities>({ startToCloseTimeout: t.activityTimeoutMs, heartbeatTimeout: t.heartbeatTimeoutMs, retry });
  const checks = proxyActivities<Activities>({ startToCloseTimeout: t.checkWindowMs + t.activityTimeoutMs, heartbeatTimeout: t.heartbeatTimeoutMs, retry });
  const cluster = input.cluster;
  const patches = input.patches ?? [];
  const results: ApplyConfigResult['nodes'] = [];

  const applyNode = (n: NodeConfigPlan): Promise<void> =>
    run.atomic(async () => {
      const before = n.reboot ? await acts.readNode({ cluster, node: n.node }) : undefined;
      run.node(n.node, 'working', n.reboot ? 'applying its new config with a reboot' : 'applying its new config live');
      const applied = await acts.applyNodeConfig({ cluster, node: n.node, patches, reboot: n.reboot });
      run.node(n.node, 'working', applied.detail);
      if (before) {
        await run.waitFor('reboot', n.node, t.nodeUpgradeTimeoutMs, t.pollIntervalMs, () => checks.checkNodeRebooted({ cluster, node: n.node, before, windowMs: t.checkWindowMs, pollMs: t.pollIntervalMs })).catch((err: unknown) => {
          throw new NodeFailure(n.node, 'reboot', `${n.node} did not come back after applying its config: ${causeMessage(err)}`);
        });
      }
      await run.waitFor('node health', n.node, t.healthTimeoutMs, t.pollIntervalMs, () => checks.checkNodeHealthy({ cluster, node: n.node, windowMs: t.checkWindowMs, pollMs: t.pollIntervalMs })).catch((err: unknown) => {
        throw new NodeFailure(n.node, 'node health', `${n.node} is not healthy with its new config: ${causeMessage(err)}`);
      });
      if (before) {
        await run.waitFor('cluster health', n.node, t.healthTimeoutMs, t.pollIntervalMs, () => checks.checkClusterHealth({ cluster, windowMs: t.checkWindowMs })).catch((err: unknown) => {
          throw new NodeFailure(n.node, 'cluster health', `the cluster is not healthy after ${n.node} rebooted: ${causeMessage(err)}`);
        });
      }
      run.node(n.node, 'done', n.reboot ? 'new config, rebooted and healthy' : 'new config applied live');
    });

  return run.execute(
    async () => {
      run.phase('plan', `rendering each node's config and comparing it with what the node runs`);
      const plan = await acts.planConfigRollout({ cluster, ...(input.nodes ? { nodes: input.nodes } : {}), patches });
      run.setPolicy(plan.policy);
      run.setNodes(plan.allNodes);
      for (const name of plan.upToDate) {
        run.node(name, 'done', 'config unchanged');
        results.push({ node: name, outcome: 'up-to-date' });
      }
      if (!plan.nodes.length) return { cluster, nodes: results };
      run.phase('approval', 'waiting for approval to apply');
      await run.approval('start', describeRollout(cluster, plan.nodes, plan.upToDate));
      run.phase('apply', 'applying node by node');
      const ordered = [...plan.nodes.filter((n) => n.role === 'controlplane'), ...plan.nodes.filter((n) => n.role === 'worker')];
      for (const n of ordered) {
        run.checkpoint();
        const outcome = await run.withDecision(n.node, () => applyNode(n));
        results.push({ node: n.node, outcome: outcome === 'skipped' ? 'skipped' : n.reboot ? 'rebooted' : 'applied' });
      }
      return { cluster, nodes: results };
    },
    (r) => `new configs on ${cluster}: ${r.nodes.filter((n) => n.outcome === 'applied').length} applied live, ${r.nodes.filter((n) => n.outcome === 'rebooted').length} rebooted, ${r.nodes.filter((n) => n.outcome === 'skipped').length} skipped, ${r.nodes.filter((n) => n.outcome === 'up-to-date').length} unchanged`,
  );
}

// A rollout finishes on the code it started with.
setWorkflowOptions({ versioningBehavior: 'PINNED' }, applyConfig);
