import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { parseSecretsBundle } from '../../src/config/secrets';
import { scaffoldInventory } from '../../src/fleet/scaffold';
import { runHandle, runProgress, startMutatingRun } from '../../src/runtime/runs';
import type { RuntimeSettings } from '../../src/runtime/settings';
import { startFleetWorker, type FleetWorker } from '../../src/runtime/worker';
import type { InstallClusterInput, InstallTimings } from '../../src/shared/install';
import { cliEnvironment, runCli, startCli } from '../support/cli';
import { startFleet, waitUntil, type TestFleet } from '../support/fleet';
import { historyEvents, historyPayloads, mentionedUpdateIds, objectsWith, updateEvents } from '../support/history';
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

describe('the install workflow', () => {
  it('installs 3 control planes and 2 workers from maintenance mode, started and approved from the CLI, applying each config once and bootstrapping once', async () => {
    // The CLI reaches the test's Temporal, task queue and inventory as a user reaches a deployment: through the environment.
    const env = cliEnvironment(settings);
    const install = startCli(['install', 'demo', '--wait', '--as', 'alice'], { env });
    let ended = false;
    void install.exited.then(() => (ended = true));
    try {
      await waitUntil('the install to wait at its start gate', () => {
        if (ended) throw new Error(`install ended before its start gate:\n${install.output().stderr}`);
        return install.output().stdout.includes('waiting at gate start');
      }, 90_000);
      const ref = /started install of demo: run (demo@\S+)/.exec(install.output().stderr)?.[1];
      expect(ref).toBeDefined();

      // Nothing has been touched before the approval.
      expect(t.fleet.calls('ApplyConfiguration')).toEqual([]);

      const [second, mallory, self, otherGate] = await Promise.all([
        runCli(['install', 'demo', '--as', 'bob'], { env }),
        runCli(['approve', 'demo', '--as', 'mallory'], { env }),
        runCli(['approve', ref!, '--as', 'alice'], { env }),
        runCli(['approve', 'demo', '--gate', 'other', '--as', 'bob'], { env }),
      ]);
      // One mutating operation per cluster: a second install is refused, naming the running one.
      expect(second.code).toBe(1);
      expect(second.stderr).toMatch(new RegExp(`error: cluster demo already has a running install \\(run ${ref}, started by alice`));
      // Only approvers may decide, and the requester may not approve their own run here.
      expect(mallory.code).toBe(1);
      expect(mallory.stderr).toMatch(/error: mallory may not decide gates of cluster demo/);
      expect(self.code).toBe(1);
      expect(self.stderr).toMatch(/error: alice started this run and may not approve it/);
      expect(otherGate.code).toBe(1);
      expect(otherGate.stderr).toMatch(/error: gate other is not open/);
      // The refusals moved nothing: the run still waits and no node was touched.
      expect((await runProgress(client, ref!)).status).toBe('waiting');
      expect(t.fleet.calls('ApplyConfiguration')).toEqual([]);

      const approved = await runCli(['approve', 'demo', '--as', 'bob'], { env });
      expect(approved.stdout).toContain('gate start: approve by bob');
      expect(approved.code).toBe(0);

      await waitUntil('the install to end', () => ended, 240_000);
      const installed = await install.exited;
      expect(installed.stdout).toContain('install of demo completed');
      expect(installed.code).toBe(0);

      // Exactly once, from the simulator's record: one ApplyConfiguration per node, one Bootstrap in the whole cluster.
      expect(t.fleet.calls('ApplyConfiguration').map((c) => `${c.node}:${c.outcome}`).sort()).toEqual(['cp-1:ok', 'cp-2:ok', 'cp-3:ok', 'w-1:ok', 'w-2:ok']);
      expect(t.fleet.calls('Bootstrap').map((c) => `${c.node}:${c.outcome}`)).toEqual(['cp-1:ok']);

      // A healthy cluster, as `talos-fleet status` reports it.
      // The run ends on a passing health check; a node's own readiness may trail its services by a moment.
      await waitUntil('every node to report ready', () => t.fleet.nodes().every((n) => n.ready), 30_000);
      const status = await runCli(['status', 'demo', '--json'], { env });
      expect(status.code).toBe(0);
      const parsed = JSON.parse(status.stdout) as { nodes: { node: string; state: string; version?: string }[]; etcd: { hostname: string }[]; health: { healthy: boolean } };
      expect(parsed.nodes.map((n) => `${n.node}:${n.state}:${n.version}`)).toEqual(['cp-1', 'cp-2', 'cp-3', 'w-1', 'w-2'].map((n) => `${n}:member:v1.10.9`));
      expect(parsed.etcd).toHaveLength(3);
      expect(parsed.health.healthy).toBe(true);

      // The run shows who approved; the refused answers left no trace in its history: the only Update events are
      // bob's accepted and completed decision, no other Update id appears, and no payload holds another decision.
      const progress = await runProgress(client, ref!);
      expect(progress.status).toBe('completed');
      expect(progress.gates.map((g) => ({ gate: g.name, outcome: g.outcome, by: g.decisions.map((d) => d.user) }))).toEqual([{ gate: 'start', outcome: 'approve', by: ['bob'] }]);
      const handle = runHandle(client, ref!);
      const events = await historyEvents(handle);
      const updates = updateEvents(events);
      expect(updates.map((u) => u.kind)).toEqual(['Accepted', 'Completed']);
      expect(updates[0]).toMatchObject({ name: 'decide', args: [{ choice: 'approve', user: 'bob' }] });
      expect(updates[1]!.updateId).toBe(updates[0]!.updateId);
      expect(mentionedUpdateIds(events)).toEqual([updates[0]!.updateId]);
      const decisions = objectsWith(historyPayloads(events), ['user', 'choice']).map((d) => `${String(d.user)}:${String(d.choice)}`);
      expect(decisions.length).toBeGreaterThan(0);
      expect([...new Set(decisions)]).toEqual(['bob:approve']);
      const history = await historyText(handle);
      for (const trace of ['mallory', 'NotAnApprover', 'SelfApprovalForbidden', 'NoOpenGate', 'may not']) expect(history).not.toContain(trace);
    } finally {
      install.kill();
    }
  });

  it('refuses, before touching anything, nodes that are not in maintenance mode or do not answer', async () => {
    const before = t.fleet.calls('ApplyConfiguration').length;
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
      expect(t.fleet.calls('ApplyConfiguration').length).toBe(before);
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
