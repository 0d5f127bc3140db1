import type { V1Node, V1Pod } from '@kubernetes/client-node';
import type { Client } from '@temporalio/client';
import { kubernetesFromTalos, type KubernetesClients } from '../../src/kubernetes/client';
import { decide, runProgress, startMutatingRun } from '../../src/runtime/runs';
import type { RuntimeSettings } from '../../src/runtime/settings';
import type { UpgradeClusterInput, UpgradeTimings } from '../../src/shared/upgrade';
import { START_DELAY_ANNOTATION } from '../../src/simulator/kubernetes/stages';
import { controlPlanePodsRunning, startManagedCluster, type ManagedCluster } from '../support/cluster';
import { waitUntil } from '../support/fleet';
import { startWorkflowRuntime, type WorkflowRuntime } from '../support/temporal';

jest.setTimeout(600_000);

// The real Kubernetes components keep real time (leases, the node monitor): the windows are real seconds.
const TIMING: Partial<UpgradeTimings> = { pollIntervalMs: 500, checkWindowMs: 5_000, heartbeatTimeoutMs: 10_000, nodeUpgradeTimeoutMs: 60_000, drainTimeoutMs: 90_000, healthTimeoutMs: 120_000 };
const APP = { app: 'web' };

let c: ManagedCluster;
let runtime: WorkflowRuntime;
let client: Client;
let k8s: KubernetesClients;
let settings: RuntimeSettings;

beforeAll(async () => {
  c = await startManagedCluster({ nodes: '3cp,2w', cluster: 'edge', version: 'v1.14.0', kubernetes: 'real', policy: { approvers: ['alice', 'bob'], allowSelfApproval: false, gates: { install: [], upgrade: ['start'], 'upgrade-k8s': [], apply: [], restore: [] }, canaryCount: 1, workerBatchSize: 1 } });
  k8s = await kubernetesFromTalos(c.t.client(), { node: c.t.addr('cp-1') });
  await controlPlanePodsRunning(k8s, 3);
  runtime = await startWorkflowRuntime(c.t.dir, c.inventory.path);
  ({ client, settings } = runtime);
}, 900_000);

afterAll(async () => {
  await runtime?.stop();
  await c?.t.stop();
});

const ready = (pod: V1Pod) => !pod.metadata?.deletionTimestamp && pod.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True') === true;

/** What a sample saw: each web pod (its node, Ready or not and why, terminating) and each Node's readiness. */
function describeSample(pods: V1Pod[], nodes: V1Node[]): string {
  const pod = (p: V1Pod) => {
    const condition = p.status?.conditions?.find((x) => x.type === 'Ready');
    return `${p.metadata!.name} on ${p.spec?.nodeName}: ${p.status?.phase}${ready(p) ? ' Ready' : ` not Ready (${condition?.reason ?? condition?.status ?? 'no condition'})`}${p.metadata?.deletionTimestamp ? ' terminating' : ''}`;
  };
  const node = (n: V1Node) => `${n.metadata!.name}: ${n.status?.conditions?.find((x) => x.type === 'Ready')?.status ?? '?'}${n.spec?.unschedulable ? ' cordoned' : ''}`;
  return `pods: ${pods.map(pod).join('; ')} | nodes: ${nodes.map(node).join('; ')}`;
}

/** Samples, while the run goes on, the fewest Ready web pods (and what that sample saw) and each Node's cordons (schedulable → unschedulable). */
function watchCluster(): { stop: () => { fewestReady: number; worst: string; cordons: Record<string, number>; samples: number } } {
  let fewestReady = Infinity;
  let worst = '';
  let samples = 0;
  const cordons: Record<string, number> = {};
  const cordoned = new Map<string, boolean>();
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    Promise.all([k8s.core.listNamespacedPod({ namespace: 'default', labelSelector: 'app=web' }), k8s.core.listNode()])
      .then(([pods, nodes]) => {
        samples++;
        const readyNow = pods.items.filter(ready).length;
        if (readyNow < fewestReady) [fewestReady, worst] = [readyNow, `${new Date().toISOString()} ${describeSample(pods.items, nodes.items)}`];
        for (const n of nodes.items) {
          const now = n.spec?.unschedulable === true;
          if (now && !cordoned.get(n.metadata!.name!)) cordons[n.metadata!.name!] = (cordons[n.metadata!.name!] ?? 0) + 1;
          cordoned.set(n.metadata!.name!, now);
        }
      })
      // The API server behind the kubeconfig's endpoint reboots with cp-1: no sample then.
      .catch(() => undefined)
      .finally(() => (busy = false));
  }, 100);
  return { stop: () => (clearInterval(timer), { fewestReady, worst, cordons, samples }) };
}

const calls = (method: string, since: number) => c.t.fleet.calls(method, since);

describe('the rolling Talos upgrade on 1.14 (ImageService.Pull, LifecycleService.Upgrade, client-side drain, Reboot)', () => {
  it('stops at a decision gate without a rollback when the installer fails, before any drain or reboot, and touches no further node', async () => {
    // Whichever control plane goes first: its installer fails (1.14's exit code 7, the install step).
    for (const cp of ['cp-1', 'cp-2', 'cp-3']) await c.t.fleet.fault(cp, 'installer-fails');
    const since = Date.now();
    const requester = 'alice';
    const run = await startMutatingRun(client, settings, { operation: 'upgrade', cluster: 'edge', requester, args: [{ cluster: 'edge', requester, toVersion: 'v1.14.1', timing: TIMING } satisfies UpgradeClusterInput], summary: 'upgrade edge to v1.14.1' });
    await waitUntil('the start gate', async () => (await runProgress(client, run.ref)).gate?.name === 'start', 120_000);
    await decide(client, run.ref, { choice: 'approve', user: 'bob' });
    await waitUntil('the decision gate', async () => (await runProgress(client, run.ref)).gate?.kind === 'decision', 120_000);
    const open = (await runProgress(client, run.ref)).gate!;
    expect(open.summary).toMatch(/installer on node .* exited with code 7 \(install\): error: installing the bootloader/);
    // Nothing to roll back: the node never rebooted into anything new.
    expect(open.choices).toEqual(['retry', 'skip', 'abort']);
    const failed = open.node!;
    expect(calls('LifecycleService.Upgrade', since).map((r) => r.node)).toEqual([failed]);
    expect(calls('Reboot', since)).toEqual([]);
    expect((await k8s.core.readNode({ name: failed })).spec?.unschedulable).toBeFalsy();
    await decide(client, run.ref, { gate: open.name, choice: 'abort', user: 'alice' });
    await expect(run.handle.result()).rejects.toThrow();
    expect((await runProgress(client, run.ref)).status).toBe('aborted');
    expect(calls('LifecycleService.Upgrade', since).map((r) => r.node)).toEqual([failed]);
    expect(c.t.fleet.nodes().map((n) => n.version)).toEqual(c.t.fleet.nodes().map(() => 'v1.14.0'));
    for (const cp of ['cp-1', 'cp-2', 'cp-3']) await c.t.fleet.fault(cp, 'clear');
  });

  it('stops at a decision gate when a PodDisruptionBudget blocks the drain past its timeout, uncordons the node again and reboots nothing', async () => {
    // One pod on every control plane that its budget never lets go.
    const pinned = { app: 'pinned' };
    await k8s.policy.createNamespacedPodDisruptionBudget({ namespace: 'default', body: { metadata: { name: 'pinned' }, spec: { minAvailable: 3, selector: { matchLabels: pinned } } } });
    await k8s.apps.createNamespacedDeployment({
      namespace: 'default',
      body: {
        metadata: { name: 'pinned' },
        spec: {
          replicas: 3,
          selector: { matchLabels: pinned },
          template: {
            metadata: { labels: pinned },
            spec: {
              nodeSelector: { 'node-role.kubernetes.io/control-plane': '' },
              tolerations: [{ key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' }],
              affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: pinned }, topologyKey: 'kubernetes.io/hostname' }] } },
              containers: [{ name: 'pinned', image: 'nginx:1.27' }],
            },
          },
        },
      },
    });
    await waitUntil('3 pinned pods Ready', async () => (await k8s.core.listNamespacedPod({ namespace: 'default', labelSelector: 'app=pinned' })).items.filter(ready).length === 3, 60_000);
    try {
      const since = Date.now();
      const requester = 'alice';
      const run = await startMutatingRun(client, settings, { operation: 'upgrade', cluster: 'edge', requester, args: [{ cluster: 'edge', requester, toVersion: 'v1.14.1', timing: { ...TIMING, drainTimeoutMs: 8_000 } } satisfies UpgradeClusterInput], summary: 'upgrade edge to v1.14.1' });
      await waitUntil('the start gate', async () => (await runProgress(client, run.ref)).gate?.name === 'start', 120_000);
      await decide(client, run.ref, { choice: 'approve', user: 'bob' });
      await waitUntil('the decision gate', async () => (await runProgress(client, run.ref)).gate?.kind === 'decision', 120_000);
      const open = (await runProgress(client, run.ref)).gate!;
      const blocked = open.node!;
      expect(open.summary).toMatch(/the drain of .* failed: .*; .* still runs v1\.14\.0, with v1\.14\.1 installed in its other boot slot: its next reboot boots v1\.14\.1/);
      expect(open.choices).toEqual(['retry', 'skip', 'abort']);
      // Drained as far as the budget allowed, then given back to the scheduler; no reboot, no further node.
      expect((await k8s.core.readNode({ name: blocked })).spec?.unschedulable).toBeFalsy();
      expect(calls('Reboot', since)).toEqual([]);
      expect(calls('LifecycleService.Upgrade', since).map((r) => r.node)).toEqual([blocked]);
      await decide(client, run.ref, { gate: open.name, choice: 'abort', user: 'alice' });
      await expect(run.handle.result()).rejects.toThrow();
      expect(c.t.fleet.nodes().map((n) => n.version)).toEqual(c.t.fleet.nodes().map(() => 'v1.14.0'));
    } finally {
      await k8s.apps.deleteNamespacedDeployment({ name: 'pinned', namespace: 'default' });
      await k8s.policy.deleteNamespacedPodDisruptionBudget({ name: 'pinned', namespace: 'default' });
      await waitUntil('the pinned pods to be gone', async () => (await k8s.core.listNamespacedPod({ namespace: 'default', labelSelector: 'app=pinned' })).items.length === 0, 60_000);
    }
  });

  it('pulls, installs, drains, reboots and uncordons each node exactly once, one at a time, and the PodDisruptionBudget holds throughout', async () => {
    await k8s.policy.createNamespacedPodDisruptionBudget({ namespace: 'default', body: { metadata: { name: 'web' }, spec: { minAvailable: 3, selector: { matchLabels: APP } } } });
    await k8s.apps.createNamespacedDeployment({
      namespace: 'default',
      body: { metadata: { name: 'web' }, spec: { replicas: 4, selector: { matchLabels: APP }, template: { metadata: { labels: APP, annotations: { [START_DELAY_ANNOTATION]: '1s' } }, spec: { terminationGracePeriodSeconds: 30, containers: [{ name: 'web', image: 'nginx:1.27' }] } } } },
    });
    await waitUntil('4 web pods Ready', async () => (await k8s.core.listNamespacedPod({ namespace: 'default', labelSelector: 'app=web' })).items.filter(ready).length === 4, 60_000);

    const since = Date.now();
    const requester = 'alice';
    const run = await startMutatingRun(client, settings, { operation: 'upgrade', cluster: 'edge', requester, args: [{ cluster: 'edge', requester, toVersion: 'v1.14.1', timing: TIMING } satisfies UpgradeClusterInput], summary: 'upgrade edge to v1.14.1' });
    await waitUntil('the start gate', async () => (await runProgress(client, run.ref)).gate?.name === 'start', 120_000);
    expect((await runProgress(client, run.ref)).gate!.summary).toMatch(/from v1\.14\.0 to v1\.14\.1 in 1 hop/);
    const watcher = watchCluster();
    await decide(client, run.ref, { choice: 'approve', user: 'bob' });
    await run.handle.result();
    const seen = watcher.stop();

    const record = (method: string) => calls(method, since);
    const names = ['cp-1', 'cp-2', 'cp-3', 'w-1', 'w-2'];
    // Each node: one pull, one install, one reboot; never the deprecated MachineService.Upgrade.
    for (const method of ['ImageService.Pull', 'LifecycleService.Upgrade', 'Reboot']) {
      expect(record(method).map((r) => r.node).sort()).toEqual(names);
      expect(record(method).every((r) => r.outcome === 'ok')).toBe(true);
    }
    expect(record('Upgrade')).toEqual([]);
    // One node at a time: each node's install comes after the previous node's reboot.
    const installs = record('LifecycleService.Upgrade');
    const reboots = record('Reboot');
    for (let i = 1; i < installs.length; i++) expect(installs[i]!.at).toBeGreaterThan(reboots.find((r) => r.node === installs[i - 1]!.node)!.at);
    expect(installs.slice(3).map((r) => r.node)).toEqual(['w-1', 'w-2']);

    // Drained once each (the watcher saw every Node cordoned exactly once) and all uncordoned at the end.
    expect(seen.samples).toBeGreaterThan(20);
    expect(seen.cordons).toEqual({ 'cp-1': 1, 'cp-2': 1, 'cp-3': 1, 'w-1': 1, 'w-2': 1 });
    expect((await k8s.core.listNode()).items.filter((n) => n.spec?.unschedulable)).toEqual([]);
    // The budget held: never fewer than 3 of the 4 web pods Ready (else: what the worst sample saw).
    expect(seen.fewestReady >= 3 ? 'held' : `${seen.fewestReady} Ready at ${seen.worst}`).toBe('held');
    expect(c.t.fleet.nodes().map((n) => n.version)).toEqual(names.map(() => 'v1.14.1'));
    expect((await runProgress(client, run.ref)).nodes.map((n) => n.state)).toEqual(names.map(() => 'done'));
  });
});
