import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { startMutatingRun } from '../../src/runtime/runs';
import type { RuntimeSettings } from '../../src/runtime/settings';
import type { BackupTimings, RestoreClusterInput, RestoreClusterResult, SnapshotClusterInput, SnapshotClusterResult } from '../../src/shared/backups';
import { sideWorkflowId } from '../../src/shared/names';
import { PHASE } from '../../src/shared/search-attributes';
import { EtcdClient } from '../../src/simulator/etcd/client';
import { backupInventory } from '../support/backups';
import { startFleet, waitUntil, type TestFleet } from '../support/fleet';
import { startTestTemporal, testSettings, workflowBundlePath, type TestTemporal } from '../support/temporal';
import { BIN } from '../support/cli';

jest.setTimeout(300_000);

const TIMING: Partial<BackupTimings> = {
  pollIntervalMs: 200,
  checkWindowMs: 2_000,
  // A SIGKILLed worker's activity is retried elsewhere after this long.
  heartbeatTimeoutMs: 3_000,
  transferTimeoutMs: 120_000,
  preparingTimeoutMs: 120_000,
  preparingStableMs: 300,
  etcdJoinTimeoutMs: 120_000,
  healthTimeoutMs: 120_000,
  rebootTimeoutMs: 120_000,
};


/** A worker in its own process, as production runs it, so it can be SIGKILLed mid-activity. */
function spawnWorker(settings: RuntimeSettings, bundle: string, log: string[]): ChildProcess {
  const child = spawn(process.execPath, [BIN, 'worker', '--inventory', settings.inventoryPath, '--task-queue', settings.taskQueue, '--workflow-bundle', bundle, '--set-current'], {
    env: { ...process.env, TEMPORAL_ADDRESS: settings.connection.address!, TEMPORAL_NAMESPACE: settings.namespace },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.on('data', (d: Buffer) => log.push(d.toString()));
  child.stderr.on('data', (d: Buffer) => log.push(d.toString()));
  return child;
}

/** A small seeded generator, so a failing run can be repeated with the seed it printed. */
function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('a restore survives its worker being killed', () => {
  it('completes with each control plane reset once and EtcdRecover sent once when its worker is SIGKILLed at several points and restarted', async () => {
    const t: TestFleet = await startFleet({ nodes: '3cp', state: 'bootstrapped' });
    let server: TestTemporal | undefined;
    let worker: ChildProcess | undefined;
    const log: string[] = [];
    try {
      const { inventory } = await backupInventory(t, {
        dir: join(t.dir, 'inventory'),
        cluster: 'chaos',
        store: `file://${join(t.dir, 'store')}`,
        policy: { approvers: [], gates: { install: [], upgrade: [], 'upgrade-k8s': [], apply: [], restore: [] } },
      });
      mkdirSync(join(t.dir, 'store'));
      server = await startTestTemporal(t.dir);
      const settings = testSettings(server, inventory.path);
      const bundle = await workflowBundlePath();
      const connection = await Connection.connect({ address: server.address });
      const client = new Client({ connection, namespace: server.namespace });

      const etcd = new EtcdClient(`http://${t.addr('cp-1')}:2379`, 30_000);
      for (let i = 0; i < 500; i++) await etcd.put(`/chaos/key-${i}`, Buffer.from(`v${i}`));
      etcd.close();

      worker = spawnWorker(settings, bundle, log);
      const restoreRun = (timing: Partial<BackupTimings>) => startMutatingRun(client, settings, { operation: 'restore', cluster: 'chaos', requester: 'ci', args: [{ cluster: 'chaos', requester: 'ci', from: 'latest', timing } satisfies RestoreClusterInput], summary: 'restore chaos' });
      const failureOf = async (run: Awaited<ReturnType<typeof restoreRun>>) => run.handle.result().then(() => 'completed', (err: Error & { cause?: Error }) => err.cause?.message ?? err.message);

      // With no snapshot at all, a restore says so and touches nothing.
      expect(await failureOf(await restoreRun(TIMING))).toMatch(/cluster chaos has no snapshots in its store: take one with `talos-fleet snapshot chaos`/);
      expect(t.fleet.nodes().flatMap((n) => n.record.filter((r) => r.method === 'Reset' || r.method === 'ServiceStop'))).toEqual([]);

      const snap = await client.workflow.execute<(i: SnapshotClusterInput) => Promise<SnapshotClusterResult>>('snapshotCluster', {
        workflowId: sideWorkflowId('chaos', 'snapshot'),
        taskQueue: settings.taskQueue,
        args: [{ cluster: 'chaos', requester: 'ci', trigger: 'manual', timing: TIMING } satisfies SnapshotClusterInput],
      });
      expect(snap.outcome).toBe('verified');

      const before = new Map(t.fleet.nodes().map((n) => [n.name, n.record.length]));
      const since = () => t.fleet.nodes().flatMap((n) => n.record.slice(before.get(n.name)).map((r) => ({ node: n.name, method: r.method, outcome: r.outcome })));
      const completed = (method: string) => since().filter((c) => c.method === method && c.outcome !== 'pending').length;
      const seed = Number(process.env.CHAOS_SEED ?? Date.now() % 100_000);
      const random = seeded(seed);
      // The restore's mutating calls: ServiceStop ×3, Reset ×3, EtcdRecover, Bootstrap, Reboot. Kill once some of
      // the Resets have completed, once right after EtcdRecover completed (the window where a retry could upload
      // twice), and once during the rejoin or health wait.
      const afterResets = 1 + Math.floor(random() * 3);
      process.stdout.write(`chaos seed ${seed}: SIGKILL the worker after ${afterResets} Reset(s) completed, after EtcdRecover, and while etcd rejoins\n`);
      const run = await restoreRun(TIMING);
      const injected: string[] = [];
      const kill = async (why: string) => {
        worker!.kill('SIGKILL');
        await new Promise((r) => worker!.once('exit', r));
        injected.push(why);
        worker = spawnWorker(settings, bundle, log);
      };
      await waitUntil(`${afterResets} Reset(s) to complete`, () => completed('Reset') >= afterResets, 120_000);
      await kill(`after ${completed('Reset')} Reset(s) completed`);
      await waitUntil('EtcdRecover to complete', () => completed('EtcdRecover') >= 1, 120_000);
      await kill('after EtcdRecover');
      await waitUntil('the etcd or health phase', async () => {
        const d = await run.handle.describe();
        return ['etcd', 'health'].includes(d.typedSearchAttributes.get(PHASE) ?? '') || d.status.name !== 'RUNNING';
      }, 120_000);
      if ((await run.handle.describe()).status.name === 'RUNNING') await kill('while etcd rejoins');
      process.stdout.write(`injected: ${injected.join('; ')}\n`);

      const result = (await run.handle.result()) as RestoreClusterResult;
      const calls = since();
      const of = (method: string) => calls.filter((c) => c.method === method).map((c) => `${c.node}:${c.outcome}`).sort();
      expect(of('Reset')).toEqual(['cp-1:ok', 'cp-2:ok', 'cp-3:ok']);
      expect(of('EtcdRecover')).toEqual([`${result.recoveredOn}:ok`]);
      expect(of('Bootstrap')).toEqual([`${result.recoveredOn}:ok`]);
      expect(of('Reboot')).toEqual([`${result.rebooted}:ok`]);
      expect(injected.length).toBeGreaterThanOrEqual(2);
      const check = new EtcdClient(`http://${t.addr('cp-3')}:2379`, 10_000);
      try {
        expect((await check.get('/chaos/key-499'))?.toString()).toBe('v499');
      } finally {
        check.close();
      }

      // A control plane that never comes back to Preparing (its power goes at its next boot): the run stops there,
      // naming it, and uploads nothing.
      await t.fleet.fault('cp-3', 'down@boot');
      const mark = new Map(t.fleet.nodes().map((n) => [n.name, n.record.length]));
      const stuck = await failureOf(await restoreRun({ ...TIMING, preparingTimeoutMs: 10_000 }));
      expect(stuck).toMatch(/preparing failed: timed out after 10 s: waiting for every control plane to wait in Preparing: cp-3: does not answer/);
      expect(t.fleet.nodes().flatMap((n) => n.record.slice(mark.get(n.name)).filter((r) => r.method === 'EtcdRecover' || r.method === 'Bootstrap'))).toEqual([]);
      await connection.close();
    } catch (err) {
      process.stdout.write(`worker log:\n${log.join('').slice(-4000)}\n`);
      throw err;
    } finally {
      worker?.kill('SIGKILL');
      await server?.stop();
      await t.stop();
    }
  });
});
