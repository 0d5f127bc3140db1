import { readFileSync, writeFileSync } from 'node:fs';
import type { Client } from '@temporalio/client';
import { parse, stringify } from 'yaml';
import { decide, runProgress, startMutatingRun } from '../../src/runtime/runs';
import type { RuntimeSettings } from '../../src/runtime/settings';
import type { ApplyConfigInput, UpgradeTimings } from '../../src/shared/upgrade';
import { startManagedCluster, type ManagedCluster } from '../support/cluster';
import { waitUntil } from '../support/fleet';
import { startWorkflowRuntime, type WorkflowRuntime } from '../support/temporal';

jest.setTimeout(240_000);

const TIMING: Partial<UpgradeTimings> = { pollIntervalMs: 200, checkWindowMs: 2_000, heartbeatTimeoutMs: 5_000, nodeUpgradeTimeoutMs: 30_000, healthTimeoutMs: 60_000 };

let c: ManagedCluster;
let runtime: WorkflowRuntime;
let client: Client;
let settings: RuntimeSettings;

beforeAll(async () => {
  c = await startManagedCluster({ nodes: '1cp,2w', cluster: 'prod', policy: { approvers: ['alice', 'bob'], allowSelfApproval: false, gates: { install: [], upgrade: [], 'upgrade-k8s': [], apply: ['start'], restore: [] } } });
  runtime = await startWorkflowRuntime(c.t.dir, c.inventory.path);
  ({ client, settings } = runtime);
}, 180_000);

afterAll(async () => {
  await runtime?.stop();
  await c?.t.stop();
});

const fleet = () => c.t.fleet;
const bootIds = () => Object.fromEntries(fleet().nodes().map((n) => [n.name, n.bootId]));
const applies = (since: number) => fleet().nodes().flatMap((n) => n.record.filter((r) => r.method === 'ApplyConfiguration' && r.details.dryRun === false && Date.parse(r.at) >= since).map((r) => ({ node: n.name, mode: r.details.mode })));

/** Sets the cluster's `all` patches in the inventory, as an operator edits fleet.yaml. */
function setPatches(all: string[]): void {
  const doc = parse(readFileSync(c.inventory.path, 'utf8')) as { clusters: { patches?: unknown }[] };
  doc.clusters[0]!.patches = { all, controlplane: [], worker: [] };
  writeFileSync(c.inventory.path, stringify(doc));
}

async function rollout(patches?: string[]) {
  const run = await startMutatingRun(client, settings, { operation: 'apply', cluster: 'prod', requester: 'alice', args: [{ cluster: 'prod', requester: 'alice', ...(patches ? { patches } : {}), timing: TIMING } satisfies ApplyConfigInput], summary: 'apply prod' });
  await waitUntil('the start gate or the end', async () => (await runProgress(client, run.ref)).gate?.name === 'start' || (await run.handle.describe()).status.name !== 'RUNNING', 60_000);
  return run;
}

describe('the machine-config rollout', () => {
  it('applies a change every node can take live without rebooting any, after showing the diff with secrets hidden', async () => {
    setPatches(['machine:\n  sysctls:\n    net.core.somaxconn: "65535"\n']);
    const boots = bootIds();
    const since = Date.now();
    const run = await rollout();
    const gate = (await runProgress(client, run.ref)).gate!;
    expect(gate.summary).toContain('cp-1 (applied live, no reboot):\n  + machine.sysctls: {"net.core.somaxconn":"65535"}');
    expect(gate.summary).not.toMatch(/LS0tLS1CRUdJT|BEGIN/);
    await decide(client, run.ref, { choice: 'approve', user: 'bob' });
    await run.handle.result();
    expect(applies(since)).toEqual([
      { node: 'cp-1', mode: 'NO_REBOOT' },
      { node: 'w-1', mode: 'NO_REBOOT' },
      { node: 'w-2', mode: 'NO_REBOOT' },
    ]);
    expect(bootIds()).toEqual(boots);
    // The same inventory again: nothing to change, nothing sent, no gate.
    const again = await rollout();
    expect(await again.handle.result()).toMatchObject({ nodes: [{ outcome: 'up-to-date' }, { outcome: 'up-to-date' }, { outcome: 'up-to-date' }] });
    expect(applies(since)).toHaveLength(3);
  });

  it('reboots nodes one at a time with health gates for a change that needs a reboot', async () => {
    const boots = bootIds();
    const since = Date.now();
    const run = await rollout(['machine:\n  install:\n    extraKernelArgs: [console=ttyS1]\n']);
    const gate = (await runProgress(client, run.ref)).gate!;
    expect(gate.summary).toMatch(/w-1 \(needs a reboot: one node at a time with health gates\)/);
    let most = 0;
    const watcher = setInterval(() => (most = Math.max(most, fleet().nodes().filter((n) => !n.powered || n.stage !== 'RUNNING').length)), 20);
    await decide(client, run.ref, { choice: 'approve', user: 'bob' });
    await run.handle.result();
    clearInterval(watcher);
    expect(most).toBe(1);
    expect(applies(since)).toEqual([
      { node: 'cp-1', mode: 'REBOOT' },
      { node: 'w-1', mode: 'REBOOT' },
      { node: 'w-2', mode: 'REBOOT' },
    ]);
    const after = bootIds();
    for (const n of Object.keys(boots)) expect(after[n]).not.toBe(boots[n]);
    expect(fleet().nodes().every((n) => n.ready)).toBe(true);
  });
});
