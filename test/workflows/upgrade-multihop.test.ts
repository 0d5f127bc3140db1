import type { Client } from '@temporalio/client';
import { EtcdClient } from '../../src/simulator/etcd/client';
import { decide, runProgress, startMutatingRun } from '../../src/runtime/runs';
import type { RuntimeSettings } from '../../src/runtime/settings';
import type { UpgradeClusterInput, UpgradeTimings } from '../../src/shared/upgrade';
import type { UpgradeClusterResult } from '../../src/workflows/upgrade';
import { startManagedCluster, type ManagedCluster } from '../support/cluster';
import { waitUntil } from '../support/fleet';
import { startWorkflowRuntime, type WorkflowRuntime } from '../support/temporal';

jest.setTimeout(300_000);

const TIMING: Partial<UpgradeTimings> = { pollIntervalMs: 200, checkWindowMs: 2_000, heartbeatTimeoutMs: 5_000, nodeUpgradeTimeoutMs: 30_000, healthTimeoutMs: 60_000 };

let c: ManagedCluster;
let runtime: WorkflowRuntime;
let client: Client;
let settings: RuntimeSettings;

beforeAll(async () => {
  c = await startManagedCluster({
    nodes: '3cp',
    cluster: 'lab',
    version: 'v1.10.9',
    policy: { approvers: ['alice', 'bob'], allowSelfApproval: false, upgradePath: 'fewest-hops', gates: { install: [], upgrade: ['start', 'hop'], 'upgrade-k8s': [], apply: [], restore: [] } },
  });
  runtime = await startWorkflowRuntime(c.t.dir, c.inventory.path);
  ({ client, settings } = runtime);
}, 180_000);

afterAll(async () => {
  await runtime?.stop();
  await c?.t.stop();
});

/** Writes `count` small keys (each one etcd log entry), 50 at a time, as a cluster's own writes would. */
async function writeKeys(count: number): Promise<void> {
  const etcd = new EtcdClient(`http://${c.t.addr('cp-1')}:2379`, 30_000);
  try {
    for (let i = 0; i < count; i += 50) await Promise.all(Array.from({ length: Math.min(50, count - i) }, (_, j) => etcd.put(`/traffic/${i + j}`, Buffer.from('x'))));
  } finally {
    etcd.close();
  }
}

describe('a multi-hop rolling upgrade', () => {
  it('takes 3 control planes from 1.10 through 1.12 to 1.14, hop by hop, each node one upgrade per hop, with a wait for etcd\'s log and a gate between the hops', async () => {
    const since = Date.now();
    const requester = 'alice';
    const run = await startMutatingRun(client, settings, { operation: 'upgrade', cluster: 'lab', requester, args: [{ cluster: 'lab', requester, toVersion: 'v1.14.1', timing: TIMING } satisfies UpgradeClusterInput], summary: 'upgrade lab to v1.14.1' });
    await waitUntil('the start gate', async () => (await runProgress(client, run.ref)).gate?.name === 'start', 60_000);
    expect((await runProgress(client, run.ref)).gate!.summary).toMatch(/from v1\.10\.9 to v1\.14\.1 in 2 hop\(s\)/);
    await decide(client, run.ref, { choice: 'approve', user: 'bob' });

    // etcd 3.7 cannot replay the log entries etcd 3.5 wrote: before the second hop the run waits until etcd has
    // snapshotted its log past them, which takes 10000 writes. The test makes them, as a cluster's traffic would.
    await waitUntil('the wait for the etcd log', async () => (await runProgress(client, run.ref)).phase === 'etcd-log', 120_000);
    expect((await runProgress(client, run.ref)).gate).toBeUndefined();
    expect(c.t.fleet.nodes().map((n) => n.version)).toEqual(['v1.12.7', 'v1.12.7', 'v1.12.7']);
    await writeKeys(10_100);

    await waitUntil('the gate between the hops', async () => (await runProgress(client, run.ref)).gate?.name === 'hop-2', 120_000);
    // Every node is on the intermediate version, and nothing of the second hop has started.
    expect(c.t.fleet.nodes().map((n) => n.version)).toEqual(['v1.12.7', 'v1.12.7', 'v1.12.7']);
    const firstHop = c.t.fleet.calls('Upgrade', since).map((r) => ({ node: r.node, image: r.details.image as string }));
    expect(firstHop.map((u) => u.node).sort()).toEqual(['cp-1', 'cp-2', 'cp-3']);
    expect(firstHop.every((u) => u.image.endsWith(':v1.12.7'))).toBe(true);
    await decide(client, run.ref, { choice: 'approve', user: 'bob' });

    const result = (await run.handle.result()) as UpgradeClusterResult;
    expect(result.hops).toEqual(['v1.12.7', 'v1.14.1']);
    expect(c.t.fleet.nodes().map((n) => n.version)).toEqual(['v1.14.1', 'v1.14.1', 'v1.14.1']);
    // Both hops through the legacy API (a node on 1.12 speaks it), the 1.14 installer from the Image Factory.
    const upgrades = c.t.fleet.calls('Upgrade', since).map((r) => ({ node: r.node, image: r.details.image as string, outcome: r.outcome }));
    expect(upgrades).toHaveLength(6);
    expect(upgrades.every((u) => u.outcome === 'ok')).toBe(true);
    for (const node of ['cp-1', 'cp-2', 'cp-3']) expect(upgrades.filter((u) => u.node === node).map((u) => u.image.split(':').pop())).toEqual(['v1.12.7', 'v1.14.1']);
    expect(upgrades.filter((u) => u.image.endsWith(':v1.14.1')).every((u) => u.image.startsWith('factory.talos.dev/'))).toBe(true);
  });
});
