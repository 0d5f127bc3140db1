import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { startMutatingRun } from '../../src/runtime/runs';
import type { RuntimeSettings } from '../../src/runtime/settings';
import type { UpgradeClusterInput, UpgradeTimings } from '../../src/shared/upgrade';
import { NO_GATES, startManagedCluster } from '../support/cluster';
import { waitUntil } from '../support/fleet';
import { freePort, startTestTemporal, testSettings, workflowBundlePath, type TestTemporal } from '../support/temporal';
import { BIN } from '../support/cli';

jest.setTimeout(420_000);

const TIMING: Partial<UpgradeTimings> = { pollIntervalMs: 200, checkWindowMs: 2_000, heartbeatTimeoutMs: 3_000, nodeUpgradeTimeoutMs: 120_000, healthTimeoutMs: 120_000 };

function spawnWorker(settings: RuntimeSettings, bundle: string, log: string[]): ChildProcess {
  const child = spawn(process.execPath, [BIN, 'worker', '--inventory', settings.inventoryPath, '--task-queue', settings.taskQueue, '--workflow-bundle', bundle, '--set-current'], {
    env: { ...process.env, TEMPORAL_ADDRESS: settings.connection.address!, TEMPORAL_NAMESPACE: settings.namespace },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.on('data', (d: Buffer) => log.push(d.toString()));
  child.stderr.on('data', (d: Buffer) => log.push(d.toString()));
  return child;
}

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('a rolling upgrade survives its infrastructure failing', () => {
  it('sends every node exactly one upgrade while the worker is SIGKILLed at seeded points and the Temporal server restarts once', async () => {
    const c = await startManagedCluster({ nodes: '3cp,2w', cluster: 'chaos', policy: { ...NO_GATES, canaryCount: 1, workerBatchSize: 1 } });
    const port = await freePort();
    const dbFile = join(c.t.dir, 'temporal.db');
    let server: TestTemporal = await startTestTemporal(c.t.dir, { dbFile, port });
    const settings = testSettings(server, c.inventory.path);
    const bundle = await workflowBundlePath();
    const log: string[] = [];
    let worker = spawnWorker(settings, bundle, log);
    const upgrades = () => c.t.fleet.nodes().flatMap((n) => n.record.filter((r) => r.method === 'Upgrade').map((r) => ({ node: n.name, outcome: r.outcome })));
    try {
      const seed = Number(process.env.CHAOS_SEED ?? Date.now() % 100_000);
      const random = seeded(seed);
      // Kill points: after the k-th upgrade call reached a node, plus a random delay so kills land anywhere in a step.
      const points = [1, 3, 4].map((k) => ({ k, delayMs: Math.floor(random() * 1_500) }));
      const restartAfter = 2;
      process.stdout.write(`chaos seed ${seed}: SIGKILL the worker ${points.map((p) => `${p.delayMs} ms after upgrade ${p.k}`).join(', ')}; restart Temporal after upgrade ${restartAfter}\n`);

      let connection = await Connection.connect({ address: server.address });
      let client = new Client({ connection, namespace: server.namespace });
      const run = await startMutatingRun(client, settings, { operation: 'upgrade', cluster: 'chaos', requester: 'ci', args: [{ cluster: 'chaos', requester: 'ci', toVersion: 'v1.10.10', timing: TIMING } satisfies UpgradeClusterInput], summary: 'upgrade chaos' });
      const injected: string[] = [];
      const killWorker = async (why: string) => {
        worker.kill('SIGKILL');
        await new Promise((r) => (worker.exitCode !== null || worker.signalCode !== null ? r(undefined) : worker.once('exit', r)));
        injected.push(`worker SIGKILL ${why}`);
      };
      for (const point of points) {
        await waitUntil(`upgrade call ${point.k}`, () => upgrades().length >= point.k, 180_000);
        await new Promise((r) => setTimeout(r, point.delayMs));
        await killWorker(`${point.delayMs} ms after upgrade ${point.k}`);
        if (point.k >= restartAfter && !injected.some((i) => i.startsWith('Temporal'))) {
          await connection.close();
          await server.stop({ scan: false });
          server = await startTestTemporal(c.t.dir, { dbFile, port });
          injected.push(`Temporal restarted after upgrade ${point.k}`);
          connection = await Connection.connect({ address: server.address });
          client = new Client({ connection, namespace: server.namespace });
        }
        worker = spawnWorker(settings, bundle, log);
      }
      process.stdout.write(`injected: ${injected.join('; ')}\n`);
      await client.workflow.getHandle(run.workflowId, run.runId).result();
      const calls = upgrades();
      expect(calls.map((u) => u.node).sort()).toEqual(['cp-1', 'cp-2', 'cp-3', 'w-1', 'w-2']);
      expect(calls.every((u) => u.outcome === 'ok')).toBe(true);
      expect(c.t.fleet.nodes().map((n) => n.version)).toEqual(['v1.10.10', 'v1.10.10', 'v1.10.10', 'v1.10.10', 'v1.10.10']);
      await connection.close();
    } catch (err) {
      process.stdout.write(`worker log:\n${log.join('').slice(-4000)}\n`);
      throw err;
    } finally {
      worker.kill('SIGKILL');
      await server.stop();
      await c.t.stop();
    }
  });
});
