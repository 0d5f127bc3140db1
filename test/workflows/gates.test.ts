import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { parse, stringify } from 'yaml';
import { scaffoldInventory } from '../../src/fleet/scaffold';
import { abortRun, decide, runProgress, startMutatingRun } from '../../src/runtime/runs';
import { startFleetWorker, type FleetWorker } from '../../src/runtime/worker';
import type { InstallClusterInput, InstallTimings } from '../../src/shared/install';
import type { RunNotification } from '../../src/shared/notifications';
import { startFleet, waitUntil, type TestFleet } from '../support/fleet';
import { startTestTemporal, testSettings, workflowBundlePath, type TestTemporal } from '../support/temporal';

jest.setTimeout(240_000);

const TIMING: Partial<InstallTimings> = { pollIntervalMs: 200, checkWindowMs: 2_000, heartbeatTimeoutMs: 5_000, nodeInstallTimeoutMs: 60_000, etcdJoinTimeoutMs: 60_000, healthTimeoutMs: 90_000 };

let t: TestFleet;
let server: TestTemporal;
let worker: FleetWorker;
let connection: Connection;
let client: Client;
let inventoryPath: string;
let settings: ReturnType<typeof testSettings>;
const notifications: RunNotification[] = [];

/** Rewrites the cluster's policy in the inventory; the worker reads the file again on its next activity. */
function setPolicy(policy: Record<string, unknown>): void {
  const doc = parse(readFileSync(inventoryPath, 'utf8')) as { clusters: { policy: Record<string, unknown> }[] };
  doc.clusters[0]!.policy = { approvers: ['alice', 'bob'], allowSelfApproval: false, ...policy };
  writeFileSync(inventoryPath, stringify(doc));
}

beforeAll(async () => {
  t = await startFleet({ nodes: '1cp,1w', state: 'maintenance' });
  const inventory = await scaffoldInventory({
    dir: join(t.dir, 'inventory'),
    cluster: 'gated',
    nodes: t.fleet.nodes().map((n) => ({ name: n.name, address: n.spec.address, role: n.spec.role })),
    talosVersion: 'v1.10.9',
    approvers: ['alice', 'bob'],
    allowSelfApproval: false,
  });
  inventoryPath = inventory.path;
  server = await startTestTemporal(t.dir);
  settings = testSettings(server, inventoryPath);
  worker = await startFleetWorker({ settings, workflowBundlePath: await workflowBundlePath(), setCurrentVersion: true, notifier: { notify: async (n) => void notifications.push(n) }, log: () => undefined });
  connection = await Connection.connect({ address: server.address });
  client = new Client({ connection, namespace: server.namespace });
}, 120_000);

afterAll(async () => {
  await worker?.shutdown();
  await connection?.close();
  await server?.stop();
  await t?.stop();
});

const applies = () => t.fleet.nodes().flatMap((n) => n.record.filter((r) => r.method === 'ApplyConfiguration').map(() => n.name));
const start = () => startMutatingRun(client, settings, { operation: 'install', cluster: 'gated', requester: 'alice', args: [{ cluster: 'gated', requester: 'alice', timing: TIMING } satisfies InstallClusterInput], summary: 'install gated' });

describe('approval gates and aborts', () => {
  it('aborts a run whose gate is not answered in time when the policy says abort, having touched nothing', async () => {
    setPolicy({ approvalTimeout: '2s', onApprovalTimeout: 'abort' });
    const run = await start();
    const failure = await run.handle.result().then(
      () => 'completed',
      (err: Error & { cause?: Error }) => err.cause?.message ?? err.message,
    );
    expect(failure).toMatch(/gate start was not answered within 2 s \(policy: abort\)/);
    const progress = await runProgress(client, run.ref);
    expect(progress.status).toBe('aborted');
    expect(progress.gates.map((g) => g.outcome)).toEqual(['timed-out']);
    expect(applies()).toEqual([]);
  });

  it('stops between nodes when aborted: the node in hand finishes, no further node is touched', async () => {
    setPolicy({ gates: { install: [], upgrade: [], 'upgrade-k8s': [], apply: [], restore: [] } });
    const run = await start();
    await waitUntil('the control plane to receive its config', () => applies().includes('cp-1'), 60_000);
    await expect(abortRun(client, run.ref, 'mallory')).rejects.toThrow(/mallory may not abort this run/);
    expect(await abortRun(client, run.ref, 'bob', 'change window closed')).toMatch(/next safe point/);
    await expect(run.handle.result()).rejects.toThrow();
    const progress = await runProgress(client, run.ref);
    expect(progress.status).toBe('aborted');
    expect(progress.error).toBe('aborted by bob: change window closed');
    // cp-1 was being installed when the abort came, and was finished; the worker and the bootstrap never started.
    expect(applies()).toEqual(['cp-1']);
    expect(t.fleet.node('cp-1').record.filter((r) => r.method === 'Bootstrap')).toEqual([]);
    await waitUntil('cp-1 to finish installing', () => t.fleet.node('cp-1').stage === 'RUNNING', 30_000);
  });

  it('holds an unanswered gate, reminding, until an approver answers; then resumes the install where it stopped', async () => {
    setPolicy({ approvalTimeout: '1s', onApprovalTimeout: 'hold', reminderEvery: '1s' });
    const run = await start();
    await waitUntil('two reminders', () => notifications.filter((n) => n.runId === run.runId && n.kind === 'gate-reminder').length >= 2, 60_000);
    expect((await runProgress(client, run.ref)).status).toBe('waiting');
    await decide(client, run.ref, { choice: 'approve', user: 'bob' });
    await run.handle.result();
    // The abort above left cp-1 installed: it was resumed, not configured twice.
    expect(applies().sort()).toEqual(['cp-1', 'w-1']);
    const kinds = notifications.filter((n) => n.runId === run.runId).map((n) => n.kind);
    expect(kinds).toEqual(expect.arrayContaining(['gate-opened', 'gate-reminder', 'gate-closed', 'node', 'completed']));
    expect(kinds.at(-1)).toBe('completed');
  });
});
