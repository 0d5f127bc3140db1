import type { Client } from '@temporalio/client';
import { applyPatches, parsePatch } from '../../src/config/patches';
import { kubernetesFromTalos, type KubernetesClients } from '../../src/kubernetes/client';
import { decide, runProgress, startMutatingRun } from '../../src/runtime/runs';
import type { RuntimeSettings } from '../../src/runtime/settings';
import { onlyValue } from '../../src/talos/replies';
import type { KubernetesUpgradeWaits, UpgradeKubernetesInput, UpgradeTimings } from '../../src/shared/upgrade';
import { componentImages } from '../../src/upgrade/kubernetes-config';
import type { UpgradeKubernetesResult } from '../../src/workflows/upgrade-kubernetes';
import { cliEnvironment, runCli } from '../support/cli';
import { controlPlanePodsRunning, startManagedCluster, type ManagedCluster } from '../support/cluster';
import { waitUntil } from '../support/fleet';
import { startWorkflowRuntime, type WorkflowRuntime } from '../support/temporal';

jest.setTimeout(600_000);

// Talos v1.11 supports Kubernetes 1.29-1.34: a cluster installed on 1.33.6 can go one minor up to 1.34.1, and no further.
const FROM = '1.33.6';
const TO = '1.34.1';
const TIMING: Partial<UpgradeTimings & KubernetesUpgradeWaits> = {
  pollIntervalMs: 200,
  checkWindowMs: 2_000,
  heartbeatTimeoutMs: 10_000,
  healthTimeoutMs: 120_000,
  staticPodTimeoutMs: 180_000,
  kubeletTimeoutMs: 60_000,
  rolloutTimeoutMs: 120_000,
};

let c: ManagedCluster;
let runtime: WorkflowRuntime;
let client: Client;
let settings: RuntimeSettings;
let k8s: KubernetesClients;

beforeAll(async () => {
  c = await startManagedCluster({
    nodes: '2cp,1w',
    cluster: 'prod',
    version: 'v1.11.6',
    kubernetes: 'real',
    kubernetesVersion: FROM,
    policy: { approvers: ['alice', 'bob'], allowSelfApproval: false, gates: { install: [], upgrade: [], 'upgrade-k8s': ['start'], apply: [], restore: [] } },
  });
  runtime = await startWorkflowRuntime(c.t.dir, c.inventory.path);
  ({ client, settings } = runtime);
  k8s = await kubernetesFromTalos(c.t.client(), { node: c.t.addr('cp-1') });
  await controlPlanePodsRunning(k8s, 2);
}, 900_000);

afterAll(async () => {
  await runtime?.stop();
  await c?.t.stop();
});

const fleet = () => c.t.fleet;
const applies = (since: number) => fleet().calls('ApplyConfiguration', since).map((r) => ({ node: r.node, at: r.at, outcome: r.outcome, mode: r.details.mode }));
const pulls = (since: number) => fleet().calls('ImagePull', since).map((r) => ({ node: r.node, at: r.at, outcome: r.outcome, image: String(r.details.image), namespace: String(r.details.namespace) }));
const start = (toVersion: string, requester = 'alice', timing = TIMING) =>
  startMutatingRun(client, settings, { operation: 'upgrade-k8s', cluster: 'prod', requester, args: [{ cluster: 'prod', requester, toVersion, timing } satisfies UpgradeKubernetesInput], summary: `upgrade Kubernetes of prod to ${toVersion}` });
const failureOf = (run: Awaited<ReturnType<typeof start>>) =>
  run.handle.result().then(
    () => 'completed',
    (err: Error & { cause?: Error }) => err.cause?.message ?? err.message,
  );

/** Runs the `talos-fleet` CLI against this test's Temporal and inventory; resolves with its exit code and output. */
const cli = (...args: string[]) => runCli(args, { env: cliEnvironment(settings) });

/** The control-plane static pods: image and Talos's config version, by pod name. */
async function staticPods(): Promise<Record<string, { image: string; configVersion: number; phase: string }>> {
  const pods = (await k8s.core.listNamespacedPod({ namespace: 'kube-system', labelSelector: 'tier=control-plane' })).items;
  return Object.fromEntries(pods.map((p) => [p.metadata!.name!, { image: p.spec!.containers[0]!.image!, configVersion: Number(p.metadata!.annotations!['talos.dev/config-version']), phase: p.status?.phase ?? '' }]));
}

/**
 * Follows every node's machine config while a run goes on (what the node runs, not what was sent): each change of a
 * component image, with its time and node, in the order they happened.
 */
function watchComponentImages(): { stop: () => { step: string; at: number }[] } {
  const seen = new Map(fleet().nodes().map((n) => [n.name, { yaml: n.config!.yaml, images: componentImages(n.config!.yaml) }]));
  const changes: { step: string; at: number }[] = [];
  const timer = setInterval(() => {
    for (const n of fleet().nodes()) {
      const last = seen.get(n.name)!;
      const yaml = n.config!.yaml;
      if (yaml === last.yaml) continue;
      const images = componentImages(yaml);
      for (const [component, image] of Object.entries(images)) if (image !== last.images[component as keyof typeof images]) changes.push({ step: `${component}@${n.name}`, at: Date.now() });
      seen.set(n.name, { yaml, images });
    }
  }, 20);
  return { stop: () => (clearInterval(timer), changes) };
}

describe('the Kubernetes upgrade (upgrade-k8s) of a cluster with a real control plane', () => {
  it('refuses a jump of two minors and a downgrade before any node is touched, as a run and in `plan upgrade-k8s`', async () => {
    const since = Date.now();
    expect(await failureOf(await start('1.35.0'))).toMatch(/1\.35\.0 is more than one minor above 1\.33\.6 .*upgrade to 1\.34 first/);
    expect(await failureOf(await start('1.32.4'))).toMatch(/kube-apiserver on cp-1 is on 1\.33\.6, newer than 1\.32\.4: a downgrade is refused/);
    const refused = await cli('plan', 'upgrade-k8s', 'prod', '--to', '1.35.0');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^error: Kubernetes upgrade of prod refused: 1\.35\.0 is more than one minor above 1\.33\.6/);
    const planned = await cli('plan', 'upgrade-k8s', 'prod', '--to', TO);
    expect(planned.code).toBe(0);
    expect(planned.stdout).toMatch(/^upgrade Kubernetes of prod from 1\.33\.6 to 1\.34\.1 in 12 step\(s\)/);
    expect(planned.stdout).toContain('  12. kubelet on w-1: 1.33.6 → ghcr.io/siderolabs/kubelet:v1.34.1');
    expect(applies(since)).toEqual([]);
  });

  it('upgrades every API server, then controller manager, then scheduler one control plane at a time, then kube-proxy, then each kubelet, each component patched exactly once', async () => {
    const before = await staticPods();
    const since = Date.now();
    const run = await start(TO);
    await waitUntil('the start gate', async () => (await runProgress(client, run.ref)).gate?.name === 'start', 120_000);
    const gate = (await runProgress(client, run.ref)).gate!;
    expect(gate.summary).toMatch(/^upgrade Kubernetes of prod from 1\.33\.6 to 1\.34\.1 in 12 step\(s\)/);
    expect(applies(since)).toEqual([]);
    const watcher = watchComponentImages();
    await decide(client, run.ref, { choice: 'approve', user: 'bob' });
    const result = (await run.handle.result()) as UpgradeKubernetesResult;
    const changes = watcher.stop();

    const order = [
      'kube-apiserver@cp-1',
      'kube-apiserver@cp-2',
      'kube-controller-manager@cp-1',
      'kube-controller-manager@cp-2',
      'kube-scheduler@cp-1',
      'kube-scheduler@cp-2',
      'kube-proxy@cp-1',
      'kube-proxy@cp-2',
      'kubelet@cp-1',
      'kubelet@cp-2',
      'kubelet@w-1',
    ];
    // What the nodes ran changed in this order, one image at a time, and each change was one ApplyConfiguration to that node.
    expect(changes.map((x) => x.step)).toEqual(order);
    const calls = applies(since);
    expect(calls.map((x) => x.node)).toEqual(order.map((s) => s.split('@')[1]));
    expect(calls.every((x) => x.outcome === 'ok' && x.mode === 'NO_REBOOT')).toBe(true);
    expect(result.steps.map((s) => `${s.component}@${s.node ?? 'daemonset'}`)).toEqual([...order.slice(0, 8), 'kube-proxy@daemonset', ...order.slice(8)]);
    expect(result.steps.every((s) => s.outcome === 'upgraded')).toBe(true);

    // Every static pod runs the new image, re-rendered exactly once; every Node reports the new kubelet.
    const after = await staticPods();
    for (const cp of ['cp-1', 'cp-2']) {
      for (const component of ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler']) {
        const name = `${component}-${cp}`;
        expect({ name, ...after[name] }).toEqual({ name, image: `registry.k8s.io/${component}:v${TO}`, configVersion: before[name]!.configVersion + 1, phase: 'Running' });
      }
    }
    const nodes = (await k8s.core.listNode()).items.map((n) => `${n.metadata!.name} ${n.status!.nodeInfo!.kubeletVersion}`).sort();
    expect(nodes).toEqual([`cp-1 v${TO}`, `cp-2 v${TO}`, `w-1 v${TO}`]);
    const proxy = await k8s.apps.readNamespacedDaemonSet({ name: 'kube-proxy', namespace: 'kube-system' });
    expect(proxy.spec!.template.spec!.containers[0]!.image).toBe(`registry.k8s.io/kube-proxy:v${TO}`);
    expect(proxy.status!.updatedNumberScheduled).toBe(3);
    // No node rebooted.
    expect([...fleet().calls('Reboot', since), ...fleet().calls('Upgrade', since)]).toEqual([]);
    // Every new image was pulled on its node before the first config changed, as upstream pre-pulls: the static
    // pods' images into k8s.io on the control planes, the kubelet's into system everywhere; each once.
    const pulled = pulls(since);
    expect(pulled.map((p) => `${p.node} ${p.namespace} ${p.image}`).sort()).toEqual(
      [
        ...['cp-1', 'cp-2'].flatMap((cp) => ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler'].map((component) => `${cp} NS_CRI registry.k8s.io/${component}:v${TO}`)),
        ...['cp-1', 'cp-2', 'w-1'].map((node) => `${node} NS_SYSTEM ghcr.io/siderolabs/kubelet:v${TO}`),
      ].sort(),
    );
    expect(pulled.every((p) => p.outcome === 'ok' && p.at < calls[0]!.at)).toBe(true);
    for (const node of ['cp-1', 'cp-2', 'w-1']) expect(fleet().node(node).images.has({ driver: 'CRI', namespace: 'NS_SYSTEM' }, `ghcr.io/siderolabs/kubelet:v${TO}`)).toBe(true);
  });

  it('changes nothing when run again (from the CLI, `upgrade-k8s --wait`): the plan lists nothing to do and the run says so', async () => {
    const since = Date.now();
    expect((await cli('plan', 'upgrade-k8s', 'prod', '--to', TO)).stdout).toBe(`every Kubernetes component of prod is on ${TO}: nothing to do\n`);
    const again = await cli('upgrade-k8s', 'prod', '--to', TO, '--wait', '--as', 'alice');
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`every Kubernetes component of prod is already on ${TO}: nothing to do`);
    expect(again.stdout).toContain('upgrade-k8s of prod completed');
    const progress = await runProgress(client, 'prod');
    expect(progress.status).toBe('completed');
    expect(progress.gates).toEqual([]);
    expect(applies(since)).toEqual([]);
    expect(pulls(since)).toEqual([]);
  });

  it('refuses a target that the nodes\' Talos does not support, naming each node and its Talos, before any node is touched', async () => {
    const since = Date.now();
    const failure = await failureOf(await start('1.35.0'));
    for (const n of ['cp-1', 'cp-2', 'w-1']) expect(failure).toContain(`${n} runs Talos v1.11.6: version of Kubernetes 1.35.0 is too new to be used with Talos 1.11.6`);
    expect(applies(since)).toEqual([]);
  });

  it('stops at a decision gate when a static pod never comes up on its new image, touches no other node while it waits, and a retry finishes the run without patching twice', async () => {
    const admin = c.t.client();
    const cp1 = { node: c.t.addr('cp-1') };
    const patchCp1 = async (patch: string) => onlyValue(await admin.applyConfiguration({ data: applyPatches(await admin.machineConfig(cp1), [parsePatch(patch)]), mode: 'NO_REBOOT' }, cp1));
    // A flag Talos manages in kube-apiserver's extraArgs: Talos refuses to render the pod anew, so the old one keeps running.
    await patchCp1('[{op: add, path: /cluster/apiServer/extraArgs, value: {etcd-servers: "https://127.0.0.1:1"}}]');
    const since = Date.now();
    const run = await start('1.34.2', 'alice', { ...TIMING, staticPodTimeoutMs: 15_000 });
    await waitUntil('the start gate', async () => (await runProgress(client, run.ref)).gate?.name === 'start', 120_000);
    await decide(client, run.ref, { choice: 'approve', user: 'bob' });
    await waitUntil('the decision gate', async () => (await runProgress(client, run.ref)).gate?.kind === 'decision', 120_000);
    const gate = (await runProgress(client, run.ref)).gate!;
    expect({ name: gate.name, node: gate.node, choices: gate.choices }).toEqual({ name: 'failure-cp-1-1', node: 'cp-1', choices: ['retry', 'skip', 'abort'] });
    expect(gate.summary).toMatch(/kube-apiserver on cp-1 did not get to registry\.k8s\.io\/kube-apiserver:v1\.34\.2/);
    await new Promise((r) => setTimeout(r, 2_000));
    expect(applies(since).map((x) => x.node)).toEqual(['cp-1']);

    await patchCp1('[{op: remove, path: /cluster/apiServer/extraArgs}]');
    await decide(client, run.ref, { choice: 'retry', user: 'bob' });
    // A real kube-apiserver restarting on two loaded cores may outlast this run's short wait: retry any such step too.
    let done = false;
    const resulting = run.handle.result().finally(() => (done = true));
    while (!done) {
      const open = (await runProgress(client, run.ref).catch(() => undefined))?.gate;
      if (open?.kind === 'decision') await decide(client, run.ref, { choice: 'retry', user: 'bob' }).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 200));
    }
    const result = (await resulting) as UpgradeKubernetesResult;
    expect(result.steps.every((x) => x.outcome === 'upgraded')).toBe(true);
    // cp-1: the run's five patches and the test's removal; the retry did not patch kube-apiserver again.
    const counts = applies(since).reduce<Record<string, number>>((acc, x) => ({ ...acc, [x.node]: (acc[x.node] ?? 0) + 1 }), {});
    expect(counts).toEqual({ 'cp-1': 6, 'cp-2': 5, 'w-1': 1 });
    expect((await staticPods())['kube-apiserver-cp-1']!.image).toBe('registry.k8s.io/kube-apiserver:v1.34.2');
  });
});
