import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { decide, runProgress, startMutatingRun } from '../../src/runtime/runs';
import type { RuntimeSettings } from '../../src/runtime/settings';
import type { UpgradeClusterInput, UpgradeTimings } from '../../src/shared/upgrade';
import { onlyValue } from '../../src/talos/replies';
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
  c = await startManagedCluster({ nodes: '3cp,2w', cluster: 'prod', policy: { approvers: ['alice', 'bob'], allowSelfApproval: false, gates: { install: [], upgrade: ['start'], 'upgrade-k8s': [], apply: [], restore: [] }, canaryCount: 1, workerBatchSize: 1 } });
  runtime = await startWorkflowRuntime(c.t.dir, c.inventory.path);
  ({ client, settings } = runtime);
}, 180_000);

afterAll(async () => {
  await runtime?.stop();
  await c?.t.stop();
});

const fleet = () => c.t.fleet;
const calls = (method: string, since = 0) => fleet().calls(method, since);
const versions = () => Object.fromEntries(fleet().nodes().map((n) => [n.name, n.version]));
const start = (toVersion: string, requester = 'alice', timing = TIMING) =>
  startMutatingRun(client, settings, { operation: 'upgrade', cluster: 'prod', requester, args: [{ cluster: 'prod', requester, toVersion, timing } satisfies UpgradeClusterInput], summary: `upgrade prod to ${toVersion}` });
const gate = async (ref: string) => (await runProgress(client, ref)).gate;

/** Samples, while a run goes on, how many control planes are upgrading, rebooting or off at once. */
function watchControlPlanes(): { stop: () => number } {
  let most = 0;
  const timer = setInterval(() => {
    const down = fleet().nodes().filter((n) => n.role === 'controlplane' && (!n.powered || n.stage !== 'RUNNING')).length;
    most = Math.max(most, down);
  }, 20);
  return { stop: () => (clearInterval(timer), most) };
}

describe('the rolling Talos upgrade (legacy MachineService.Upgrade)', () => {
  it('upgrades the control planes strictly one after another, the etcd leader last, then the canary and the workers, each node exactly once', async () => {
    const admin = c.t.client();
    const leaderId = onlyValue(await admin.etcdStatus({ node: c.t.addr('cp-1') })).memberStatus!.leader;
    const leader = fleet().nodes().find((n) => n.etcd?.memberId === leaderId)!.name;
    const since = Date.now();
    const run = await start('v1.10.10');
    await waitUntil('the start gate', async () => (await gate(run.ref))?.name === 'start', 60_000);
    expect((await gate(run.ref))!.summary).toMatch(/upgrade prod from v1\.10\.9 to v1\.10\.10 in 1 hop/);
    expect(calls('Upgrade', since)).toEqual([]);
    await expect(decide(client, run.ref, { choice: 'approve', user: 'alice' })).rejects.toThrow(/alice started this run/);
    const watcher = watchControlPlanes();
    await decide(client, run.ref, { choice: 'approve', user: 'bob' });
    await run.handle.result();
    expect(watcher.stop()).toBe(1);

    const upgrades = calls('Upgrade', since);
    expect(upgrades.map((u) => u.node).sort()).toEqual(['cp-1', 'cp-2', 'cp-3', 'w-1', 'w-2']);
    expect(upgrades.every((u) => u.outcome === 'ok')).toBe(true);
    const order = upgrades.map((u) => u.node);
    expect(order.slice(0, 3).every((n) => n.startsWith('cp-'))).toBe(true);
    expect(order[2]).toBe(leader);
    // w-1 is the canary (policy: one), then w-2 in its own batch.
    expect(order.slice(3)).toEqual(['w-1', 'w-2']);
    expect(Object.values(versions())).toEqual(['v1.10.10', 'v1.10.10', 'v1.10.10', 'v1.10.10', 'v1.10.10']);
    // A fresh verified snapshot was taken after the approval and before the first upgrade call.
    const result = (await run.handle.result()) as { snapshot?: string };
    expect(result.snapshot).toMatch(/^prod-/);
    const stored = readdirSync(join(c.t.dir, 'snapshots', 'prod')).filter((f) => f.startsWith(result.snapshot!));
    expect(stored.length).toBeGreaterThan(0);
    for (const f of stored) expect(statSync(join(c.t.dir, 'snapshots', 'prod', f)).mtimeMs).toBeLessThan(upgrades[0]!.at);
    expect((await runProgress(client, run.ref)).nodes.map((n) => n.state)).toEqual(['done', 'done', 'done', 'done', 'done']);
  });

  it('stops at a decision gate when a node comes back on its old version, touches no further node, and rolls it back with one Rollback when told to', async () => {
    await fleet().fault('w-1', 'upgrade-fails-to-boot');
    const since = Date.now();
    const run = await start('v1.10.11');
    await waitUntil('the start gate', async () => (await gate(run.ref))?.name === 'start', 60_000);
    await decide(client, run.ref, { choice: 'approve', user: 'bob' });
    await waitUntil('the decision gate', async () => (await gate(run.ref))?.kind === 'decision', 120_000);
    const open = (await gate(run.ref))!;
    expect(open.node).toBe('w-1');
    expect(open.summary).toMatch(/came back on v1\.10\.10, not v1\.10\.11/);
    expect(open.choices).toEqual(['retry', 'rollback', 'skip', 'abort']);
    expect(calls('Upgrade', since).map((u) => u.node).sort()).toEqual(['cp-1', 'cp-2', 'cp-3', 'w-1']);
    await decide(client, run.ref, { gate: open.name, choice: 'rollback', user: 'bob' });
    await expect(run.handle.result()).rejects.toThrow();
    const progress = await runProgress(client, run.ref);
    expect(progress.status).toBe('failed');
    expect(progress.error).toMatch(/w-1 was rolled back \(decided by bob\)/);
    expect(calls('Rollback', since).map((r) => r.node)).toEqual(['w-1']);
    expect(calls('Upgrade', since).filter((u) => u.node === 'w-2')).toEqual([]);
  });

  it('offers no rollback for a node that never comes back, and an abort leaves every further node alone', async () => {
    await fleet().fault('w-2', 'upgrade-hangs');
    const since = Date.now();
    const run = await start('v1.10.11', 'alice', { ...TIMING, nodeUpgradeTimeoutMs: 8_000 });
    await waitUntil('the start gate', async () => (await gate(run.ref))?.name === 'start', 60_000);
    await decide(client, run.ref, { choice: 'approve', user: 'bob' });
    await waitUntil('the decision gate', async () => (await gate(run.ref))?.kind === 'decision', 120_000);
    const open = (await gate(run.ref))!;
    expect(open.node).toBe('w-2');
    expect(open.summary).toMatch(/did not come back on v1\.10\.11/);
    expect(open.choices).toEqual(['retry', 'skip', 'abort']);
    await decide(client, run.ref, { choice: 'abort', user: 'alice' });
    await expect(run.handle.result()).rejects.toThrow();
    expect((await runProgress(client, run.ref)).status).toBe('aborted');
    expect(calls('Rollback', since)).toEqual([]);
    await fleet().fault('w-2', 'up');
    await waitUntil('w-2 to be back', () => fleet().node('w-2').ready, 60_000);
  });

  it('refuses in preflight while an etcd member is unhealthy, sending no upgrade at all', async () => {
    await fleet().fault('cp-2', 'etcd-unhealthy');
    try {
      const since = Date.now();
      const run = await start('v1.10.12');
      const failure = await run.handle.result().then(
        () => 'completed',
        (err: Error & { cause?: Error }) => err.cause?.message ?? err.message,
      );
      expect(failure).toMatch(/upgrade of prod refused before any change: etcd member on cp-2 is not healthy/);
      expect(calls('Upgrade', since)).toEqual([]);
    } finally {
      await fleet().fault('cp-2', 'etcd-healthy');
    }
  });

  it('refuses a downgrade and an unknown version before anything changes', async () => {
    for (const [to, reason] of [['v1.9.6', /newer than v1\.9\.6: downgrades are not planned/], ['v1.99.0', /Talos 1\.99 is not a release/], ['latest', /"latest" is not a Talos version/]] as const) {
      const run = await start(to);
      const failure = await run.handle.result().then(
        () => 'completed',
        (err: Error & { cause?: Error }) => err.cause?.message ?? err.message,
      );
      expect(failure).toMatch(reason);
    }
  });
});
