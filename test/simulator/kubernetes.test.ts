import { VersionApi, Watch, type V1Pod } from '@kubernetes/client-node';
import { createReadStream, createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { applyPatches, parsePatch } from '../../src/config/patches';
import { kubernetesFromKubeconfig, kubernetesFromTalos, type KubernetesClients } from '../../src/kubernetes/client';
import { drainNode, type DrainEvent } from '../../src/kubernetes/drain';
import { nodeReadiness, uncordonNode, waitForNodeReady } from '../../src/kubernetes/nodes';
import type { TalosClient } from '../../src/talos/client';
import { allValues, onlyValue } from '../../src/talos/replies';
import { START_DELAY_ANNOTATION } from '../../src/simulator/kubernetes/stages';
import { KUBERNETES_VERSION } from '../../src/tools/catalog';
import { collect, startFleet, waitUntil, whileRetryable, type TestFleet } from '../support/fleet';

// One fleet for the whole file: 3 control planes with real kube-apiserver, controller manager and scheduler, and 2
// workers, their kubelets simulated by kwok. The tests run in order and build on each other's state.
let t: TestFleet;
let talos: TalosClient;
let k8s: KubernetesClients;

const APP = { app: 'web' };
const workers = ['w-1', 'w-2'];

beforeAll(async () => {
  t = await startFleet({ nodes: '3cp,2w', state: 'bootstrapped', kubernetes: 'real' });
  talos = t.client(['cp-1', 'cp-2', 'cp-3'].map((n) => t.addr(n)));
  k8s = await kubernetesFromTalos(talos, { node: t.addr('cp-1') });
}, 900_000);

afterAll(async () => {
  await t?.stop();
});

/** What a node was doing, for a failure message: stage, failure, etcd, and its last log lines. */
function diagnose(name: string): string {
  const node = t.fleet.node(name);
  const [status] = t.fleet.status().filter((s) => s.name === name);
  const logs = ['machined', 'etcd', 'kubelet'].flatMap((id) => (node.logs.get(id)?.tail(8) ?? []).map((l) => `  ${id}: ${l}`));
  return `${name}: ${JSON.stringify({ stage: status?.stage, sequence: status?.sequence, failure: status?.failure, etcd: status?.etcd })}\n${logs.join('\n')}`;
}

/** Runs a wait; when it fails, the message says what the nodes were doing. */
async function explained(nodes: string[], wait: () => Promise<void>): Promise<void> {
  try {
    await wait();
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${nodes.map(diagnose).join('\n')}`);
  }
}

const readyCondition = (pod: V1Pod) => pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;

async function webPods(): Promise<V1Pod[]> {
  return (await k8s.core.listNamespacedPod({ namespace: 'default', labelSelector: 'app=web' })).items;
}

/** Follows the web pods' changes until stopped: every event with its time, for assertions about the order of things. */
async function watchWebPods(): Promise<{ events: { type: string; pod: V1Pod; at: number }[]; stop: () => void }> {
  const events: { type: string; pod: V1Pod; at: number }[] = [];
  const controller = await new Watch(k8s.config).watch('/api/v1/namespaces/default/pods', { labelSelector: 'app=web' }, (type, pod: V1Pod) => events.push({ type, pod, at: Date.now() }), () => undefined);
  return { events, stop: () => controller.abort() };
}

describe('a simulated cluster with a real Kubernetes control plane', () => {
  it('registers every node with its hostname, address, role and the kubelet version of its machine config, and each turns Ready', async () => {
    await waitUntil('every Node to be Ready', async () => (await k8s.core.listNode()).items.filter((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).length === 5, 60_000);
    const nodes = (await k8s.core.listNode()).items;
    const summary = nodes
      .map((n) => ({
        name: n.metadata!.name,
        address: n.status!.addresses!.find((a) => a.type === 'InternalIP')!.address,
        kubelet: n.status!.nodeInfo!.kubeletVersion,
        controlPlane: 'node-role.kubernetes.io/control-plane' in (n.metadata!.labels ?? {}),
        noSchedule: n.spec?.taints?.some((x) => x.key === 'node-role.kubernetes.io/control-plane' && x.effect === 'NoSchedule') === true,
      }))
      .sort((a, b) => a.name!.localeCompare(b.name!));
    const kubelet = /:(v[\d.]+)$/.exec(t.fleet.node('w-1').config!.parsed.machine.kubelet.image!)![1];
    expect(summary).toEqual(
      ['cp-1', 'cp-2', 'cp-3', 'w-1', 'w-2'].map((name) => ({ name, address: t.addr(name), kubelet, controlPlane: name.startsWith('cp'), noSchedule: name.startsWith('cp') })),
    );
  });

  it('runs kube-apiserver, kube-controller-manager and kube-scheduler on every control plane, shown as mirror pods with the images of its machine config', async () => {
    await waitUntil('9 control-plane mirror pods to run', async () => (await k8s.core.listNamespacedPod({ namespace: 'kube-system', labelSelector: 'tier=control-plane' })).items.filter((p) => p.status?.phase === 'Running').length === 9, 30_000);
    const pods = (await k8s.core.listNamespacedPod({ namespace: 'kube-system', labelSelector: 'tier=control-plane' })).items;
    const images: Record<string, string> = Object.fromEntries(pods.map((p) => [p.metadata!.name!, `${p.spec!.containers[0]!.image} ${p.status?.phase}`]));
    const cluster = t.fleet.node('cp-1').config!.parsed.raw.cluster as Record<string, { image: string }>;
    for (const cp of ['cp-1', 'cp-2', 'cp-3']) {
      expect(images[`kube-apiserver-${cp}`]).toBe(`${cluster.apiServer!.image} Running`);
      expect(images[`kube-controller-manager-${cp}`]).toBe(`${cluster.controllerManager!.image} Running`);
      expect(images[`kube-scheduler-${cp}`]).toBe(`${cluster.scheduler!.image} Running`);
    }
    // Their status is the kubelet's: Ready, on the host's network, each container started when its process did.
    for (const pod of pods) {
      const host = t.addr(pod.spec!.nodeName!);
      const started = pod.status!.containerStatuses![0]!.state!.running!.startedAt!;
      expect({ ready: readyCondition(pod), podIP: pod.status!.podIP, hostIP: pod.status!.hostIP, containerReady: pod.status!.containerStatuses![0]!.ready }).toEqual({ ready: true, podIP: host, hostIP: host, containerReady: true });
      expect(Date.now() - new Date(started).getTime()).toBeGreaterThanOrEqual(0);
      expect(Date.now() - new Date(started).getTime()).toBeLessThan(15 * 60_000);
    }
    // The API server behind them is the real binary of the provisioned release, and says so.
    expect((await k8s.config.makeApiClient(VersionApi).getCode()).gitVersion).toBe(`v${KUBERNETES_VERSION}`);
  });

  it('applies the bootstrap manifests: kube-proxy and flannel run on every node and CoreDNS is available', async () => {
    await waitUntil('the DaemonSets and CoreDNS to be ready', async () => {
      const sets = (await k8s.apps.listNamespacedDaemonSet({ namespace: 'kube-system' })).items;
      const dns = await k8s.apps.readNamespacedDeployment({ name: 'coredns', namespace: 'kube-system' });
      return sets.length === 2 && sets.every((s) => s.status?.numberReady === 5) && dns.status?.availableReplicas === 2;
    }, 30_000);
    const sets = (await k8s.apps.listNamespacedDaemonSet({ namespace: 'kube-system' })).items.map((s) => `${s.metadata!.name} ${s.status!.desiredNumberScheduled}`);
    expect(sets.sort()).toEqual(['kube-flannel 5', 'kube-proxy 5']);
  });

  it('passes every health check, the Kubernetes ones asked of the real API server', async () => {
    const lines = (await collect(talos.healthCheck({ waitTimeoutMs: 60_000 }, { node: t.addr('cp-1') }))).map((m) => m.value!.message);
    const results = lines.filter((l) => !l.endsWith(': ...') && l.startsWith('waiting for '));
    for (const name of ['all k8s nodes to report', 'all control plane static pods to be running', 'all control plane components to be ready', 'all k8s nodes to report ready', 'kube-proxy to report ready', 'coredns to report ready', 'all k8s nodes to report schedulable']) {
      expect(results).toContain(`waiting for ${name}: OK`);
    }
  });

  it('runs the pods of a Deployment of 4 replicas with a PodDisruptionBudget: each goes Pending, then Running, then Ready', async () => {
    const watch = await watchWebPods();
    await k8s.policy.createNamespacedPodDisruptionBudget({ namespace: 'default', body: { metadata: { name: 'web' }, spec: { minAvailable: 3, selector: { matchLabels: APP } } } });
    await k8s.apps.createNamespacedDeployment({
      namespace: 'default',
      body: {
        metadata: { name: 'web' },
        // Containers that take 2 s to start: a replacement cannot be Ready before the drain's next eviction is tried.
        spec: { replicas: 4, selector: { matchLabels: APP }, template: { metadata: { labels: APP, annotations: { [START_DELAY_ANNOTATION]: '2s' } }, spec: { terminationGracePeriodSeconds: 120, containers: [{ name: 'web', image: 'nginx:1.27' }] } } },
      },
    });
    await waitUntil('the watch to see 4 web pods Ready', () => new Set(watch.events.filter((e) => readyCondition(e.pod)).map((e) => e.pod.metadata!.uid)).size === 4, 30_000);
    watch.stop();
    const pods = await webPods();
    expect(pods.map((p) => p.spec!.nodeName).every((n) => workers.includes(n!))).toBe(true);
    for (const pod of pods) {
      const seen = watch.events.filter((e) => e.pod.metadata!.uid === pod.metadata!.uid).map((e) => `${e.pod.status?.phase}${e.pod.status?.containerStatuses?.[0]?.state?.waiting ? '/creating' : ''}${readyCondition(e.pod) ? '/ready' : ''}`);
      expect(seen).toContain('Pending/creating');
      expect(seen.at(-1)).toBe('Running/ready');
      expect(seen.indexOf('Pending/creating')).toBeLessThan(seen.indexOf('Running/ready'));
    }
  });

  let drained: string;
  it('drains a worker through the Eviction API: the budget lets its pods go one at a time, each after its grace period, while replacements start on the other worker', async () => {
    const before = await webPods();
    drained = workers.map((w) => ({ w, n: before.filter((p) => p.spec!.nodeName === w).length })).sort((a, b) => b.n - a.n)[0]!.w;
    const other = workers.find((w) => w !== drained)!;
    const leaving = before.filter((p) => p.spec!.nodeName === drained);
    const watch = await watchWebPods();
    const progress: DrainEvent[] = [];
    const result = await drainNode(k8s.core, drained, { timeoutMs: 60_000, retryMs: 200, onProgress: (e) => progress.push(e) });
    watch.stop();

    expect(result.evicted.filter((p) => p.startsWith('default/')).sort()).toEqual(leaving.map((p) => `default/${p.metadata!.name}`).sort());
    // The drain ends when its pods are gone; the last replacement may still be starting.
    await waitUntil('4 web pods to be Ready on the other worker', async () => (await webPods()).filter((p) => readyCondition(p) && p.spec!.nodeName === other).length === 4, 30_000);
    // Never fewer Ready pods than the budget's minimum, as the API saw them at every change.
    const ready = new Map<string, boolean>(before.map((p) => [p.metadata!.uid!, readyCondition(p)]));
    for (const e of watch.events) {
      if (e.type === 'DELETED' || e.pod.metadata!.deletionTimestamp) ready.set(e.pod.metadata!.uid!, false);
      else ready.set(e.pod.metadata!.uid!, readyCondition(e.pod));
      expect([...ready.values()].filter(Boolean).length).toBeGreaterThanOrEqual(3);
    }
    // With two pods or more on the node, the next eviction had to wait for the first one's replacement.
    if (leaving.length > 1) expect(result.blockedEvictions).toBeGreaterThan(0);
    expect(progress.filter((e) => e.kind === 'blocked').length).toBe(result.blockedEvictions);
    // Each evicted pod stayed Terminating for its grace period (120 s of simulated time, 1.2 s at this time scale)
    // before its kubelet let it go.
    for (const pod of leaving) {
      const events = watch.events.filter((e) => e.pod.metadata!.uid === pod.metadata!.uid);
      const terminating = events.find((e) => e.pod.metadata!.deletionTimestamp)!.at;
      const deleted = events.find((e) => e.type === 'DELETED')!.at;
      expect(deleted - terminating).toBeGreaterThanOrEqual(800);
    }
    expect(await nodeReadiness(k8s.core, drained)).toMatchObject({ ready: true, schedulable: false });
  }, 90_000);

  it('reports a cordoned node in the health check, from the real API', async () => {
    const lines: string[] = [];
    await expect(
      (async () => {
        for await (const m of talos.healthCheck({ waitTimeoutMs: 5_000 }, { node: t.addr('cp-1') })) lines.push(m.value!.message);
      })(),
    ).rejects.toMatchObject({ code: 'deadline_exceeded' });
    expect(lines).toContain(`waiting for all k8s nodes to report schedulable: some nodes are not schedulable: [${drained}]`);
    await uncordonNode(k8s.core, drained);
    expect((await nodeReadiness(k8s.core, drained)).schedulable).toBe(true);
  });

  it('cordons and drains through the API during a legacy-API upgrade, and uncordons the node once it is back', async () => {
    const worker = workers.find((w) => w !== drained)!;
    const bootBefore = await talos.bootId({ node: t.addr(worker) });
    const seen = { cordonedByTalos: false };
    const watching = (async () => {
      while (!seen.cordonedByTalos) {
        const node = await k8s.core.readNode({ name: worker });
        if (node.spec?.unschedulable && node.metadata?.annotations?.['talos.dev/cordoned'] === 'true') seen.cordonedByTalos = true;
        else await new Promise((r) => setTimeout(r, 20));
      }
    })();
    onlyValue(await talos.upgrade({ image: 'ghcr.io/siderolabs/installer:v1.10.9' }, { node: t.addr(worker) }));
    await watching;
    await waitUntil('the upgraded worker to be back with a new boot id', whileRetryable(async () => (await talos.bootId({ node: t.addr(worker) })) !== bootBefore && t.fleet.node(worker).ready), 60_000);
    const back = await waitForNodeReady(k8s.core, worker, { timeoutMs: 30_000, pollMs: 100 });
    await waitUntil('Talos to uncordon the node it cordoned', async () => (await nodeReadiness(k8s.core, worker)).schedulable, 15_000);
    expect(back.ready).toBe(true);
    // Its pods left through evictions before the reboot and run on the other worker now.
    await waitUntil('4 web pods to be Ready on the other worker', async () => (await webPods()).filter((p) => readyCondition(p) && p.spec!.nodeName === drained).length === 4, 30_000);
    expect((await k8s.core.readNode({ name: worker })).metadata?.annotations?.['talos.dev/cordoned']).toBeUndefined();
  }, 90_000);

  it('turns a worker\'s Node NotReady when the machine loses power, its pods not Ready with it, and both Ready again once it is back', async () => {
    // The worker that runs the web pods now.
    const worker = drained;
    await t.fleet.fault(worker, 'down');
    await waitUntil('the Node of the powered-off worker to be NotReady', async () => !(await nodeReadiness(k8s.core, worker)).ready, 60_000);
    expect((await nodeReadiness(k8s.core, worker)).notReadyReason).toMatch(/^NodeStatusUnknown: Kubelet stopped posting node status/);
    // The node controller marks the pods of a node it cannot reach not Ready.
    await waitUntil('the web pods of the unreachable worker to be marked not Ready', async () => (await webPods()).filter((p) => p.spec!.nodeName === worker && !readyCondition(p)).length === 4, 30_000);
    await t.fleet.fault(worker, 'up');
    await waitForNodeReady(k8s.core, worker, { timeoutMs: 60_000, pollMs: 100 });
    // The kubelet reports them Ready again once it reaches the API.
    await waitUntil('the web pods to be Ready again', async () => (await webPods()).filter((p) => p.spec!.nodeName === worker && readyCondition(p)).length === 4, 30_000);
  }, 180_000);

  it('restarts the kubelet when ApplyConfiguration NO_REBOOT patches its image, and the Node then reports the new kubelet version', async () => {
    const w2 = { node: t.addr('w-2') };
    const patched = applyPatches(await talos.machineConfig(w2), [parsePatch('machine:\n  kubelet:\n    image: ghcr.io/siderolabs/kubelet:v1.33.7\n')]);
    onlyValue(await talos.applyConfiguration({ data: Buffer.from(patched), mode: 'NO_REBOOT' }, w2));
    const node = await waitForNodeReady(k8s.core, 'w-2', { timeoutMs: 30_000, pollMs: 100, kubeletVersion: 'v1.33.7' });
    expect(node.kubeletVersion).toBe('v1.33.7');
    const kubelet = onlyValue(await talos.serviceList(w2)).services.find((s) => s.id === 'kubelet')!;
    expect(kubelet.state).toBe('Running');
    // The service went down and came back, which is what upgrade-k8s waits for.
    expect(kubelet.events!.events.slice(-3).map((e) => e.state)).toEqual(['Finished', 'Running', 'Running']);
  });

  it('restarts a control plane\'s kube-apiserver with the new image when ApplyConfiguration NO_REBOOT patches it, bumping its config version', async () => {
    const cp2 = { node: t.addr('cp-2') };
    const mirror = () => k8s.core.readNamespacedPod({ name: 'kube-apiserver-cp-2', namespace: 'kube-system' });
    const before = await mirror();
    const config = await talos.machineConfig(cp2);
    const patched = applyPatches(config, [parsePatch('cluster:\n  apiServer:\n    image: registry.k8s.io/kube-apiserver:v1.33.7\n')]);
    const reply = onlyValue(await talos.applyConfiguration({ data: Buffer.from(patched), mode: 'NO_REBOOT' }, cp2));
    expect(reply.mode).toBe('NO_REBOOT');
    await waitUntil('the re-rendered kube-apiserver pod to run', async () => {
      const pod = await mirror().catch(() => undefined);
      return pod?.spec?.containers[0]?.image === 'registry.k8s.io/kube-apiserver:v1.33.7' && pod.status?.phase === 'Running';
    }, 60_000);
    const after = await mirror();
    expect(Number(after.metadata!.annotations!['talos.dev/config-version'])).toBe(Number(before.metadata!.annotations!['talos.dev/config-version']) + 1);
    expect(after.metadata!.uid).not.toBe(before.metadata!.uid);
    // The API server on cp-2 serves again, after its restart.
    const direct = kubernetesFromKubeconfig((await talos.kubeconfig(cp2)).replace(/server: https:\/\/[^\s]+/, `server: https://${t.addr('cp-2')}:6443`));
    await waitUntil('kube-apiserver on cp-2 to answer', async () => (await direct.core.listNode().catch(() => undefined))?.items.length === 5, 30_000);
    // The other control planes kept their pods.
    expect((await k8s.core.readNamespacedPod({ name: 'kube-apiserver-cp-1', namespace: 'kube-system' })).spec!.containers[0]!.image).not.toBe('registry.k8s.io/kube-apiserver:v1.33.7');
  }, 90_000);
});

describe('disaster recovery with Kubernetes objects', () => {
  it('brings a ConfigMap and a Deployment back, read through the Kubernetes API, after every control plane was wiped and etcd recovered from a snapshot', async () => {
    const cps = ['cp-1', 'cp-2', 'cp-3'].map((n) => t.addr(n));
    await k8s.core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'precious' }, data: { kept: 'in the snapshot' } } });
    const keeper = { app: 'keeper' };
    await k8s.apps.createNamespacedDeployment({ namespace: 'default', body: { metadata: { name: 'keeper' }, spec: { replicas: 2, selector: { matchLabels: keeper }, template: { metadata: { labels: keeper }, spec: { containers: [{ name: 'keeper', image: 'busybox:1.37' }] } } } } });
    const snapshot = join(t.dir, 'k8s.snapshot');
    await pipeline(talos.etcdSnapshot({ node: cps[1]! }), createWriteStream(snapshot));
    await k8s.core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'after-snapshot' }, data: { lost: 'yes' } } });

    allValues(await talos.reset({ graceful: false, reboot: true, systemPartitionsToWipe: [{ label: 'EPHEMERAL', wipe: true }] }, { nodes: cps }));
    const etcdState = async (node: string) => onlyValue(await talos.serviceList({ node })).services.find((s) => s.id === 'etcd')?.state;
    for (const node of cps) await explained(['cp-1', 'cp-2', 'cp-3'], () => waitUntil(`${node} etcd to wait in Preparing`, whileRetryable(async () => (await etcdState(node)) === 'Preparing'), 60_000));
    await talos.etcdRecover(createReadStream(snapshot), { node: cps[0]! });
    onlyValue(await talos.bootstrap({ recoverEtcd: true }, { node: cps[0]! }));

    await waitUntil('the Kubernetes API to answer again', async () => (await k8s.core.listNamespacedConfigMap({ namespace: 'default' }).catch(() => undefined)) !== undefined, 90_000);
    expect((await k8s.core.readNamespacedConfigMap({ name: 'precious', namespace: 'default' })).data).toEqual({ kept: 'in the snapshot' });
    const restored = await k8s.apps.readNamespacedDeployment({ name: 'keeper', namespace: 'default' });
    expect(restored.spec!.replicas).toBe(2);
    expect(restored.spec!.template.spec!.containers[0]!.image).toBe('busybox:1.37');
    await expect(k8s.core.readNamespacedConfigMap({ name: 'after-snapshot', namespace: 'default' })).rejects.toMatchObject({ code: 404 });
    await waitUntil('every control plane to rejoin as a voting member', whileRetryable(async () => {
      const members = onlyValue(await talos.etcdMemberList({}, { node: cps[0]! })).members;
      return members.length === 3 && members.every((m) => !m.isLearner);
    }), 60_000);
  }, 180_000);
});
