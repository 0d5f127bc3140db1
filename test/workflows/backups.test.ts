import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Client, Connection } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import { snapshotActivities } from '../../src/activities/snapshots';
import { listSnapshots } from '../../src/backups/catalog';
import { snapshotStatus } from '../../src/backups/census';
import { openStore } from '../../src/backups/store';
import { FleetConnector } from '../../src/fleet/connect';
import { inventorySource } from '../../src/fleet/source';
import { startFleetWorker, type FleetWorker } from '../../src/runtime/worker';
import { loadInventory } from '../../src/fleet/inventory';
import { reconcileSchedules, scheduleStatuses, setPaused } from '../../src/triggers/schedules';
import type { RuntimeSettings } from '../../src/runtime/settings';
import type { BackupTimings, DrillClusterResult, SnapshotMetadata, RestoreClusterInput, RestoreClusterResult, SnapshotClusterInput, SnapshotClusterResult } from '../../src/shared/backups';
import { sideWorkflowId } from '../../src/shared/names';
import type { RunNotification } from '../../src/shared/notifications';
import { requireTool } from '../../src/tools/binaries';
import { decide, runProgress, startMutatingRun, type StartedRun } from '../../src/runtime/runs';
import { onlyValue } from '../../src/talos/replies';
import { backupInventory } from '../support/backups';
import { countKeys, putKeys } from '../support/etcd';
import { secretsInHistories } from '../support/secrets-scan';
import { startFleet, waitUntil, type TestFleet } from '../support/fleet';
import { startTestS3, type TestS3 } from '../support/s3';
import { startTestTemporal, testSettings, workflowBundlePath, type TestTemporal } from '../support/temporal';

jest.setTimeout(300_000);

const TIMING: Partial<BackupTimings> = { pollIntervalMs: 200, checkWindowMs: 2_000, heartbeatTimeoutMs: 5_000, transferTimeoutMs: 120_000, preparingTimeoutMs: 60_000, preparingStableMs: 300, etcdJoinTimeoutMs: 90_000, healthTimeoutMs: 90_000, rebootTimeoutMs: 90_000 };

let t: TestFleet;
let s3: TestS3;
let server: TestTemporal;
let settings: RuntimeSettings;
let worker: FleetWorker;
let connection: Connection;
let client: Client;
let identityFile: string;
const notifications: RunNotification[] = [];
const savedEnv = { ...process.env };

beforeAll(async () => {
  t = await startFleet({ nodes: '3cp', state: 'bootstrapped' });
  s3 = await startTestS3(join(t.dir, 's3'));
  Object.assign(process.env, s3.env);
  const { inventory, identity } = await backupInventory(t, { dir: join(t.dir, 'inventory'), cluster: 'prod', store: s3.url('talos'), backups: { compression: 'zstd', retention: { keepLast: 2, daily: 0, weekly: 0, monthly: 0 }, schedule: '0 3 29 2 *', drill: { schedule: '30 3 29 2 *' } }, policy: { gates: { install: [], upgrade: [], 'upgrade-k8s': [], apply: [], restore: ['start'] }, requiredApprovals: { restore: 2 } } });
  identityFile = identity.file;
  server = await startTestTemporal(t.dir);
  settings = testSettings(server, inventory.path);
  worker = await startFleetWorker({ settings, workflowBundlePath: await workflowBundlePath(), setCurrentVersion: true, scheduleTiming: TIMING, notifier: { notify: async (n) => void notifications.push(n) }, log: () => undefined });
  connection = await Connection.connect({ address: server.address });
  client = new Client({ connection, namespace: server.namespace });
}, 180_000);

afterAll(async () => {
  await worker?.shutdown();
  await connection?.close();
  await server?.stop();
  await s3?.stop();
  await t?.stop();
  process.env = savedEnv;
});

async function snapshot(requester = 'alice'): Promise<SnapshotClusterResult> {
  const input: SnapshotClusterInput = { cluster: 'prod', requester, trigger: 'manual', timing: TIMING };
  return client.workflow.execute<(i: SnapshotClusterInput) => Promise<SnapshotClusterResult>>('snapshotCluster', { workflowId: sideWorkflowId('prod', 'snapshot'), taskQueue: settings.taskQueue, args: [input] });
}

const put = (keys: number, prefix: string) => putKeys(`http://${t.addr('cp-1')}:2379`, keys, prefix);

const records = (method: string) => t.fleet.nodes().flatMap((n) => n.record.filter((r) => r.method === method).map((r) => ({ node: n.name, outcome: r.outcome })));

/** Keys under a prefix, counted by the real etcdctl against a control plane's member. */
const count = (node: string, prefix: string) => countKeys(`http://${t.addr(node)}:2379`, prefix);

async function restore(from: string, requester = 'alice'): Promise<StartedRun> {
  const input: RestoreClusterInput = { cluster: 'prod', requester, from, timing: TIMING };
  return startMutatingRun(client, settings, { operation: 'restore', cluster: 'prod', requester, args: [input], summary: `restore prod from ${from}` });
}

describe('snapshots', () => {
  it('takes a snapshot from a control plane that is not the etcd leader into S3, verified, and prunes by policy', async () => {
    await put(300, '/registry/configmaps/default/cm-');
    const result = await snapshot();
    expect(result.outcome).toBe('verified');
    const meta = result.snapshot!;
    expect(meta.verification.status).toBe('verified');
    expect(meta.content).toMatchObject({ registry: { present: true, resources: { configmaps: 300 } } });
    expect(meta.content!.keys).toBeGreaterThanOrEqual(300);
    expect(meta.versions.etcd).toMatch(/^3\.5\./);
    expect(meta.compression).toBe('zstd');
    // The record is in the bucket, and the object is what Debian's age, zstd and etcdutl read.
    const store = openStore(s3.url('talos'));
    expect((await listSnapshots(store, 'prod')).map((s) => s.id)).toEqual([meta.id]);
    const dir = mkdtempSync(join(t.dir, 'check-'));
    await pipeline(await store.download(meta.object), createWriteStream(join(dir, 'object')));
    // Its verification recorded the object's own hash: what sha256sum of the object prints.
    expect(meta.storedSha256).toBe(createHash('sha256').update(readFileSync(join(dir, 'object'))).digest('hex'));
    execFileSync(requireTool('age'), ['-d', '-i', identityFile, '-o', join(dir, 'db.zst'), join(dir, 'object')]);
    execFileSync(requireTool('zstd'), ['-q', '-d', join(dir, 'db.zst'), '-o', join(dir, 'db')]);
    expect((await snapshotStatus(join(dir, 'db'), '3.5')).revision).toBe(meta.content!.revision);
    // Not the leader when another member is healthy.
    const status = onlyValue(await t.client().etcdStatus({ node: t.addr(meta.node) })).memberStatus!;
    expect(status.leader).not.toBe(status.memberId);

    await snapshot();
    const third = await snapshot();
    expect(third.pruned).toHaveLength(1);
    expect((await listSnapshots(store, 'prod')).map((s) => s.id)).toHaveLength(2);
    expect(notifications.some((n) => n.operation === 'snapshot' && /retention: kept 2/.test(n.message))).toBe(true);
  });
});

/** Triggers a schedule now and returns the result of the run it started. */
async function triggerSchedule<T>(id: string): Promise<{ workflowId: string; result: T }> {
  const handle = client.schedule.getHandle(id);
  const before = (await handle.describe()).info.recentActions.length;
  await handle.trigger();
  const deadline = Date.now() + 60_000;
  for (;;) {
    const actions = (await handle.describe()).info.recentActions;
    if (actions.length > before) {
      const workflowId = actions.at(-1)!.action.workflow.workflowId;
      return { workflowId, result: (await client.workflow.getHandle(workflowId).result()) as T };
    }
    if (Date.now() > deadline) throw new Error(`schedule ${id} started nothing within 60 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('schedules and drills', () => {
  it('creates the inventory\'s schedules on worker start, and a triggered snapshot schedule produces a verified snapshot', async () => {
    const statuses = await scheduleStatuses(client, loadInventory(settings.inventoryPath));
    expect(statuses.map((x) => `${x.id} ${x.cron} paused=${x.paused}`)).toEqual(['talos-fleet/prod/snapshot 0 3 29 2 * paused=false', 'talos-fleet/prod/drill 30 3 29 2 * paused=false']);
    const described = await client.schedule.getHandle('talos-fleet/prod/snapshot').describe();
    expect(described.policies).toMatchObject({ overlap: 'SKIP', catchupWindow: 600_000 });
    const { workflowId, result } = await triggerSchedule<SnapshotClusterResult>('talos-fleet/prod/snapshot');
    expect(workflowId).toMatch(/^talos-fleet\/prod\/snapshot-/);
    expect(result.outcome).toBe('verified');
    expect(result.snapshot).toMatchObject({ trigger: 'schedule', requester: 'schedule', verification: { status: 'verified' } });
  });

  it('keeps a paused schedule paused when the inventory is synced again, and deletes schedules the inventory dropped', async () => {
    const inv = loadInventory(settings.inventoryPath);
    await setPaused(client, 'prod/drill', true, 'paused by alice: maintenance');
    expect(await reconcileSchedules(client, inv, settings.taskQueue, { timing: TIMING })).toMatchObject({ created: [], updated: [], deleted: [], unchanged: ['talos-fleet/prod/snapshot', 'talos-fleet/prod/drill'] });
    expect((await client.schedule.getHandle('talos-fleet/prod/drill').describe()).state).toMatchObject({ paused: true, note: 'paused by alice: maintenance' });
    // Deleting relies on listing schedules, which Temporal's visibility shows eventually (sdk-typescript#1013).
    await waitUntil('the drill schedule to be listed', async () => {
      for await (const x of client.schedule.list()) if (x.scheduleId === 'talos-fleet/prod/drill') return true;
      return false;
    });
    const withoutDrill = loadInventory(settings.inventoryPath);
    delete (withoutDrill.inventory.clusters[0]!.backups as { drill?: unknown }).drill;
    expect((await reconcileSchedules(client, withoutDrill, settings.taskQueue, { timing: TIMING })).deleted).toEqual(['talos-fleet/prod/drill']);
    expect((await reconcileSchedules(client, inv, settings.taskQueue, { timing: TIMING })).created).toEqual(['talos-fleet/prod/drill']);
  });

  it('drills the newest verified snapshot in a throwaway etcd of the cluster\'s version and records what it found', async () => {
    const { result } = await triggerSchedule<DrillClusterResult>('talos-fleet/prod/drill');
    expect(result.drill.ok).toBe(true);
    expect(result.drill.etcdVersion).toMatch(/^3\.5\./);
    expect(result.content.registry).toMatchObject({ present: true, resources: { configmaps: 300 } });
    expect(result.drill.detail).toMatch(/Kubernetes objects of 1 resources, as recorded/);
    const record = (await listSnapshots(openStore(s3.url('talos')), 'prod')).find((x) => x.id === result.snapshot);
    expect(record!.drill).toMatchObject({ ok: true });
  });
});

describe('verifications that cannot run here', () => {
  it('keep the snapshot\'s verification as it was: no etcdutl on this worker, or the run stopped', async () => {
    const store = openStore(s3.url('talos'));
    const newest = (await listSnapshots(store, 'prod')).find((s) => s.verification.status === 'verified')!;
    const connector = new FleetConnector(inventorySource(settings.inventoryPath));
    try {
      const { verifySnapshot } = snapshotActivities({ inventory: inventorySource(settings.inventoryPath), connector, notifier: { notify: async () => undefined } });
      const verify = (env = new MockActivityEnvironment()): Promise<SnapshotMetadata> => env.run(verifySnapshot, { cluster: 'prod', id: newest.id });
      process.env.ETCDUTL_3_5_BIN = join(t.dir, 'no-such-etcdutl');
      try {
        await expect(verify()).rejects.toMatchObject({ code: 'tool_missing' });
        await expect(verify()).rejects.toThrow(`ETCDUTL_3_5_BIN=${join(t.dir, 'no-such-etcdutl')} is not an executable file`);
      } finally {
        delete process.env.ETCDUTL_3_5_BIN;
      }
      // A run that was cancelled (the worker shutting down, the workflow cancelled): stopped, not failed.
      const stopped = new MockActivityEnvironment();
      stopped.cancel();
      await expect(verify(stopped)).rejects.toThrow();
      expect((await listSnapshots(store, 'prod')).find((s) => s.id === newest.id)!.verification).toEqual(newest.verification);
      // With its tools it verifies as before.
      expect((await verify()).verification.status).toBe('verified');
    } finally {
      connector.close();
    }
  });
});

describe('restores', () => {
  it('refuses a tampered snapshot before any control plane is reset, and says so', async () => {
    const { snapshot: meta } = await snapshot();
    // Flip one byte of the object where Versity Gateway keeps it.
    const file = join(s3.dir, s3.bucket, 'talos', meta!.object);
    const bytes = readFileSync(file);
    bytes[bytes.length - 100]! ^= 1;
    writeFileSync(file, bytes);
    const run = await restore(meta!.id);
    const failure: unknown = await run.handle.result().catch((err: Error & { cause?: Error }) => err.cause?.message ?? err.message);
    expect(failure).toMatch(new RegExp(`verify-snapshot failed: snapshot ${meta!.id} failed verification: .*(was altered in the store|fails authentication|does not match)`));
    expect(failure).toMatch(/nothing was reset/);
    expect(records('Reset')).toEqual([]);
    expect(records('ServiceStop')).toEqual([]);
    // It is never offered again: marked failed in its record.
    const listed = (await listSnapshots(openStore(s3.url('talos')), 'prod')).find((s) => s.id === meta!.id);
    expect(listed!.verification.status).toBe('failed');
  });

  it('restores 10,000 keys after every control plane was reset: every key back, every control plane a member, still so after a reboot; each Reset and the EtcdRecover sent once', async () => {
    await put(10_000, '/data/key-');
    const { snapshot: meta } = await snapshot();
    expect(meta!.content!.keys).toBeGreaterThanOrEqual(10_300);
    await put(50, '/after-snapshot/key-');
    expect(count('cp-2', '/after-snapshot/')).toBe(50);

    const before = new Map(t.fleet.nodes().map((n) => [n.name, n.record.length]));
    const since = (method: string) => t.fleet.nodes().flatMap((n) => n.record.slice(before.get(n.name)).filter((r) => r.method === method).map((r) => ({ node: n.name, outcome: r.outcome })));
    const run = await restore('latest');
    await waitForGate(run);
    // A scheduled snapshot while the restore runs is skipped, not queued.
    const skipped = await triggerSchedule<SnapshotClusterResult>('talos-fleet/prod/snapshot');
    expect(skipped.result).toMatchObject({ outcome: 'skipped', detail: expect.stringMatching(/skipped: a restore of prod is running/) as unknown });
    // Two distinct approvers are needed, and the requester is not one of them.
    await expect(decide(client, run.ref, { choice: 'approve', user: 'alice' })).rejects.toThrow(/alice started this run and may not approve it/);
    expect(await decide(client, run.ref, { choice: 'approve', user: 'bob' })).toMatchObject({ closed: false });
    await expect(decide(client, run.ref, { choice: 'approve', user: 'bob' })).rejects.toThrow(/bob has already answered/);
    expect(records('Reset')).toEqual([]);
    expect(await decide(client, run.ref, { choice: 'approve', user: 'carol' })).toMatchObject({ closed: true });

    const result = (await run.handle.result()) as RestoreClusterResult;
    expect(result.snapshot).toBe(meta!.id);
    expect(result.checks).toHaveLength(2);
    expect(since('Reset').map((r) => `${r.node}:${r.outcome}`).sort()).toEqual(['cp-1:ok', 'cp-2:ok', 'cp-3:ok']);
    expect(since('EtcdRecover')).toEqual([{ node: result.recoveredOn, outcome: 'ok' }]);
    expect(since('Bootstrap')).toEqual([{ node: result.recoveredOn, outcome: 'ok' }]);
    expect(since('Reboot')).toEqual([{ node: result.rebooted, outcome: 'ok' }]);
    for (const node of ['cp-1', 'cp-2', 'cp-3']) {
      expect(count(node, '/data/key-')).toBe(10_000);
      expect(count(node, '/registry/configmaps/')).toBe(300);
      expect(count(node, '/after-snapshot/')).toBe(0);
    }
    const members = onlyValue(await t.client().etcdMemberList({}, { node: t.addr('cp-2') })).members;
    expect(members.map((m) => `${m.hostname}${m.isLearner ? ' (learner)' : ''}`).sort()).toEqual(['cp-1', 'cp-2', 'cp-3']);
    const progress = await runProgress(client, run.ref);
    expect(progress.gates.at(-1)!.decisions.map((d) => d.user)).toEqual(['bob', 'carol']);
    // Every step was told to the notifier.
    const told = notifications.filter((n) => n.operation === 'restore').map((n) => n.progress.phase);
    for (const phase of ['verify-snapshot', 'preflight', 'approval', 'stop-etcd', 'reset', 'preparing', 'recover', 'etcd', 'health', 'verify-data', 'reboot', 'completed']) expect(told).toContain(phase);
  });
});

describe('secrets', () => {
  it('leaves no age identity, S3 credential or key material in the history of any run', async () => {
    const identity = readFileSync(identityFile, 'utf8').split('\n').find((l) => l.startsWith('AGE-SECRET-KEY-'))!;
    expect(await secretsInHistories(client, [identity, s3.env.AWS_SECRET_ACCESS_KEY, s3.env.AWS_ACCESS_KEY_ID])).toEqual([]);
  });
});

async function waitForGate(run: StartedRun): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const p = await runProgress(client, run.ref).catch(() => undefined);
    if (p?.gate) return;
    if (p && p.status !== 'running') throw new Error(`the run ended before its gate: ${p.error ?? p.status}`);
    if (Date.now() > deadline) throw new Error('no gate within 60 s');
    await new Promise((r) => setTimeout(r, 100));
  }
}
