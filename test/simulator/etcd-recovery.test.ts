import { createReadStream, createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { EtcdClient } from '../../src/simulator/etcd/client';
import { TalosClient } from '../../src/talos/client';
import { allValues, onlyValue } from '../../src/talos/replies';
import { startFleet, waitUntil, whileRetryable, type TestFleet } from '../support/fleet';

let t: TestFleet;
let client: TalosClient;
let cp1: string, cp2: string, cp3: string;

beforeAll(async () => {
  t = await startFleet({ nodes: '3cp', state: 'bootstrapped' });
  [cp1, cp2, cp3] = ['cp-1', 'cp-2', 'cp-3'].map((n) => t.addr(n)) as [string, string, string];
  client = t.client([cp1, cp2, cp3]);
}, 120_000);

afterAll(async () => {
  await t?.stop();
});

async function etcdState(node: string): Promise<string | undefined> {
  const [r] = await client.serviceList({ nodes: [node] });
  return r?.value?.services.find((s) => s.id === 'etcd')?.state;
}

async function get(node: string, key: string): Promise<string | undefined> {
  const etcd = new EtcdClient(`http://${node}:2379`);
  try {
    return (await etcd.get(key))?.toString();
  } finally {
    etcd.close();
  }
}

describe('disaster recovery from a snapshot', () => {
  const snapshot = () => join(t.dir, 'db.snapshot');

  it('restores etcd from a snapshot after every control plane lost its data, and the others rejoin', async () => {
    const etcd = new EtcdClient(`http://${cp1}:2379`);
    try {
      await etcd.put('precious', Buffer.from('in the snapshot'));
    } finally {
      etcd.close();
    }
    await pipeline(client.etcdSnapshot({ nodes: [cp2] }), createWriteStream(snapshot()));
    const later = new EtcdClient(`http://${cp1}:2379`);
    try {
      await later.put('after-snapshot', Buffer.from('lost'));
    } finally {
      later.close();
    }

    // Wipe etcd data on every control plane, as the DR procedure does (reset EPHEMERAL, no graceful leave).
    allValues(await client.reset({ graceful: false, reboot: true, systemPartitionsToWipe: [{ label: 'EPHEMERAL', wipe: true }] }, { nodes: [cp1, cp2, cp3] }));
    for (const node of [cp1, cp2, cp3]) await waitUntil(`${node} etcd to wait in Preparing`, whileRetryable(async () => (await etcdState(node)) === 'Preparing'));

    // Recovery: upload to one node, then Bootstrap with recover_etcd.
    await client.etcdRecover(createReadStream(snapshot()), { nodes: [cp1] });
    onlyValue(await client.bootstrap({ recoverEtcd: true }, { nodes: [cp1] }));
    await waitUntil('the restored member to be healthy', whileRetryable(async () => (await etcdState(cp1)) === 'Running'));
    await waitUntil('every control plane to rejoin as a voting member', whileRetryable(async () => {
      const members = onlyValue(await client.etcdMemberList({}, { nodes: [cp1] })).members;
      return members.length === 3 && members.every((m) => !m.isLearner);
    }));
    expect(await get(cp1, 'precious')).toBe('in the snapshot');
    expect(await get(cp3, 'precious')).toBe('in the snapshot');
    expect(await get(cp1, 'after-snapshot')).toBeUndefined();
    const record = t.fleet.node('cp-1').record.map((r) => `${r.method}:${r.outcome}`);
    expect(record.slice(-3)).toEqual(['Reset:ok', 'EtcdRecover:ok', 'Bootstrap:ok']);
  });

  it('refuses Bootstrap with recover when no snapshot was uploaded', async () => {
    const [r] = await client.bootstrap({ recoverEtcd: true }, { nodes: [cp2] });
    expect(r!.error!.code).toMatch(/already_exists|failed_precondition/);
  });
});

describe('membership', () => {
  it('refuses to remove a member that does not exist with NotFound', async () => {
    const [r] = await client.etcdRemoveMemberById('12345', { nodes: [cp1] });
    expect(r!.error!.code).toBe('not_found');
  });

  it('removes a node from etcd when it leaves the cluster, and its data is gone', async () => {
    onlyValue(await client.etcdLeaveCluster({ nodes: [cp3] }));
    const members = onlyValue(await client.etcdMemberList({}, { nodes: [cp1] })).members;
    expect(members.map((m) => m.hostname).sort()).toEqual(['cp-1', 'cp-2']);
    const [status] = await client.etcdStatus({ nodes: [cp3] });
    expect(status!.error!.code).toBe('failed_precondition');
  });

  it('removes a member by id from a healthy control plane', async () => {
    const members = onlyValue(await client.etcdMemberList({}, { nodes: [cp1] })).members;
    const cp2Member = members.find((m) => m.hostname === 'cp-2')!;
    // etcd refuses reconfiguration for a few seconds after a membership change; the error says a retry helps.
    await waitUntil('etcd to accept the removal', whileRetryable(async () => {
      const [r] = await client.etcdRemoveMemberById(cp2Member.id, { nodes: [cp1] });
      if (r!.error && !r!.error.retryable) throw r!.error;
      return !r!.error;
    }));
    expect(onlyValue(await client.etcdMemberList({}, { nodes: [cp1] })).members.map((m) => m.hostname)).toEqual(['cp-1']);
  });
});
