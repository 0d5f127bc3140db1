import { join } from 'node:path';
import { POWER_CUT_POINTS, type PowerCutPoint } from '../../src/simulator/faults';
import type { NodeStatus } from '../../src/simulator/fleet';
import type { TalosClient } from '../../src/talos/client';
import { onlyValue } from '../../src/talos/replies';
import { startFleet, waitUntil, whileRetryable, type TestFleet } from '../support/fleet';
import { etcdProcessesUnder, listens } from './processes';

let t: TestFleet;
let client: TalosClient;
let cp2: string;

beforeAll(async () => {
  t = await startFleet({ nodes: '3cp', state: 'bootstrapped' });
  cp2 = t.addr('cp-2');
  // Through cp-1, which never loses power here: the power cuts are all on cp-2.
  client = t.client([t.addr('cp-1')]);
}, 120_000);

afterAll(async () => {
  await t?.stop();
});

const status = (name: string): NodeStatus => t.fleet.status().find((n) => n.name === name)!;

/** What must hold for a node without power: its API, etcd client and peer ports closed, no etcd process of its own. */
async function assertNothingRuns(address: string, nodeDir: string): Promise<void> {
  expect(await listens(address, 50000)).toBe(false);
  expect(await listens(address, 2379)).toBe(false);
  expect(await listens(address, 2380)).toBe(false);
  expect(etcdProcessesUnder(nodeDir)).toEqual([]);
}

/** Back after power-on: a new boot, running and ready, etcd healthy, and no failure (an EADDRINUSE would be one). */
async function waitUntilSane(before: string): Promise<void> {
  await waitUntil('cp-2 to answer with a new boot id', whileRetryable(async () => (await client.bootId({ nodes: [cp2] })) !== before));
  await waitUntil('cp-2 to be ready with a healthy etcd member', whileRetryable(async () => {
    const machine = await client.machineStatus({ node: cp2 });
    const etcd = onlyValue(await client.serviceList({ nodes: [cp2] })).services.find((s) => s.id === 'etcd');
    return machine.stage === 'MACHINE_STAGE_RUNNING' && !!machine.status?.ready && etcd?.state === 'Running' && !!etcd.health?.healthy;
  }));
  expect(status('cp-2').failure).toBeUndefined();
  const members = onlyValue(await client.etcdMemberList({}, { nodes: [cp2] })).members;
  expect(members.map((m) => m.hostname).sort()).toEqual(['cp-1', 'cp-2', 'cp-3']);
}

/**
 * Arms `down@point` on cp-2, runs `trigger` (which makes the node pass that point), and checks that the node then
 * stays off with nothing of it running, and comes back sane on `up`.
 */
async function cutAt(point: PowerCutPoint, trigger: () => Promise<unknown>): Promise<void> {
  const before = status('cp-2').bootId;
  await t.fleet.fault('cp-2', `down@${point}`);
  await trigger();
  await waitUntil(`cp-2 to lose power at ${point}`, () => status('cp-2').faults.powerCutAt === undefined && status('cp-2').stage === 'OFF');
  // A plain `down` on a node that is off resolves once its last stop is complete: whatever was in flight has settled.
  await t.fleet.fault('cp-2', 'down');
  expect(status('cp-2').stage).toBe('OFF');
  await assertNothingRuns(cp2, join(t.dir, 'nodes', 'cp-2'));
  await t.fleet.fault('cp-2', 'up');
  await waitUntilSane(before);
}

const BOOT_POINTS: PowerCutPoint[] = ['boot', 'listen', 'etcd-start', 'kubelet'];

/**
 * Sends a Reboot or Upgrade that the node accepts. A cut right after the node accepted may cost the reply (Talos
 * replies, then acts: the power can go in between); the call record shows it was accepted all the same.
 */
async function accepted(method: 'Reboot' | 'Upgrade', call: () => Promise<unknown>): Promise<void> {
  const calls = t.fleet.node('cp-2').record.length;
  try {
    await call();
  } catch (err) {
    if ((err as { code?: string }).code !== 'unavailable') throw err;
  }
  expect(t.fleet.node('cp-2').record.slice(calls).map((r) => `${r.method}:${r.outcome}`)).toEqual([`${method}:ok`]);
}

describe('a power cut', () => {
  it.each(BOOT_POINTS)('at %s of a power-on boot leaves nothing running, and the node boots cleanly on the next power-on', async (point) => {
    await t.fleet.fault('cp-2', 'down');
    await cutAt(point, () => t.fleet.fault('cp-2', 'up'));
  });

  it.each(['reboot', 'reboot-stop', ...BOOT_POINTS] as PowerCutPoint[])('at %s of a reboot is not undone by the reboot, and leaves nothing running', async (point) => {
    await cutAt(point, () => accepted('Reboot', async () => onlyValue(await client.reboot({}, { nodes: [cp2] }))));
  });

  it.each(['drain', 'upgrade-stop', 'install', 'reboot', 'reboot-stop', ...BOOT_POINTS] as PowerCutPoint[])(
    'at %s of an upgrade stops it there, leaves nothing running, and the node comes back on power-on',
    async (point) => {
      await cutAt(point, () => accepted('Upgrade', async () => onlyValue(await client.upgrade({ image: 'ghcr.io/siderolabs/installer:v1.10.9' }, { nodes: [cp2] }))));
    },
  );

  it('can be armed at every point a boot, reboot or upgrade passes', () => {
    // The cases above cover the whole list: a point added to the simulator must get a case here too.
    expect([...POWER_CUT_POINTS].sort()).toEqual([...new Set(['reboot', 'reboot-stop', 'drain', 'upgrade-stop', 'install', ...BOOT_POINTS])].sort());
  });
});

describe('stopping the fleet', () => {
  it('stops every node whatever it is doing, and leaves nothing of the fleet listening or running', async () => {
    await t.fleet.fault('cp-3', 'slow-reboot=100');
    onlyValue(await client.reboot({}, { nodes: [t.addr('cp-3')] }));
    await waitUntil('cp-3 to be booting', () => status('cp-3').stage === 'BOOTING');
    // cp-2 is mid-reboot too: its services are stopping.
    await t.fleet.fault('cp-2', 'down@reboot-stop');
    await accepted('Reboot', async () => onlyValue(await client.reboot({}, { nodes: [cp2] })));
    await waitUntil('cp-2 to lose power while stopping for its reboot', () => status('cp-2').stage === 'OFF');
    await t.fleet.stop();
    expect(t.fleet.status().map((n) => n.stage)).toEqual(['OFF', 'OFF', 'OFF']);
    for (const name of ['cp-1', 'cp-2', 'cp-3']) await assertNothingRuns(t.addr(name), join(t.dir, 'nodes', name));
  });
});
