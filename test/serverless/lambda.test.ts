import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { scaffoldInventory } from '../../src/fleet/scaffold';
import { startMutatingRun } from '../../src/runtime/runs';
import { buildIdFor, makeCurrentVersion } from '../../src/runtime/worker';
import { createLambdaHandler } from '../../src/serverless/lambda';
import type { InstallClusterInput } from '../../src/shared/install';
import { startFleet, type TestFleet } from '../support/fleet';
import { startTestTemporal, testSettings, workflowBundlePath, type TestTemporal } from '../support/temporal';
import { readFileSync } from 'node:fs';

jest.setTimeout(300_000);

/** What Lambda passes a handler, reduced to what the worker reads: the time left. */
function lambdaContext(budgetMs: number) {
  const deadline = Date.now() + budgetMs;
  return { getRemainingTimeInMillis: () => deadline - Date.now(), functionName: 'talos-fleet-worker', awsRequestId: `req-${deadline}` } as never;
}

let t: TestFleet;
let server: TestTemporal;

beforeAll(async () => {
  t = await startFleet({ nodes: '1cp,1w', state: 'maintenance' });
  server = await startTestTemporal(t.dir);
}, 120_000);

afterAll(async () => {
  await server?.stop();
  await t?.stop();
});

describe('the AWS Lambda worker', () => {
  it('polls within one invocation and returns before its deadline, and invocations alone drive an install to its end', async () => {
    const inventory = await scaffoldInventory({
      dir: join(t.dir, 'inventory'),
      cluster: 'serverless',
      nodes: t.fleet.nodes().map((n) => ({ name: n.name, address: n.spec.address, role: n.spec.role })),
      talosVersion: 'v1.10.9',
      approvers: [],
      allowSelfApproval: false,
      policy: { gates: { install: [], upgrade: [], 'upgrade-k8s': [], apply: [], restore: [] } },
    });
    const settings = testSettings(server, inventory.path);
    const bundle = await workflowBundlePath();
    const saved = { ...process.env };
    Object.assign(process.env, { TEMPORAL_ADDRESS: server.address, TEMPORAL_NAMESPACE: server.namespace });
    try {
      const handler = createLambdaHandler({ workflowBundlePath: bundle, inventoryPath: inventory.path, taskQueue: settings.taskQueue });
      const connection = await Connection.connect({ address: server.address });
      const client = new Client({ connection, namespace: server.namespace });
      const input: InstallClusterInput = { cluster: 'serverless', requester: 'ci', timing: { pollIntervalMs: 200, checkWindowMs: 2_000, heartbeatTimeoutMs: 5_000 } };

      // The first invocation makes the deployment version known; it becomes current, as a rollout would make it.
      // 9 s leaves 2 s of polling after the 7 s shutdown buffer: the install needs several invocations.
      const budgetMs = 9_000;
      const first = handler({}, lambdaContext(budgetMs));
      await makeCurrentVersion(settings, buildIdFor({ code: readFileSync(bundle, 'utf8') }));
      const run = await startMutatingRun(client, settings, { operation: 'install', cluster: 'serverless', requester: 'ci', args: [input], summary: 'install serverless' });

      const invocations: { tookMs: number; budgetMs: number }[] = [];
      let started = Date.now();
      await first;
      invocations.push({ tookMs: Date.now() - started, budgetMs });
      while ((await run.handle.describe()).status.name === 'RUNNING' && invocations.length < 30) {
        started = Date.now();
        await handler({}, lambdaContext(budgetMs));
        invocations.push({ tookMs: Date.now() - started, budgetMs });
      }
      process.stdout.write(`lambda invocations: ${invocations.map((i) => `${i.tookMs} ms of ${i.budgetMs}`).join(', ')}\n`);

      const result = (await run.handle.result()) as { nodes: { name: string }[] };
      expect(result.nodes.map((n) => n.name).sort()).toEqual(['cp-1', 'w-1']);
      // Every invocation worked for a while and stopped before the deadline, with the shutdown buffer to spare.
      for (const i of invocations) {
        expect(i.tookMs).toBeLessThan(i.budgetMs);
        expect(i.tookMs).toBeGreaterThan(1_000);
      }
      expect(invocations.length).toBeGreaterThan(1);
      expect(t.fleet.nodes().flatMap((n) => n.record.filter((r) => r.method === 'ApplyConfiguration')).length).toBe(2);
      await connection.close();
    } finally {
      process.env = saved;
    }
  });
});
