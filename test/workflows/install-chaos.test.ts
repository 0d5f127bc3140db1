import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { scaffoldInventory } from '../../src/fleet/scaffold';
import { startMutatingRun } from '../../src/runtime/runs';
import type { RuntimeSettings } from '../../src/runtime/settings';
import { startFleetWorker } from '../../src/runtime/worker';
import type { InstallClusterInput, InstallTimings } from '../../src/shared/install';
import { startFleet, waitUntil, type TestFleet } from '../support/fleet';
import { freePort, startTestTemporal, testSettings, workflowBundlePath, type TestTemporal } from '../support/temporal';
import { BIN } from '../support/cli';

jest.setTimeout(300_000);

const TIMING: Partial<InstallTimings> = {
  pollIntervalMs: 200,
  checkWindowMs: 2_000,
  // A SIGKILLed worker's activity is retried elsewhere after this long.
  heartbeatTimeoutMs: 3_000,
  nodeInstallTimeoutMs: 120_000,
  etcdJoinTimeoutMs: 120_000,
  healthTimeoutMs: 120_000,
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

function records(t: TestFleet, method: string) {
  return t.fleet.nodes().flatMap((n) => n.record.filter((r) => r.method === method).map((r) => ({ node: n.name, outcome: r.outcome })));
}

function mutations(t: TestFleet): number {
  return t.fleet.nodes().reduce((sum, n) => sum + n.record.length, 0);
}

async function ungated(dir: string, t: TestFleet) {
  return scaffoldInventory({
    dir,
    cluster: 'chaos',
    nodes: t.fleet.nodes().map((n) => ({ name: n.name, address: n.spec.address, role: n.spec.role })),
    talosVersion: 'v1.10.9',
    approvers: [],
    allowSelfApproval: false,
    policy: { gates: { install: [], upgrade: [], 'upgrade-k8s': [], apply: [], restore: [] } },
  });
}

/** Every node got exactly one ApplyConfiguration and the cluster exactly one Bootstrap. */
function expectExactlyOnce(t: TestFleet): void {
  const applies = records(t, 'ApplyConfiguration');
  expect(applies.map((r) => r.node).sort()).toEqual(t.fleet.nodes().map((n) => n.name).sort());
  expect(applies.every((r) => r.outcome === 'ok')).toBe(true);
  expect(records(t, 'Bootstrap')).toEqual([{ node: 'cp-1', outcome: 'ok' }]);
}

describe('an install survives its infrastructure failing', () => {
  it('completes with exactly-once effects when its worker process is SIGKILLed at several points and restarted', async () => {
    const t = await startFleet({ nodes: '3cp,2w', state: 'maintenance' });
    let server: TestTemporal | undefined;
    let worker: ChildProcess | undefined;
    const log: string[] = [];
    try {
      const inventory = await ungated(join(t.dir, 'inventory'), t);
      server = await startTestTemporal(t.dir);
      const settings = testSettings(server, inventory.path);
      const bundle = await workflowBundlePath();
      const connection = await Connection.connect({ address: server.address });
      const client = new Client({ connection, namespace: server.namespace });

      const seed = Number(process.env.CHAOS_SEED ?? Date.now() % 100_000);
      const random = seeded(seed);
      // Kill after the k-th mutating call the fleet receives, for three k spread over the install (5 applies + 1 bootstrap).
      const killAfter = [1 + Math.floor(random() * 2), 3 + Math.floor(random() * 2), 6];
      process.stdout.write(`chaos seed ${seed}: SIGKILL the worker after mutating call ${killAfter.join(', ')}, and once during the health check\n`);

      worker = spawnWorker(settings, bundle, log);
      const input: InstallClusterInput = { cluster: 'chaos', requester: 'ci', timing: TIMING };
      const run = await startMutatingRun(client, settings, { operation: 'install', cluster: 'chaos', requester: 'ci', args: [input], summary: 'install chaos' });
      const injected: string[] = [];
      const kill = async (why: string) => {
        worker!.kill('SIGKILL');
        await new Promise((r) => worker!.once('exit', r));
        injected.push(why);
        worker = spawnWorker(settings, bundle, log);
      };
      for (const k of killAfter) {
        await waitUntil(`mutating call ${k}`, () => mutations(t) >= k, 120_000);
        await kill(`after mutating call ${k}`);
      }
      await waitUntil('the health phase', async () => {
        const d = await run.handle.describe();
        return d.typedSearchAttributes.get({ name: 'TalosFleetPhase', type: 'KEYWORD' } as never) === 'health' || d.status.name !== 'RUNNING';
      }, 120_000);
      if ((await run.handle.describe()).status.name === 'RUNNING') await kill('during the health check');
      process.stdout.write(`injected: ${injected.join('; ')}\n`);

      await run.handle.result();
      expectExactlyOnce(t);
      expect(injected.length).toBeGreaterThanOrEqual(3);
      expect(t.fleet.nodes().every((n) => n.ready)).toBe(true);
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

  it('completes when the Temporal dev server is stopped and restarted on its database file mid-install', async () => {
    const t = await startFleet({ nodes: '1cp,1w', state: 'maintenance' });
    const port = await freePort();
    const dbFile = join(t.dir, 'temporal.db');
    let server: TestTemporal | undefined = await startTestTemporal(t.dir, { dbFile, port });
    const inventory = await ungated(join(t.dir, 'inventory'), t);
    const settings = testSettings(server, inventory.path);
    const worker = await startFleetWorker({ settings, workflowBundlePath: await workflowBundlePath(), setCurrentVersion: true, log: () => undefined });
    try {
      let connection = await Connection.connect({ address: server.address });
      let client = new Client({ connection, namespace: server.namespace });
      const input: InstallClusterInput = { cluster: 'chaos', requester: 'ci', timing: TIMING };
      const run = await startMutatingRun(client, settings, { operation: 'install', cluster: 'chaos', requester: 'ci', args: [input], summary: 'install chaos' });
      await waitUntil('the first config to be applied', () => records(t, 'ApplyConfiguration').length >= 1, 120_000);
      await connection.close();
      await server.stop({ scan: false });
      server = await startTestTemporal(t.dir, { dbFile, port });
      connection = await Connection.connect({ address: server.address });
      client = new Client({ connection, namespace: server.namespace });
      await client.workflow.getHandle(run.workflowId, run.runId).result();
      expectExactlyOnce(t);
      await connection.close();
    } finally {
      await worker.shutdown();
      await server?.stop();
      await t.stop();
    }
  });
});
