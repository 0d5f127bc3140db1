import type { RetryPolicy } from '@temporalio/common';
import { proxyActivities, setWorkflowOptions, upsertSearchAttributes } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { PlannedNode } from '../activities/install';
import { DEFAULT_INSTALL_TIMINGS, type InstallClusterInput, type InstallClusterResult, type InstallTimings } from '../shared/install';
import { TARGET_VERSION } from '../shared/search-attributes';
import { Run, stepFailure } from './run';

function activitiesFor(t: InstallTimings) {
  const retry: RetryPolicy = { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 20 };
  return {
    acts: proxyActivities<Activities>({ startToCloseTimeout: t.activityTimeoutMs, heartbeatTimeout: t.heartbeatTimeoutMs, retry }),
    // A check waits up to its window itself, so its attempt may last that long plus one call.
    checks: proxyActivities<Activities>({ startToCloseTimeout: t.checkWindowMs + t.activityTimeoutMs, heartbeatTimeout: t.heartbeatTimeoutMs, retry }),
  };
}

function planSummary(plan: { cluster: string; talosVersion: string; installImage: string; nodes: PlannedNode[] }, skipped: string[]): string {
  const nodes = plan.nodes.map((n) => `${n.name} (${n.role}, ${n.address})${skipped.includes(n.name) ? ' already installed' : ''}`).join(', ');
  return `install Talos ${plan.talosVersion} (${plan.installImage}) on ${plan.nodes.length} nodes: ${nodes}; bootstrap etcd on ${plan.nodes.find((n) => n.role === 'controlplane')!.name}`;
}

/** A promise's outcome as a value, so concurrent node steps can all be awaited before the first failure is raised. */
async function settle<T>(promise: Promise<T>): Promise<{ value?: T; error?: Error }> {
  try {
    return { value: await promise };
  } catch (error) {
    return { error: error as Error };
  }
}

/**
 * Installs a cluster from nodes in maintenance mode (talos-ops.md §1): plan, preflight, start gate, configs to the
 * control planes, Bootstrap exactly once on the first one as soon as it is up (workers join from then on, in
 * parallel), every control plane in etcd, health, and the kubeconfig stored beside the inventory.
 */
export async function installCluster(input: InstallClusterInput): Promise<InstallClusterResult> {
  const run = new Run('install', input.cluster, input.requester);
  const t: InstallTimings = { ...DEFAULT_INSTALL_TIMINGS, ...input.timing };
  const { acts, checks } = activitiesFor(t);
  const cluster = input.cluster;

  return run.execute(
    async () => {
      run.phase('plan', `planning the install of ${cluster}`);
      const plan = await acts.planInstall({ cluster });
      run.setPolicy(plan.policy);
      run.setNodes(plan.nodes.map(({ name, address, role }) => ({ name, address, role })));
      upsertSearchAttributes([{ key: TARGET_VERSION, value: plan.talosVersion }]);

      run.phase('preflight', 'checking that every node is in maintenance mode');
      const probes = await acts.preflightInstall({ cluster });
      const members = probes.filter((p) => p.state === 'member').map((p) => p.node);
      for (const p of probes) run.node(p.node, 'pending', p.detail);

      run.phase('approval', 'waiting for approval to start');
      await run.approval('start', planSummary(plan, members));

      /** Applies a node's config once, then waits for it to answer over mutual TLS on the new version. */
      const installNode = async (node: PlannedNode): Promise<{ name: string; version: string }> => {
        try {
          await run.atomic(async () => {
            run.node(node.name, 'working', 'applying its configuration');
            const applied = await acts.applyMaintenanceConfig({ cluster, node: node.name });
            run.node(node.name, 'working', applied.detail);
          });
          const done = await run.waitFor('install', node.name, t.nodeInstallTimeoutMs, t.pollIntervalMs, () =>
            checks.checkNodeInstalled({ cluster, node: node.name, windowMs: t.checkWindowMs, pollMs: t.pollIntervalMs }),
          );
          run.node(node.name, 'done', done.detail);
          return { name: node.name, version: done.version ?? '' };
        } catch (err) {
          const failure = stepFailure('install', node.name, err);
          run.node(node.name, 'failed', failure.message);
          throw failure;
        }
      };

      const controlPlanes = plan.nodes.filter((n) => n.role === 'controlplane');
      const workers = plan.nodes.filter((n) => n.role === 'worker');
      const first = controlPlanes[0]!;
      run.phase('control-planes', `installing the control planes (${controlPlanes.map((n) => n.name).join(', ')})`);
      // Every node's install runs to its end; failures are collected (a rejected promise left unawaited would fail
      // the workflow task), and the first one fails the run once the others have settled.
      const installs = controlPlanes.map((n) => settle(installNode(n)));
      const firstInstalled = await installs[0]!;
      if (firstInstalled.error) {
        await Promise.all(installs);
        throw firstInstalled.error;
      }

      run.phase('bootstrap', `bootstrapping etcd on ${first.name}`);
      const boot = await run.atomic(() => acts.bootstrapEtcd({ cluster, node: first.name }).catch((err: unknown) => Promise.reject(stepFailure('bootstrap', first.name, err))));
      run.node(first.name, 'done', boot.detail);

      if (workers.length) run.phase('workers', `installing the workers (${workers.map((n) => n.name).join(', ')}) beside the other control planes`);
      installs.push(...workers.map((n) => settle(installNode(n))));
      const settled = await Promise.all(installs);
      const failed = settled.find((s) => s.error)?.error;
      if (failed) throw failed;
      const versions = settled.map((s) => s.value!);

      run.checkpoint();
      run.phase('etcd', 'waiting for every control plane to join etcd');
      await run.waitFor('etcd', undefined, t.etcdJoinTimeoutMs, t.pollIntervalMs, () => checks.checkEtcdMembers({ cluster, windowMs: t.checkWindowMs, pollMs: t.pollIntervalMs }));

      run.phase('health', 'waiting for the cluster health check to pass');
      await run.waitFor('health', undefined, t.healthTimeoutMs, t.pollIntervalMs, () => checks.checkClusterHealth({ cluster, windowMs: t.checkWindowMs }));

      run.phase('kubeconfig', 'storing the admin kubeconfig');
      const { path } = await acts.storeKubeconfig({ cluster });
      return { cluster, nodes: versions, bootstrapNode: first.name, kubeconfigPath: path };
    },
    (result) => `cluster ${cluster} is installed and healthy (${result.nodes.length} nodes); kubeconfig stored at ${result.kubeconfigPath}`,
  );
}

// An install finishes on the code it started with, even when a newer worker build is deployed meanwhile.
setWorkflowOptions({ versioningBehavior: 'PINNED' }, installCluster);
