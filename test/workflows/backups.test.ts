import { execFileSync } from 'node:child_process';
import { createWriteStream, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Client, Connection } from '@temporalio/client';
import { listSnapshots } from '../../src/backups/catalog';
import { snapshotStatus } from '../../src/backups/census';
import { openStore } from '../../src/backups/store';
import { startFleetWorker, type FleetWorker } from '../../src/runtime/worker';
import type { RuntimeSettings } from '../../src/runtime/settings';
import type { BackupTimings, SnapshotClusterInput, SnapshotClusterResult } from '../../src/shared/backups';
import { sideWorkflowId } from '../../src/shared/names';
import type { RunNotification } from '../../src/shared/notifications';
import { EtcdClient } from '../../src/simulator/etcd/client';
import { requireTool } from '../../src/tools/binaries';
import { onlyValue } from '../../src/talos/replies';
import { backupInventory } from '../support/backups';
import { startFleet, type TestFleet } from '../support/fleet';
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
  const { inventory, identity } = await backupInventory(t, { dir: join(t.dir, 'inventory'), cluster: 'prod', store: s3.url('talos'), backups: { compression: 'zstd', retention: { keepLast: 2, daily: 0, weekly: 0, monthly: 0 } } });
  identityFile = identity.file;
  server = await startTestTemporal(t.dir);
  settings = testSettings(server, inventory.path);
  worker = await startFleetWorker({ settings, workflowBundlePath: await workflowBundlePath(), setCurrentVersion: true, notifier: { notify: async (n) => void notifications.push(n) }, log: () => undefined });
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
  return client.workflow.execute('snapshotCluster', { workflowId: sideWorkflowId('prod', 'snapshot'), taskQueue: settings.taskQueue, args: [input] });
}

async function put(keys: number, prefix: string): Promise<void> {
  const etcd = new EtcdClient(`http://${t.addr('cp-1')}:2379`, 30_000);
  try {
    for (let i = 0; i < keys; i += 100) await Promise.all(Array.from({ length: Math.min(100, keys - i) }, (_, j) => etcd.put(`${prefix}${String(i + j).padStart(6, '0')}`, Buffer.from(`value ${i + j}`))));
  } finally {
    etcd.close();
  }
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
