import type { RetryPolicy } from '@temporalio/common';
import { proxyActivities, setWorkflowOptions, upsertSearchAttributes } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { TARGET_VERSION } from '../shared/search-attributes';
import type { LegacyImagePullRequest } from '../talos/types';
import { DEFAULT_KUBERNETES_UPGRADE_WAITS, DEFAULT_UPGRADE_TIMINGS, type KubernetesUpgradeWaits, type UpgradeKubernetesInput, type UpgradeTimings } from '../shared/upgrade';
import { isStaticPod } from '../upgrade/kubernetes-components';
import { describeKubernetesPlan, type KubernetesUpgradeStep } from '../upgrade/kubernetes-plan';
import { causeMessage, NodeFailure, Run } from './run';

/** How each step of a Kubernetes upgrade ended. */
export interface KubernetesStepResult {
  component: KubernetesUpgradeStep['component'];
  node?: string;
  image: string;
  outcome: 'upgraded' | 'skipped';
}

export interface UpgradeKubernetesResult {
  cluster: string;
  from: string;
  to: string;
  steps: KubernetesStepResult[];
}

/**
 * What each node pulls before the upgrade starts (upstream's pre-pull): the new static pod images on control planes
 * (CRI namespace) and the new kubelet image on every node (`system`), for the steps still to do.
 */
function prePulls(steps: KubernetesUpgradeStep[]): { node: string; images: LegacyImagePullRequest[] }[] {
  const byNode = new Map<string, LegacyImagePullRequest[]>();
  for (const s of steps) {
    if (s.node === undefined || !(isStaticPod(s.component) || s.component === 'kubelet')) continue;
    byNode.set(s.node, [...(byNode.get(s.node) ?? []), { image: s.image, namespace: s.component === 'kubelet' ? 'NS_SYSTEM' : 'NS_CRI' }]);
  }
  return [...byNode].map(([node, images]) => ({ node, images }));
}

/** What a step is about, for progress, gates and errors: `kube-apiserver on cp-1`, `the kube-proxy DaemonSet`. */
const label = (s: KubernetesUpgradeStep) => (s.node ? `${s.component} on ${s.node}` : `the ${s.component} DaemonSet`);

/**
 * A Kubernetes upgrade (`upgrade-k8s`, talos-ops.md §3), one minor at a time, no reboots: plan (refused before any
 * change when the path skips a minor, downgrades, or a node's Talos does not support the target), health, start
 * gate; the new images pulled on every node; then in upstream's order every control plane's kube-apiserver, then kube-controller-manager, then
 * kube-scheduler (each node's config patched with NO_REBOOT, then its re-rendered static pod awaited), kube-proxy in
 * every control plane's config and its DaemonSet, and each node's kubelet (its Node on the new version). Each step is
 * atomic; a failed one stops the run at a decision gate (retry, skip, abort). A re-run plans only what is left.
 */
export async function upgradeKubernetes(input: UpgradeKubernetesInput): Promise<UpgradeKubernetesResult> {
  const run = new Run('upgrade-k8s', input.cluster, input.requester);
  const t: UpgradeTimings & KubernetesUpgradeWaits = { ...DEFAULT_UPGRADE_TIMINGS, ...DEFAULT_KUBERNETES_UPGRADE_WAITS, ...input.timing };
  const retry: RetryPolicy = { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 10 };
  const acts = proxyActivities<Activities>({ startToCloseTimeout: t.activityTimeoutMs, heartbeatTimeout: t.heartbeatTimeoutMs, retry });
  const checks = proxyActivities<Activities>({ startToCloseTimeout: t.checkWindowMs + t.activityTimeoutMs, heartbeatTimeout: t.heartbeatTimeoutMs, retry });
  const cluster = input.cluster;
  const results: KubernetesStepResult[] = [];
  const window = { windowMs: t.checkWindowMs, pollMs: t.pollIntervalMs };
  /** The planned target (`1.34.1`), normalized by the planner. */
  let target = input.toVersion;

  /** Waits for a step's effect; a timeout becomes the node's failure, for the decision gate. */
  const waitFor = (what: string, step: KubernetesUpgradeStep, timeoutMs: number, check: () => Promise<{ done: boolean; detail: string }>) =>
    run.waitFor(what, step.node, timeoutMs, t.pollIntervalMs, check).catch((err: unknown) => {
      throw new NodeFailure(step.node ?? step.component, what, `${label(step)} did not get to ${step.image}: ${causeMessage(err)}`);
    });

  /** One step, finished once started: the image set (once), then its effect awaited. */
  const upgradeStep = (step: KubernetesUpgradeStep, remaining: number): Promise<void> =>
    run.atomic(async () => {
      const node = step.node;
      if (node === undefined) {
        run.event('phase', `rolling the kube-proxy DaemonSet out to ${step.image}`);
        run.event('phase', (await acts.patchKubeProxyDaemonSet({ cluster, image: step.image })).detail);
        await waitFor('kube-proxy rollout', step, t.rolloutTimeoutMs, () => checks.checkKubeProxyRolledOut({ cluster, image: step.image, ...window }));
        run.event('phase', `the kube-proxy DaemonSet runs ${step.image}`);
        return;
      }
      run.node(node, 'working', `${step.component}: ${step.from} → ${step.image}`);
      const patched = await acts.patchComponentImage({ cluster, node, component: step.component, image: step.image });
      run.node(node, 'working', patched.detail);
      const component = step.component;
      if (isStaticPod(component)) {
        const previous = patched.previousConfigVersion;
        await waitFor(`${component} pod`, step, t.staticPodTimeoutMs, () => checks.checkStaticPodUpdated({ cluster, node, component, image: step.image, ...(previous ? { previousConfigVersion: previous } : {}), ...window }));
      } else if (component === 'kubelet') {
        await waitFor('kubelet version', step, t.kubeletTimeoutMs, () => checks.checkKubeletVersion({ cluster, node, version: `v${target}`, ...window }));
      }
      run.node(node, remaining ? 'pending' : 'done', remaining ? `${step.component} on ${step.image}; ${remaining} more step(s)` : `every component on ${target}`);
    });

  return run.execute(
    async () => {
      run.phase('plan', `planning the Kubernetes upgrade of ${cluster} to ${input.toVersion}`);
      const planned = await acts.planKubernetesUpgrade({ cluster, toVersion: input.toVersion });
      const { plan } = planned;
      target = plan.to;
      run.setPolicy(planned.policy);
      run.setNodes(planned.nodes);
      upsertSearchAttributes([{ key: TARGET_VERSION, value: plan.to }]);
      for (const name of plan.upToDate) run.node(name, 'done', `every component on ${plan.to}`);
      if (!plan.steps.length) {
        run.event('phase', describeKubernetesPlan(plan));
        return { cluster, from: plan.from, to: plan.to, steps: [] };
      }

      run.phase('preflight', 'checking the cluster health before any change');
      await run.waitFor('preflight health', undefined, t.healthTimeoutMs, t.pollIntervalMs, () => checks.checkClusterHealth({ cluster, windowMs: t.checkWindowMs }));
      run.phase('approval', 'waiting for approval to start');
      await run.approval('start', describeKubernetesPlan(plan));

      run.phase('pre-pull', `pulling the new images on every node before any change`);
      await Promise.all(
        prePulls(plan.steps).map(async ({ node, images }) => {
          run.node(node, 'working', `pre-pulling ${images.map((i) => i.image).join(', ')}`);
          run.node(node, 'pending', (await acts.prePullImages({ cluster, node, images })).detail);
        }),
      );

      for (const [i, step] of plan.steps.entries()) {
        if (i === 0 || plan.steps[i - 1]!.component !== step.component) run.phase(step.component, `upgrading ${step.component} to ${plan.to}`);
        run.checkpoint();
        const remaining = plan.steps.slice(i + 1).filter((s) => s.node !== undefined && s.node === step.node).length;
        const outcome = await run.withDecision(step.node ?? step.component, () => upgradeStep(step, remaining));
        results.push({ component: step.component, ...(step.node ? { node: step.node } : {}), image: step.image, outcome: outcome === 'skipped' ? 'skipped' : 'upgraded' });
      }

      run.phase('verify', 'checking the cluster health after the upgrade');
      await run.waitFor('health after the upgrade', undefined, t.healthTimeoutMs, t.pollIntervalMs, () => checks.checkClusterHealth({ cluster, windowMs: t.checkWindowMs }));
      return { cluster, from: plan.from, to: plan.to, steps: results };
    },
    (r) => {
      if (!r.steps.length) return `every Kubernetes component of ${cluster} is already on ${r.to}: nothing to do`;
      const skipped = r.steps.filter((s) => s.outcome === 'skipped').length;
      return `Kubernetes of ${cluster} upgraded from ${r.from} to ${r.to}: ${r.steps.length - skipped} step(s) done${skipped ? `, ${skipped} skipped` : ''}`;
    },
  );
}

// A Kubernetes upgrade finishes on the code it started with, even when a newer worker build is deployed meanwhile.
setWorkflowOptions({ versioningBehavior: 'PINNED' }, upgradeKubernetes);
