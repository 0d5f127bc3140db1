import { TalosClient } from '../../src/talos/client';
import { EtcdClient } from '../../src/simulator/etcd/client';
import { onlyValue } from '../../src/talos/replies';
import { startFleet, waitUntil, whileRetryable, type TestFleet } from '../support/fleet';

let t: TestFleet;
let client: TalosClient;
let cp1: string, cp2: string, cp3: string, w1: string;

beforeAll(async () => {
  t = await startFleet({ nodes: '3cp,1w', state: 'bootstrapped', version: 'v1.9.5' });
  [cp1, cp2, cp3, w1] = ['cp-1', 'cp-2', 'cp-3', 'w-1'].map((n) => t.addr(n)) as [string, string, string, string];
  // Through cp-1: the tests below reboot and upgrade the other nodes, never the endpoint itself.
  client = t.client([cp1]);
}, 120_000);

afterAll(async () => {
  await t?.stop();
});

const bootId = (node: string) => client.bootId({ nodes: [node] });
const version = async (node: string) => onlyValue(await client.version({ nodes: [node] })).version!.tag;

/** Ready again after a reboot: a new boot id and the machine reports running and ready. */
async function waitForReboot(node: string, before: string): Promise<void> {
  await waitUntil(`${node} to come back with a new boot id`, whileRetryable(async () => (await bootId(node)) !== before));
  await waitUntil(`${node} to be ready`, whileRetryable(async () => {
    const status = await client.machineStatus({ node });
    return status.stage === 'MACHINE_STAGE_RUNNING' && !!status.status?.ready;
  }));
}

describe('reboot', () => {
  it('keeps etcd quorum and data while one of three control planes reboots', async () => {
    const etcd = new EtcdClient(`http://${cp1}:2379`);
    try {
      await etcd.put('before-reboot', Buffer.from('kept'));
      const before = await bootId(cp2);
      const reply = onlyValue(await client.reboot({}, { nodes: [cp2] }));
      expect(reply.actorId).toMatch(/^[0-9a-f-]{36}$/);
      await waitUntil(`${cp2} to go down`, async () => (await client.version({ nodes: [cp2] }))[0]!.error?.code === 'unavailable');
      // Quorum holds with two of three members: writes and quorum reads still succeed.
      await etcd.put('during-reboot', Buffer.from('written'));
      await etcd.quorumRead(5_000);
      await waitForReboot(cp2, before);
      const members = onlyValue(await client.etcdMemberList({}, { nodes: [cp2] })).members;
      expect(members.map((m) => m.hostname).sort()).toEqual(['cp-1', 'cp-2', 'cp-3']);
      expect(onlyValue(await client.serviceList({ nodes: [cp2] })).services.find((s) => s.id === 'etcd')!.health!.healthy).toBe(true);
      expect(t.fleet.node('cp-2').record.filter((r) => r.method === 'Reboot')).toHaveLength(1);
    } finally {
      etcd.close();
    }
  });

  it('answers before rebooting, and the node is unreachable while it is down', async () => {
    await t.fleet.fault('w-1', 'slow-reboot=20');
    try {
      const before = await bootId(w1);
      await client.reboot({}, { nodes: [w1] });
      await waitUntil('w-1 to go down', async () => (await client.version({ nodes: [w1] }))[0]!.error?.retryable === true);
      await waitForReboot(w1, before);
    } finally {
      await t.fleet.fault('w-1', 'clear');
    }
  });
});

describe('upgrade', () => {
  it('refuses a control-plane upgrade while an etcd member is unhealthy, and touches nothing', async () => {
    await t.fleet.fault('cp-3', 'etcd-unhealthy');
    try {
      const before = await bootId(cp2);
      const [r] = await client.upgrade({ image: 'ghcr.io/siderolabs/installer:v1.10.9' }, { nodes: [cp2] });
      expect(r!.error!.message).toMatch(/etcd member cp-3 is not healthy/);
      expect(await bootId(cp2)).toBe(before);
      expect(await version(cp2)).toBe('v1.9.5');
      expect(t.fleet.node('cp-2').record.filter((c) => c.method === 'Upgrade').map((c) => c.outcome)).toEqual(['Unknown']);
    } finally {
      await t.fleet.fault('cp-3', 'etcd-healthy');
    }
  });

  it('refuses an image without a version tag before doing anything', async () => {
    const [r] = await client.upgrade({ image: 'ghcr.io/siderolabs/installer' }, { nodes: [w1] });
    expect(r!.error!.message).toMatch(/error validating installer image/);
    expect(await version(w1)).toBe('v1.9.5');
  });

  it('upgrades a control plane: acks, drains, reboots into the new version with a new boot id', async () => {
    const before = await bootId(cp2);
    const ack = onlyValue(await client.upgrade({ image: 'ghcr.io/siderolabs/installer:v1.10.9' }, { nodes: [cp2] }));
    expect(ack.ack).toBe('Upgrade request received');
    const phases: string[] = [];
    for await (const e of client.events({ tailEvents: -1, withActorId: ack.actorId }, { nodes: [cp2] })) {
      if (e.error) throw e.error;
      if (e.value.type === 'machine.PhaseEvent' && (e.value.payload as { action: string }).action === 'START') phases.push((e.value.payload as { phase: string }).phase);
      if (phases.includes('reboot')) break;
    }
    expect(phases).toEqual(['drain', 'stopServices', 'upgrade', 'reboot']);
    await waitForReboot(cp2, before);
    expect(await version(cp2)).toBe('v1.10.9');
    const upgrades = t.fleet.node('cp-2').record.filter((c) => c.method === 'Upgrade' && c.outcome === 'ok');
    expect(upgrades).toHaveLength(1);
    expect(upgrades[0]!.actorId).toBe(ack.actorId);
    expect(upgrades[0]!.details.image).toBe('ghcr.io/siderolabs/installer:v1.10.9');
  });

  it('rolls back by itself when the new image fails to boot, and comes back on the old version', async () => {
    await t.fleet.fault('w-1', 'upgrade-fails-to-boot');
    const before = await bootId(w1);
    onlyValue(await client.upgrade({ image: 'ghcr.io/siderolabs/installer:v1.10.9' }, { nodes: [w1] }));
    await waitForReboot(w1, before);
    expect(await version(w1)).toBe('v1.9.5');
    expect(t.fleet.status().find((n) => n.name === 'w-1')!.faults.upgradeFailsToBoot).toBe(false);
  });

  it('goes dark when the upgrade hangs, and stays on the old version once powered back', async () => {
    await t.fleet.fault('w-1', 'upgrade-hangs');
    onlyValue(await client.upgrade({ image: 'ghcr.io/siderolabs/installer:v1.10.9' }, { nodes: [w1] }));
    await waitUntil('w-1 to power off', () => !t.fleet.node('w-1').powered);
    const [r] = await client.version({ nodes: [w1] });
    expect(r!.error!.code).toBe('unavailable');
    const before = t.fleet.node('w-1').bootId;
    await t.fleet.fault('w-1', 'up');
    await waitForReboot(w1, before);
    expect(await version(w1)).toBe('v1.9.5');
  });

  it('rolls a node back to the previous version on Rollback', async () => {
    const before = await bootId(cp2);
    expect(await version(cp2)).toBe('v1.10.9');
    onlyValue(await client.rollback({ nodes: [cp2] }));
    await waitForReboot(cp2, before);
    expect(await version(cp2)).toBe('v1.9.5');
  });

  it('refuses Rollback on a node that was never upgraded', async () => {
    const [r] = await client.rollback({ nodes: [cp3] });
    expect(r!.error!.code).toBe('failed_precondition');
  });
});

describe('shutdown and power', () => {
  it('stays off after Shutdown until powered on, then boots with a new boot id', async () => {
    const before = await bootId(w1);
    onlyValue(await client.shutdown({}, { nodes: [w1] }));
    await waitUntil('w-1 to be off', () => t.fleet.status().find((n) => n.name === 'w-1')!.stage === 'OFF');
    await t.fleet.fault('w-1', 'up');
    await waitForReboot(w1, before);
  });
});

describe('configuration changes', () => {
  it('applies a kubelet change without a reboot in auto mode, and reports the mode it chose', async () => {
    const current = await client.machineConfig({ node: w1 });
    const changed = current.replace(/image: ghcr\.io\/siderolabs\/kubelet:v[\d.]+/, 'image: ghcr.io/siderolabs/kubelet:v1.32.3');
    expect(changed).not.toBe(current);
    const before = await bootId(w1);
    const reply = onlyValue(await client.applyConfiguration({ data: changed, mode: 'AUTO' }, { nodes: [w1] }));
    expect(reply.mode).toBe('NO_REBOOT');
    expect(await client.machineConfig({ node: w1 })).toContain('kubelet:v1.32.3');
    expect(await bootId(w1)).toBe(before);
  });

  it('refuses an invalid configuration with InvalidArgument naming the field', async () => {
    const [r] = await client.applyConfiguration({ data: 'version: v1alpha1\nmachine:\n  type: worker\n', mode: 'AUTO' }, { nodes: [w1] });
    expect(r!.error!.code).toBe('invalid_argument');
    expect(r!.error!.message).toContain('machine.token');
  });

  it('refuses a configuration with a malformed token over gRPC, naming the field but never the token', async () => {
    const current = await client.machineConfig({ node: cp3 });
    const token = 'Q7ZP3K.X9W2M4T8R1B6N5VY';
    const changed = current.replace(/(\n {4}token: )\S+/, `$1${token}`);
    expect(changed).not.toBe(current);
    const [r] = await client.applyConfiguration({ data: changed, mode: 'AUTO' }, { nodes: [cp3] });
    expect(r!.error!.code).toBe('invalid_argument');
    expect(r!.error!.message).toContain('machine.token: is not a token of the form');
    expect(r!.error!.message).not.toContain(token);
    expect(await client.machineConfig({ node: cp3 })).toBe(current);
  });

  it('refuses an immediate apply of a change that needs a reboot', async () => {
    const current = await client.machineConfig({ node: w1 });
    const changed = current.replace(/disk: \/dev\/sda/, 'disk: /dev/vdb');
    expect(changed).not.toBe(current);
    const [r] = await client.applyConfiguration({ data: changed, mode: 'NO_REBOOT' }, { nodes: [w1] });
    expect(r!.error!.code).toBe('invalid_argument');
    const dry = onlyValue(await client.applyConfiguration({ data: changed, mode: 'AUTO', dryRun: true }, { nodes: [w1] }));
    expect(dry.mode).toBe('REBOOT');
    expect(dry.modeDetails).toContain('Dry run');
    expect(await client.machineConfig({ node: w1 })).toBe(current);
  });

  it('records every mutating call with its outcome, in order', () => {
    const methods = t.fleet.node('w-1').record.map((r) => `${r.method}:${r.outcome}`);
    expect(methods).toEqual([
      'Reboot:ok',
      'Upgrade:Unknown',
      'Upgrade:ok',
      'Upgrade:ok',
      'Shutdown:ok',
      'ApplyConfiguration:ok',
      'ApplyConfiguration:InvalidArgument',
      'ApplyConfiguration:InvalidArgument',
      'ApplyConfiguration:ok',
    ]);
  });
});
