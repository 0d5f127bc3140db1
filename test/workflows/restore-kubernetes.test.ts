import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import { kubernetesProofActivities } from '../../src/activities/kubernetes-proof';
import { readRecord, writeRecord } from '../../src/backups/catalog';
import { openStore } from '../../src/backups/store';
import { FleetConnector } from '../../src/fleet/connect';
import { inventorySource } from '../../src/fleet/source';
import { kubernetesFromTalos, type KubernetesClients } from '../../src/kubernetes/client';
import { waitForNodeReady } from '../../src/kubernetes/nodes';
import { startMutatingRun } from '../../src/runtime/runs';
import type { RuntimeSettings } from '../../src/runtime/settings';
import { startFleetWorker, type FleetWorker } from '../../src/runtime/worker';
import { SNAPSHOT_MARKER, type BackupTimings, type DrillClusterInput, type KubernetesMark, type DrillClusterResult, type RestoreClusterInput, type RestoreClusterResult, type SnapshotClusterInput, type SnapshotClusterResult } from '../../src/shared/backups';
import { sideWorkflowId } from '../../src/shared/names';
import { onlyValue } from '../../src/talos/replies';
import type { RunNotification } from '../../src/shared/notifications';
import { NO_GATES, startManagedCluster, type ManagedCluster } from '../support/cluster';
import { countKeys, putKeys } from '../support/etcd';
import { waitUntil } from '../support/fleet';
import { startTestS3, type TestS3 } from '../support/s3';
import { secretsInHistories } from '../support/secrets-scan';
import { startTestTemporal, testSettings, workflowBundlePath, type TestTemporal } from '../support/temporal';

jest.setTimeout(300_000);

const TIMING: Partial<BackupTimings> = { pollIntervalMs: 200, checkWindowMs: 2_000, heartbeatTimeoutMs: 5_000, transferTimeoutMs: 120_000, preparingTimeoutMs: 60_000, preparingStableMs: 300, etcdJoinTimeoutMs: 90_000, healthTimeoutMs: 120_000, rebootTimeoutMs: 90_000 };

// Three control planes, each with a real kube-apiserver, controller manager and scheduler on its etcd (no workers:
// every real control plane costs half a GiB), managed through an inventory whose snapshots go to a real S3 server.
let c: ManagedCluster;
let s3: TestS3;
let s3Root: string;
const savedEnv = { ...process.env };
let server: TestTemporal;
let settings: RuntimeSettings;
let worker: FleetWorker;
let connection: Connection;
let client: Client;
let k8s: KubernetesClients;
const notifications: RunNotification[] = [];

beforeAll(async () => {
  s3Root = mkdtempSync(join(tmpdir(), 'talos-fleet-s3-'));
  s3 = await startTestS3(join(s3Root, 's3'));
  Object.assign(process.env, s3.env);
  c = await startManagedCluster({ nodes: '3cp', cluster: 'dr', kubernetes: 'real', store: s3.url('talos'), policy: { approvers: ['alice', 'bob'], ...NO_GATES } });
  server = await startTestTemporal(c.t.dir);
  settings = testSettings(server, c.inventory.path);
  worker = await startFleetWorker({ settings, workflowBundlePath: await workflowBundlePath(), setCurrentVersion: true, scheduleTiming: TIMING, notifier: { notify: async (n) => void notifications.push(n) }, log: () => undefined });
  connection = await Connection.connect({ address: server.address });
  client = new Client({ connection, namespace: server.namespace });
  k8s = await kubernetesFromTalos(c.t.client(), { node: c.t.addr('cp-1') });
}, 900_000);

afterAll(async () => {
  await worker?.shutdown();
  await connection?.close();
  await server?.stop();
  await c?.t.stop();
  await s3?.stop();
  if (s3Root) rmSync(s3Root, { recursive: true, force: true });
  process.env = savedEnv;
});

const CONTROL_PLANES = ['cp-1', 'cp-2', 'cp-3'];
const etcdOf = (node: string) => `http://${c.t.addr(node)}:2379`;

async function snapshot(): Promise<SnapshotClusterResult> {
  const input: SnapshotClusterInput = { cluster: 'dr', requester: 'alice', trigger: 'manual', timing: TIMING };
  return client.workflow.execute<(i: SnapshotClusterInput) => Promise<SnapshotClusterResult>>('snapshotCluster', { workflowId: sideWorkflowId('dr', 'snapshot'), taskQueue: settings.taskQueue, args: [input] });
}

const marker = () => k8s.core.readNamespacedConfigMap({ name: SNAPSHOT_MARKER.name, namespace: SNAPSHOT_MARKER.namespace });

describe('disaster recovery proven through the Kubernetes API', () => {
  let snapshotId: string;

  it('writes a marker ConfigMap naming the snapshot just before it is taken, and records the Nodes and kube-system Deployments the API served', async () => {
    await waitUntil('CoreDNS to be available', async () => ((await k8s.apps.readNamespacedDeployment({ name: 'coredns', namespace: 'kube-system' }).catch(() => undefined))?.status?.availableReplicas ?? 0) > 0, 60_000);
    await putKeys(etcdOf('cp-1'), 10_000, '/data/key-');
    await k8s.core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'precious' }, data: { kept: 'in the snapshot' } } });
    const keeper = { app: 'keeper' };
    await k8s.apps.createNamespacedDeployment({ namespace: 'default', body: { metadata: { name: 'keeper' }, spec: { replicas: 2, selector: { matchLabels: keeper }, template: { metadata: { labels: keeper }, spec: { containers: [{ name: 'keeper', image: 'busybox:1.37' }] } } } } });

    const meta = (await snapshot()).snapshot!;
    snapshotId = meta.id;
    expect(meta.verification.status).toBe('verified');
    expect(meta.object).toMatch(/^dr\//);
    expect(meta.content!.keys).toBeGreaterThan(10_000);
    expect(meta.kubernetes).toEqual({ marker: { ...SNAPSHOT_MARKER, snapshot: meta.id }, nodes: CONTROL_PLANES, deployments: expect.arrayContaining(['coredns']) as unknown });
    expect((await marker()).data).toEqual({ snapshot: meta.id, takenAt: meta.takenAt });
    // The snapshot's census counts the Deployments in the Kubernetes registry: CoreDNS and the test's own.
    expect(meta.content!.registry.resources.deployments).toBe((await k8s.apps.listDeploymentForAllNamespaces()).items.length);
    expect(meta.content!.registry.resources.deployments).toBeGreaterThanOrEqual(2);
  });

  it('drills the snapshot in a throwaway etcd and finds the marker ConfigMap in it naming the snapshot; a record whose marker names another snapshot fails the drill', async () => {
    const drill = (workflowId: string) => client.workflow.execute<(i: DrillClusterInput) => Promise<DrillClusterResult>>('drillCluster', { workflowId, taskQueue: settings.taskQueue, args: [{ cluster: 'dr', requester: 'alice', snapshot: snapshotId, timing: TIMING }] });
    // A record that claims the snapshot was taken at another moment (its marker names another snapshot).
    const store = openStore(s3.url('talos'));
    const original = (await readRecord(store, 'dr', snapshotId))!;
    await writeRecord(store, { ...original, kubernetes: { ...original.kubernetes!, marker: { ...original.kubernetes!.marker, snapshot: 'dr-20261130T030000Z-0000' } } });
    try {
      await expect(drill('drill-mislabelled')).rejects.toMatchObject({ cause: { message: expect.stringMatching(/the marker ConfigMap kube-system\/talos-fleet-snapshot-marker in it does not name dr-20261130T030000Z-0000/) as unknown } });
    } finally {
      await writeRecord(store, original);
    }

    const result = await drill(sideWorkflowId('dr', 'drill'));
    expect(result.drill.ok).toBe(true);
    expect(result.drill.detail).toMatch(new RegExp(`as recorded; its marker ConfigMap names ${snapshotId}$`));
  });

  it('restores from S3 after every control plane was reset: 10,000 keys, the ConfigMap and the Deployment back (read through the API), what came after gone, every control plane a member, and the Kubernetes check passed after the restore and after its reboot', async () => {
    // After the snapshot: a ConfigMap that must not survive the restore, and the precious one deleted.
    await k8s.core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'after-snapshot' }, data: { lost: 'yes' } } });
    await k8s.core.deleteNamespacedConfigMap({ name: 'precious', namespace: 'default' });
    await putKeys(etcdOf('cp-2'), 50, '/after-snapshot/key-');
    // A newer snapshot updates the marker in place; the restore from the older one must bring the older one back.
    const newer = (await snapshot()).snapshot!;
    expect((await marker()).data?.snapshot).toBe(newer.id);
    const before = new Map(c.t.fleet.nodes().map((n) => [n.name, n.record.length]));
    const since = (method: string) => c.t.fleet.nodes().flatMap((n) => n.record.slice(before.get(n.name)).filter((r) => r.method === method).map(() => n.name));

    const input: RestoreClusterInput = { cluster: 'dr', requester: 'alice', from: snapshotId, timing: TIMING };
    const run = await startMutatingRun(client, settings, { operation: 'restore', cluster: 'dr', requester: 'alice', args: [input], summary: `restore dr from ${snapshotId}` });
    const result = (await run.handle.result()) as RestoreClusterResult;

    expect(result.snapshot).toBe(snapshotId);
    const proofs = result.checks.filter((x) => /Kubernetes API serves/.test(x));
    expect(proofs).toEqual([
      `after the restore: the Kubernetes API serves snapshot ${snapshotId}'s marker, its 3 Nodes Ready and its kube-system Deployments (coredns)`,
      `after rebooting ${result.rebooted}: the Kubernetes API serves snapshot ${snapshotId}'s marker, its 3 Nodes Ready and its kube-system Deployments (coredns)`,
    ]);
    expect(since('Reset').sort()).toEqual(CONTROL_PLANES);
    expect(since('EtcdRecover')).toEqual([result.recoveredOn]);
    expect(since('Reboot')).toEqual([result.rebooted]);
    // Every key of the snapshot is back on every member, and nothing written after it.
    for (const node of CONTROL_PLANES) {
      expect(countKeys(etcdOf(node), '/data/key-')).toBe(10_000);
      expect(countKeys(etcdOf(node), '/after-snapshot/')).toBe(0);
    }
    const members = onlyValue(await c.t.client().etcdMemberList({}, { node: c.t.addr('cp-2') })).members;
    expect(members.map((m) => `${m.hostname}${m.isLearner ? ' (learner)' : ''}`).sort()).toEqual(CONTROL_PLANES);
    expect(notifications.filter((n) => n.operation === 'restore').map((n) => n.progress.phase)).toContain('verify-kubernetes');

    // Read back through @kubernetes/client-node, as a user would.
    expect((await k8s.core.readNamespacedConfigMap({ name: 'precious', namespace: 'default' })).data).toEqual({ kept: 'in the snapshot' });
    const restored = await k8s.apps.readNamespacedDeployment({ name: 'keeper', namespace: 'default' });
    expect(restored.spec!.replicas).toBe(2);
    expect(restored.spec!.template.spec!.containers[0]!.image).toBe('busybox:1.37');
    await expect(k8s.core.readNamespacedConfigMap({ name: 'after-snapshot', namespace: 'default' })).rejects.toMatchObject({ code: 404 });
    expect((await marker()).data?.snapshot).toBe(snapshotId);
    for (const node of CONTROL_PLANES) expect((await waitForNodeReady(k8s.core, node, { timeoutMs: 30_000, pollMs: 200 })).ready).toBe(true);
  });

  it('the Kubernetes check does not pass when the API serves another snapshot\'s marker, or lacks a Node the snapshot had', async () => {
    const connector = new FleetConnector(inventorySource(c.inventory.path));
    try {
      const { checkKubernetesRestored } = kubernetesProofActivities({ inventory: inventorySource(c.inventory.path), connector, notifier: { notify: async () => undefined } });
      const check = (expected: KubernetesMark) => new MockActivityEnvironment().run(checkKubernetesRestored, { cluster: 'dr', expected, windowMs: 0 });
      const served = { marker: { ...SNAPSHOT_MARKER, snapshot: snapshotId }, nodes: CONTROL_PLANES, deployments: ['coredns'] };
      expect(await check(served)).toMatchObject({ done: true });
      expect(await check({ ...served, marker: { ...served.marker, snapshot: 'dr-20261130T030000Z-0000' } })).toEqual({ done: false, detail: `the marker ConfigMap kube-system/talos-fleet-snapshot-marker names ${snapshotId}, not dr-20261130T030000Z-0000` });
      expect(await check({ ...served, nodes: [...CONTROL_PLANES, 'cp-4'] })).toEqual({ done: false, detail: 'Nodes not Ready yet: cp-4 (not registered)' });
      expect(await check({ ...served, deployments: ['coredns', 'metrics-server'] })).toEqual({ done: false, detail: 'kube-system Deployments missing: metrics-server' });
    } finally {
      connector.close();
    }
  });

  it('leaves every admin kubeconfig it minted out of the runs\' histories', async () => {
    // Each mint has a fresh client key, so the scan looks for what any kubeconfig or PEM key carries.
    expect(await secretsInHistories(client, ['client-key-data', 'PRIVATE KEY', 'LS0tLS1CRUdJTi'])).toEqual([]);
  });
});
