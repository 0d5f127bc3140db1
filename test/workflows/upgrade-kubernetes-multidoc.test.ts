import type { Client } from '@temporalio/client';
import { kubernetesFromTalos, type KubernetesClients } from '../../src/kubernetes/client';
import { startMutatingRun } from '../../src/runtime/runs';
import type { RuntimeSettings } from '../../src/runtime/settings';
import type { KubernetesUpgradeWaits, UpgradeKubernetesInput, UpgradeTimings } from '../../src/shared/upgrade';
import { parseConfigDocuments } from '../../src/config/patches';
import { componentImages } from '../../src/upgrade/kubernetes-config';
import type { UpgradeKubernetesResult } from '../../src/workflows/upgrade-kubernetes';
import { controlPlanePodsRunning, NO_GATES, startManagedCluster, type ManagedCluster } from '../support/cluster';
import { startWorkflowRuntime, type WorkflowRuntime } from '../support/temporal';

jest.setTimeout(600_000);

// Talos 1.14 generates the Kube*Config documents (the 1.14 contract) and supports Kubernetes 1.32-1.37.
const TO = '1.37.0';
const TIMING: Partial<UpgradeTimings & KubernetesUpgradeWaits> = { pollIntervalMs: 200, checkWindowMs: 2_000, heartbeatTimeoutMs: 10_000, healthTimeoutMs: 120_000, staticPodTimeoutMs: 180_000, kubeletTimeoutMs: 60_000, rolloutTimeoutMs: 120_000 };

let c: ManagedCluster;
let runtime: WorkflowRuntime;
let client: Client;
let k8s: KubernetesClients;
let settings: RuntimeSettings;

beforeAll(async () => {
  c = await startManagedCluster({ nodes: '1cp,1w', cluster: 'prod', version: 'v1.14.1', kubernetes: 'real', kubernetesVersion: '1.36.1', policy: { approvers: ['alice'], allowSelfApproval: true, ...NO_GATES } });
  runtime = await startWorkflowRuntime(c.t.dir, c.inventory.path);
  ({ client, settings } = runtime);
  k8s = await kubernetesFromTalos(c.t.client(), { node: c.t.addr('cp-1') });
  await controlPlanePodsRunning(k8s, 1);
}, 900_000);

afterAll(async () => {
  await runtime?.stop();
  await c?.t.stop();
});

describe('the Kubernetes upgrade of a Talos 1.14 cluster (Kube*Config documents)', () => {
  it('patches the images in the Kube*Config documents, never in v1alpha1, and every component ends on the new version', async () => {
    const since = Date.now();
    const run = await startMutatingRun(client, settings, { operation: 'upgrade-k8s', cluster: 'prod', requester: 'alice', args: [{ cluster: 'prod', requester: 'alice', toVersion: TO, timing: TIMING } satisfies UpgradeKubernetesInput], summary: 'upgrade-k8s' });
    const result = (await run.handle.result()) as UpgradeKubernetesResult;
    expect(result.steps.map((s) => `${s.component}@${s.node ?? 'daemonset'}`)).toEqual(['kube-apiserver@cp-1', 'kube-controller-manager@cp-1', 'kube-scheduler@cp-1', 'kube-proxy@cp-1', 'kube-proxy@daemonset', 'kubelet@cp-1', 'kubelet@w-1']);
    const calls = c.t.fleet.calls('ApplyConfiguration', since).map((r) => `${r.node} ${r.outcome}`);
    expect(calls.sort()).toEqual(['cp-1 ok', 'cp-1 ok', 'cp-1 ok', 'cp-1 ok', 'cp-1 ok', 'w-1 ok']);
    for (const n of c.t.fleet.nodes()) {
      const yaml = n.config!.yaml;
      expect(Object.values(componentImages(yaml)).every((image) => image.endsWith(`:v${TO}`))).toBe(true);
      // The v1alpha1 fields stay unset: a config with both them and the documents is refused.
      const v1alpha1 = parseConfigDocuments(yaml, n.name).find((d) => !d.kind)! as { machine: object; cluster: object };
      expect(v1alpha1.machine).not.toHaveProperty('kubelet');
      for (const field of ['apiServer', 'controllerManager', 'scheduler', 'proxy']) expect(v1alpha1.cluster).not.toHaveProperty(field);
    }
    const pods = (await k8s.core.listNamespacedPod({ namespace: 'kube-system', labelSelector: 'tier=control-plane' })).items.map((p) => p.spec!.containers[0]!.image).sort();
    expect(pods).toEqual(['kube-apiserver', 'kube-controller-manager', 'kube-scheduler'].map((x) => `registry.k8s.io/${x}:v${TO}`));
    expect((await k8s.core.listNode()).items.map((x) => x.status!.nodeInfo!.kubeletVersion)).toEqual([`v${TO}`, `v${TO}`]);
  });
});
