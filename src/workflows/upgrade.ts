import type { RetryPolicy } from '@temporalio/common';
import { ApplicationFailure, executeChild, proxyActivities, setWorkflowOptions, sleep, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { TARGET_VERSION } from '../shared/search-attributes';
import { DEFAULT_UPGRADE_TIMINGS, type UpgradeClusterInput, type UpgradeTimings } from '../shared/upgrade';
import { describePlan, type PlannedNodeUpgrade, type UpgradeHop } from '../upgrade/plan';
import { sideWorkflowId } from '../shared/names';
import { causeMessage, NodeFailure, Run, stepFailure } from './run';
import { snapshotCluster } from './snapshot';

/** How each node of a rolling upgrade ended. */
export interface NodeUpgradeResult {
  node: string;
  from: string;
  to: string;
  outcome: 'upgraded' | 'skipped' | 'up-to-date';
}

export interface UpgradeClusterResult {
  cluster: string;
  to: string;
  hops: string[];
  nodes: NodeUpgradeResult[];
  /** The verified snapshot taken before the first change. */
  snapshot?: string;
}

/** A node's look before its upgrade. */
type Prepared = Awaited<ReturnType<Activities['prepareNodeUpgrade']>>;

function activitiesFor(t: UpgradeTimings) {
  const retry: RetryPolicy = { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 10 };
  return {
    acts: proxyActivities<Activities>({ startToCloseTimeout: t.activityTimeoutMs, heartbeatTimeout: t.heartbeatTimeoutMs, retry }),
    checks: proxyActivities<Activities>({ startToCloseTimeout: t.checkWindowMs + t.activityTimeoutMs, heartbeatTimeout: t.heartbeatTimeoutMs, retry }),
    // Pulls, installers and drains: their own deadlines (activityTimeoutMs, drainTimeoutMs) end them first.
    long: proxyActivities<Activities>({ startToCloseTimeout: t.drainTimeoutMs + t.activityTimeoutMs, heartbeatTimeout: t.heartbeatTimeoutMs, retry }),
  };
}

/**
 * A rolling Talos upgrade (talos-ops.md §2, talos-lines.md §1): plan, preflight, start gate; per hop the control
 * planes one at a time (etcd guard each time, leader last after forfeiting leadership), then canary workers, then
 * worker batches. Each node, with the API its current version speaks: the legacy MachineService.Upgrade sent once,
 * or (1.13+) the installer pulled and run, its Node drained through the Kubernetes API and one Reboot; its next boot
 * awaited on the target version (a node back on its old version rolled back: a failure), healthy, its Node Ready and
 * uncordoned (1.13+), cluster healthy, soak. Before a hop to etcd 3.7 after one off etcd 3.5, etcd's log must
 * have been snapshotted past what 3.5 wrote (see UpgradeHop.etcdLogCheck). A failed node stops the run at a decision
 * gate (retry, rollback, skip, abort) and no further node is touched until someone decides.
 */
export async function upgradeCluster(input: UpgradeClusterInput): Promise<UpgradeClusterResult> {
  const run = new Run('upgrade', input.cluster, input.requester);
  const t: UpgradeTimings = { ...DEFAULT_UPGRADE_TIMINGS, ...input.timing };
  const { acts, checks, long } = activitiesFor(t);
  const cluster = input.cluster;
  const results = new Map<string, NodeUpgradeResult>();
  let snapshotId: string | undefined;

  /**
   * One node's upgrade, atomic with respect to aborts and cancellation: it is finished once started. `prepared` is
   * the node's look before the upgrade when the caller already took it (to pick the control plane that is not leader).
   */
  const upgradeNode = (step: PlannedNodeUpgrade, prepared?: Prepared): Promise<void> =>
    run.atomic(async () => {
      const node = step.node;
      if (step.role === 'controlplane') run.node(node, 'working', 'checking that etcd can lose this member for a while');
      const { before, etcd } = prepared ?? (await checks.prepareNodeUpgrade({ cluster, node }));
      if (etcd && !etcd.done) throw new NodeFailure(node, 'etcd guard', `etcd is not safe to upgrade ${node}: ${etcd.detail}`, false);
      if (etcd?.leader === node) run.node(node, 'working', (await acts.forfeitLeadership({ cluster, node })).detail);
      if (before.version === step.to) {
        results.set(node, { node, from: step.from, to: step.to, outcome: 'up-to-date' });
        run.node(node, 'done', `already on ${step.to}`);
        return;
      }
      run.node(node, 'working', `upgrading ${before.version} → ${step.to}`);
      if (step.api === 'lifecycle') await installDrainReboot(step, before);
      else run.node(node, 'working', (await acts.sendLegacyUpgrade({ cluster, node, image: step.image, to: step.to, before })).detail);
      const back = await run
        .waitFor('upgrade', node, t.nodeUpgradeTimeoutMs, t.pollIntervalMs, () => checks.checkNodeUpgraded({ cluster, node, to: step.to, before, windowMs: t.checkWindowMs, pollMs: t.pollIntervalMs }))
        .catch((err: unknown) => {
          throw new NodeFailure(node, 'upgrade', `${node} did not come back on ${step.to}: ${causeMessage(err)}`, false);
        });
      if (back.outcome === 'rolled-back') throw new NodeFailure(node, 'upgrade', `${node} ${back.detail}`, true);
      run.node(node, 'working', `on ${step.to}; checking the node's and the cluster's health`);
      const nodeHealthy = () =>
        run.waitFor('node health', node, t.healthTimeoutMs, t.pollIntervalMs, () => checks.checkNodeHealthy({ cluster, node, windowMs: t.checkWindowMs, pollMs: t.pollIntervalMs })).catch((err: unknown) => {
          throw new NodeFailure(node, 'node health', `${node} is on ${step.to} but not healthy: ${causeMessage(err)}`, true);
        });
      const clusterHealthy = () =>
        run.waitFor('cluster health', node, t.healthTimeoutMs, t.pollIntervalMs, () => checks.checkClusterHealth({ cluster, windowMs: t.checkWindowMs })).catch((err: unknown) => {
          throw new NodeFailure(node, 'cluster health', `the cluster is not healthy after ${node}'s upgrade: ${causeMessage(err)}`, true);
        });
      // The legacy API uncordons by itself; after a client-side drain the client uncordons, before the cluster's
      // health check (which wants every Node schedulable). The cluster's check waits for the node's own: started
      // while the node is still coming up, a failed check would wait upstream's poll interval (5 s) to look again.
      const uncordoned = () =>
        run.waitFor('Node Ready', node, t.healthTimeoutMs, t.pollIntervalMs, () => checks.uncordonWhenReady({ cluster, node, windowMs: t.checkWindowMs, pollMs: t.pollIntervalMs })).then(
          (ready) => run.node(node, 'working', ready.detail),
          (err: unknown) => {
            throw new NodeFailure(node, 'Node Ready', `${node} is on ${step.to} but its Node is not Ready: ${causeMessage(err)}`, true);
          },
        );
      await Promise.all([nodeHealthy(), ...(step.api === 'lifecycle' ? [uncordoned()] : [])]);
      await clusterHealthy();
      if (t.soakMs) {
        run.node(node, 'working', `soaking for ${Math.round(t.soakMs / 1000)} s`);
        await sleep(t.soakMs);
      }
      results.set(node, { node, from: step.from, to: step.to, outcome: 'upgraded' });
      run.node(node, 'done', `upgraded to ${step.to}`);
    });

  /**
   * The 1.13+ path (talos-lines.md §1): pull the installer, run it (the node keeps running), drain its Node through
   * the Kubernetes API, reboot. Failures before the reboot leave the node on its old version: nothing to roll back.
   */
  const installDrainReboot = async (step: PlannedNodeUpgrade, before: Prepared['before']): Promise<void> => {
    const node = step.node;
    const failed = (what: string, installed = false) => (err: unknown) => {
      // After the installer, the other boot slot holds the target: whoever reboots the node next boots it.
      const note = installed ? `; ${node} still runs ${before.version}, with ${step.to} installed in its other boot slot: its next reboot boots ${step.to}` : '';
      throw new NodeFailure(node, what, `${what} of ${node} failed: ${causeMessage(err)}${note}`, false);
    };
    run.node(node, 'working', `pulling ${step.image}`);
    await long.pullInstaller({ cluster, node, image: step.image, timeoutMs: t.activityTimeoutMs }).catch(failed('the installer pull'));
    run.node(node, 'working', 'running the installer');
    run.node(node, 'working', (await long.runInstaller({ cluster, node, image: step.image, to: step.to, before, timeoutMs: t.activityTimeoutMs }).catch(failed('the install'))).detail);
    run.node(node, 'working', 'draining its Node');
    run.node(node, 'working', (await long.drainForUpgrade({ cluster, node, timeoutMs: t.drainTimeoutMs, retryMs: t.pollIntervalMs }).catch(failed('the drain', true))).detail);
    run.node(node, 'working', (await acts.rebootForUpgrade({ cluster, node, before })).detail);
  };

  /** Rolls a failed node back (one Rollback), waits for it, and ends the run. */
  const rollBack = async (failure: NodeFailure, decidedBy: string): Promise<never> => {
    await run.atomic(async () => {
      const before = await acts.readNode({ cluster, node: failure.node });
      run.node(failure.node, 'working', `rolling back (decided by ${decidedBy})`);
      await acts.sendRollback({ cluster, node: failure.node, before });
      const back = await run.waitFor('rollback', failure.node, t.nodeUpgradeTimeoutMs, t.pollIntervalMs, () => checks.checkNodeRebooted({ cluster, node: failure.node, before, windowMs: t.checkWindowMs, pollMs: t.pollIntervalMs }));
      run.node(failure.node, 'failed', `rolled back: ${back.detail}`);
    });
    throw ApplicationFailure.create({ type: 'RolledBack', message: `${failure.node} was rolled back (decided by ${decidedBy}) after: ${failure.message}; the run stopped there`, nonRetryable: true });
  };

  /** Upgrades a node; on failure asks what to do, and does it. */
  const upgradeWithDecision = async (step: PlannedNodeUpgrade, prepared?: Prepared): Promise<void> => {
    // A look taken before the first attempt is stale for a retry.
    const outcome = await run.withDecision(step.node, (attempt) => upgradeNode(step, attempt === 1 ? prepared : undefined), rollBack);
    if (outcome === 'skipped') results.set(step.node, { node: step.node, from: step.from, to: step.to, outcome: 'skipped' });
  };

  /** A hop: control planes one at a time (the current etcd leader last), canaries, then worker batches in parallel. */
  const runHop = async (hop: UpgradeHop, index: number): Promise<void> => {
    run.phase(`hop-${index + 1}`, `hop ${index + 1}: to ${hop.to}`);
    const remaining = [...hop.controlPlanes];
    while (remaining.length) {
      run.checkpoint();
      // The plan put the leader last, but leadership moves: look at the next one, and take another while it leads.
      let next = remaining[0]!;
      let prepared = await checks.prepareNodeUpgrade({ cluster, node: next.node });
      const other = remaining.find((n) => n !== next);
      if (prepared.etcd?.leader === next.node && other) {
        next = other;
        prepared = await checks.prepareNodeUpgrade({ cluster, node: next.node });
      }
      remaining.splice(remaining.indexOf(next), 1);
      await upgradeWithDecision(next, prepared);
    }
    for (const canary of hop.canaries) {
      run.checkpoint();
      await upgradeWithDecision(canary);
    }
    if (hop.canaries.length && hop.batches.length) await run.approval(`canary-${index + 1}`, `the canary ${hop.canaries.map((c) => c.node).join(', ')} is on ${hop.to}; go on with the other workers?`, 'canary');
    for (const batch of hop.batches) {
      run.checkpoint();
      // A batch runs in parallel; its failures are decided one at a time once the batch has settled.
      const settled = await Promise.all(batch.map((n) => upgradeNode(n).then(() => undefined, (err: unknown) => ({ n, err }))));
      for (const failed of settled.filter((s): s is { n: PlannedNodeUpgrade; err: unknown } => s !== undefined)) {
        run.node(failed.n.node, 'failed', causeMessage(failed.err));
        await upgradeWithDecision(failed.n);
      }
    }
  };

  return run.execute(
    async () => {
      run.phase('plan', `planning the upgrade of ${cluster}`);
      const planned = await acts.planRollingUpgrade({ cluster, ...(input.toVersion ? { toVersion: input.toVersion } : {}) });
      const { plan } = planned;
      run.setPolicy(planned.policy);
      run.setNodes(planned.nodes);
      upsertSearchAttributes([{ key: TARGET_VERSION, value: plan.to }]);
      if (planned.soakMs && t.soakMs === undefined) t.soakMs = planned.soakMs;
      for (const name of plan.upToDate) {
        results.set(name, { node: name, from: plan.to, to: plan.to, outcome: 'up-to-date' });
        run.node(name, 'done', `already on ${plan.to}`);
      }
      if (!plan.hops.length) return { cluster, to: plan.to, hops: [], nodes: [...results.values()] };

      run.phase('preflight', 'checking every node, etcd and the cluster health before any change');
      await acts.preflightUpgrade({ cluster, windowMs: t.checkWindowMs });
      await run.waitFor('preflight health', undefined, t.healthTimeoutMs, t.pollIntervalMs, () => checks.checkClusterHealth({ cluster, windowMs: t.checkWindowMs }));

      run.phase('approval', 'waiting for approval to start');
      await run.approval('start', describePlan(plan));
      if (plan.snapshotFirst) {
        // Right before the first change, not before the gate: an approval can take hours, the snapshot must be fresh.
        run.phase('snapshot', 'taking a fresh verified etcd snapshot before any change');
        const snap = await executeChild(snapshotCluster, {
          workflowId: `${sideWorkflowId(cluster, 'snapshot')}/upgrade-${workflowInfo().runId}`,
          args: [{ cluster, requester: input.requester, trigger: 'preflight', skipRetention: true }],
        }).catch((err: unknown) => Promise.reject(stepFailure('snapshot', undefined, err)));
        snapshotId = snap.snapshot?.id;
        run.event('phase', `verified snapshot ${snapshotId ?? '?'} taken; upgrading`);
      }
      // Where etcd's log stood once it ran 3.6 everywhere (for a later hop to 3.7: see UpgradeHop.etcdLogCheck).
      let etcd36At: { index: number; snapshotCount: number } | undefined;
      for (const [i, hop] of plan.hops.entries()) {
        if (i > 0) {
          await run.waitFor('health between hops', undefined, t.healthTimeoutMs, t.pollIntervalMs, () => checks.checkClusterHealth({ cluster, windowMs: t.checkWindowMs }));
          if (hop.etcdLogCheck && etcd36At) {
            const since = etcd36At;
            run.phase('etcd-log', `waiting for etcd to snapshot its log past index ${since.index} before etcd 3.7 (hop ${i + 1})`);
            await run.waitFor('etcd log snapshot', undefined, t.etcdLogTimeoutMs, t.pollIntervalMs, () => checks.checkEtcdLogSnapshotted({ cluster, sinceIndex: since.index, snapshotCount: since.snapshotCount, windowMs: t.checkWindowMs, pollMs: t.pollIntervalMs }));
          }
          await run.approval(`hop-${i + 1}`, `every node is on ${plan.hops[i - 1]!.to}; go on to ${hop.to}?`, 'hop');
        }
        await runHop(hop, i);
        if (hop.etcd === '3.6' && !etcd36At && plan.hops.some((h) => h.etcdLogCheck)) etcd36At = await acts.etcdLogPosition({ cluster });
      }
      return { cluster, to: plan.to, hops: plan.hops.map((h) => h.to), nodes: [...results.values()], ...(snapshotId ? { snapshot: snapshotId } : {}) };
    },
    (r) => `${cluster} upgraded to ${r.to}: ${r.nodes.filter((n) => n.outcome === 'upgraded').length} upgraded, ${r.nodes.filter((n) => n.outcome === 'skipped').length} skipped, ${r.nodes.filter((n) => n.outcome === 'up-to-date').length} already there`,
  );
}

// A rolling upgrade finishes on the code it started with, even when a newer worker build is deployed meanwhile.
setWorkflowOptions({ versioningBehavior: 'PINNED' }, upgradeCluster);
