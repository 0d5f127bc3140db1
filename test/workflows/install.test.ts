import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { parseSecretsBundle } from '../../src/config/secrets';
import { scaffoldInventory } from '../../src/fleet/scaffold';
import { decide, runProgress, startMutatingRun } from '../../src/runtime/runs';
import type { RuntimeSettings } from '../../src/runtime/settings';
import { startFleetWorker, type FleetWorker } from '../../src/runtime/worker';
import type { InstallClusterInput, InstallTimings } from '../../src/shared/install';
import { startFleet, waitUntil, type TestFleet } from '../support/fleet';
import { historyText, secretsInHistories, secretValues } from '../support/secrets-scan';
import { startTestTemporal, testSettings, workflowBundlePath, type TestTemporal } from '../support/temporal';

/** Waits short enough for a test at time scale 0.01, long enough for two busy cores. */
const TIMING: Partial<InstallTimings> = {
  pollIntervalMs: 200,
  checkWindowMs: 2_000,
  heartbeatTimeoutMs: 5_000,
  nodeInstallTimeoutMs: 60_000,
  etcdJoinTimeoutMs: 60_000,
  healthTimeoutMs: 90_000,
};

let t: TestFleet;
let server: TestTemporal;
let settings: RuntimeSettings;
let worker: FleetWorker;
let connection: Connection;
let client: Client;

beforeAll(async () => {
  t = await startFleet({ nodes: '3cp,2w', state: 'maintenance' });
  const inventory = await scaffoldInventory({
    dir: join(t.dir, 'inventory'),
    cluster: 'demo',
    nodes: t.fleet.nodes().map((n) => ({ name: n.name, address: n.spec.address, role: n.spec.role })),
    talosVersion: 'v1.10.9',
    approvers: ['alice', 'bob'],
    allowSelfApproval: false,
  });
  server = await startTestTemporal(t.dir);
  settings = testSettings(server, inventory.path);
  worker = await startFleetWorker({ settings, workflowBundlePath: await workflowBundlePath(), setCurrentVersion: true, log: () => undefined });
  connection = await Connection.connect({ address: server.address });
  client = new Client({ connection, namespace: server.namespace });
}, 180_000);

jest.setTimeout(300_000);

afterAll(async () => {
  await worker?.shutdown();
  await connection?.close();
  await server?.stop();
  await t?.stop();
});

const records = (method: string) => t.fleet.nodes().flatMap((n) => n.record.filter((r) => r.method === method).map((r) => ({ node: n.name, ...r })));

describe('the install workflow', () => {
  it('installs 3 control planes and 2 workers from maintenance mode once approved, applying each config once and bootstrapping once', async () => {
    const input: InstallClusterInput = { cluster: 'demo', requester: 'alice', timing: TIMING };
    const run = await startMutatingRun(client, settings, { operation: 'install', cluster: 'demo', requester: 'alice', args: [input], summary: 'install demo' });
    await waitUntil('the start gate to open', async () => (await runProgress(client, run.ref)).gate?.name === 'start', 60_000);

    // Nothing has been touched before the approval.
    expect(records('ApplyConfiguration')).toEqual([]);

    // One mutating operation per cluster: a second install is refused, naming the running one.
    await expect(startMutatingRun(client, settings, { operation: 'install', cluster: 'demo', requester: 'bob', args: [input], summary: 'install demo' })).rejects.toThrow(
      new RegExp(`cluster demo already has a running install \\(run ${run.ref}, started by alice`),
    );

    // Only approvers may decide, and the requester may not approve their own run here.
    await expect(decide(client, run.ref, { choice: 'approve', user: 'mallory' })).rejects.toThrow(/mallory may not decide gates of cluster demo/);
    await expect(decide(client, run.ref, { choice: 'approve', user: 'alice' })).rejects.toThrow(/alice started this run and may not approve it/);
    await expect(decide(client, run.ref, { gate: 'other', choice: 'approve', user: 'bob' })).rejects.toThrow(/gate other is not open/);
    const accepted = await decide(client, run.ref, { gate: 'start', choice: 'approve', user: 'bob' });
    expect(accepted).toEqual({ gate: 'start', accepted: 'approve', closed: true });

    const result = (await run.handle.result()) as { nodes: { name: string; version: string }[]; bootstrapNode: string; kubeconfigPath: string };
    expect(result.nodes.map((n) => n.name).sort()).toEqual(['cp-1', 'cp-2', 'cp-3', 'w-1', 'w-2']);
    expect(result.nodes.every((n) => n.version === 'v1.10.9')).toBe(true);

    const applies = records('ApplyConfiguration');
    expect(applies.map((r) => r.node).sort()).toEqual(['cp-1', 'cp-2', 'cp-3', 'w-1', 'w-2']);
    expect(applies.every((r) => r.outcome === 'ok')).toBe(true);
    expect(records('Bootstrap').map((r) => `${r.node}:${r.outcome}`)).toEqual(['cp-1:ok']);
    // The run ends on a passing health check; a node's own readiness may trail its services by a moment.
    await waitUntil('every node to report ready', () => t.fleet.nodes().every((n) => n.ready), 30_000);

    // The history shows who approved; the rejected attempts left no trace.
    const progress = await runProgress(client, run.ref);
    expect(progress.status).toBe('completed');
    expect(progress.gates.map((g) => ({ gate: g.name, outcome: g.outcome, by: g.decisions.map((d) => d.user) }))).toEqual([{ gate: 'start', outcome: 'approve', by: ['bob'] }]);
    const history = await historyText(run.handle);
    expect(history).not.toContain('mallory');
    expect(history).toContain('bob');
  });

  it('refuses, before touching anything, nodes that are not in maintenance mode or do not answer', async () => {
    const before = records('ApplyConfiguration').length;
    const other = await scaffoldInventory({
      dir: join(t.dir, 'other'),
      cluster: 'other',
      nodes: [
        { name: 'taken', address: t.addr('cp-1'), role: 'controlplane' },
        // Nothing listens there: the fleet's /24 has five nodes.
        { name: 'gone', address: t.addr('cp-1').replace(/\.11$/, '.99'), role: 'worker' },
      ],
      talosVersion: 'v1.10.9',
      approvers: [],
      allowSelfApproval: false,
      policy: { gates: { install: [], upgrade: [], 'upgrade-k8s': [], apply: [], restore: [] } },
    });
    const otherSettings = testSettings(server, other.path);
    const otherWorker = await startFleetWorker({ settings: otherSettings, workflowBundlePath: await workflowBundlePath(), log: () => undefined });
    try {
      const input: InstallClusterInput = { cluster: 'other', requester: 'alice', timing: TIMING };
      const run = await startMutatingRun(client, otherSettings, { operation: 'install', cluster: 'other', requester: 'alice', args: [input], summary: 'install other' });
      const failure: unknown = await run.handle.result().catch((err: Error & { cause?: Error }) => err.cause?.message ?? err.message);
      expect(failure).toMatch(/cannot install cluster "other": taken \(.*\) not in maintenance mode and not answering with this cluster's identity/);
      expect(failure).toMatch(/gone \(.*\) nothing answers/);
      expect(failure).toMatch(/nothing was changed/);
      expect(records('ApplyConfiguration').length).toBe(before);
      expect((await runProgress(client, run.ref)).status).toBe('failed');
    } finally {
      await otherWorker.shutdown();
    }
  });

  it('leaves no private key, token or kubeconfig in the history of any run', async () => {
    const secrets = secretValues(parseSecretsBundle(readFileSync(join(t.dir, 'inventory', 'demo', 'secrets.yaml'), 'utf8'), 'secrets'));
    expect(await secretsInHistories(client, secrets)).toEqual([]);
  });
});
