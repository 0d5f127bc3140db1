import { EtcdClient } from '../../src/simulator/etcd/client';
import { TalosClient } from '../../src/talos/client';
import { onlyValue } from '../../src/talos/replies';
import type { DecodedEvent, SequenceEvent } from '../../src/talos/types';
import { nextHops } from '../../src/releases/profiles';
import { startFleet, waitUntil, whileRetryable, type TestFleet } from '../support/fleet';

/**
 * An upgrade across minors of a 3-control-plane cluster with the legacy API, node by node, as the docs prescribe:
 * Talos 1.10 ships etcd 3.5 and 1.12 ships etcd 3.6, so this is a real rolling etcd upgrade on the same data.
 */
let t: TestFleet;
let client: TalosClient;
const names = ['cp-1', 'cp-2', 'cp-3'];

beforeAll(async () => {
  t = await startFleet({ nodes: '3cp', state: 'bootstrapped', version: 'v1.10.9' });
  client = t.client(names.map((n) => t.addr(n)));
}, 120_000);

afterAll(async () => {
  await t?.stop();
});

const tag = async (node: string) => onlyValue(await client.version({ node })).version!.tag;
const etcdVersion = async (node: string) => onlyValue(await client.etcdStatus({ node })).memberStatus!.protocolVersion;

/** Every member healthy and none a learner, as the orchestrator checks between nodes. */
async function waitForHealthyEtcd(): Promise<void> {
  await waitUntil(
    'every etcd member to be healthy',
    whileRetryable(async () => {
      const statuses = await Promise.all(names.map((n) => client.etcdStatus({ node: t.addr(n) })));
      return statuses.every((s) => s[0]?.value && s[0].value.memberStatus!.errors.length === 0 && !s[0].value.memberStatus!.isLearner && s[0].value.memberStatus!.leader !== '0');
    }),
    60_000,
  );
}

async function upgradeAndWait(node: string, image: string): Promise<string> {
  const before = await client.bootId({ node });
  const ack = onlyValue(await client.upgrade({ image }, { node }));
  await waitUntil(`${node} to reboot`, whileRetryable(async () => (await client.bootId({ node })) !== before), 60_000);
  await waitUntil(`${node} to be ready`, whileRetryable(async () => !!(await client.machineStatus({ node })).status?.ready), 60_000);
  return ack.actorId;
}

describe('1.10 → 1.12 across three control planes with the legacy Upgrade', () => {
  it('is one hop: the 1.12 installer takes a 1.10 host', () => {
    expect(nextHops('v1.10.9', 'v1.12.7')).toEqual(['v1.12.7']);
    expect(nextHops('v1.10.9', 'v1.14.1')).toEqual(['v1.12.7', 'v1.14.1']);
  });

  it('refuses to go straight to 1.14: the installer rejects the 1.10 host and the node comes back on 1.10 with etcd 3.5', async () => {
    const node = t.addr('cp-3');
    const actorId = await upgradeAndWait(node, 'factory.talos.dev/metal-installer/376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba:v1.14.1');
    expect(await tag(node)).toBe('v1.10.9');
    // The upgrade's events, as `talosctl upgrade --wait` follows them: its sequence ends with the installer's error.
    const events: DecodedEvent[] = [];
    const failedSequence = (e: DecodedEvent) => e.type === 'machine.SequenceEvent' && !!(e.payload as SequenceEvent).error;
    for await (const e of client.events({ withActorId: actorId, tailEvents: -1 }, { node }, { timeoutMs: Infinity })) {
      if (e.value) events.push(e.value);
      if (events.some(failedSequence)) break;
    }
    const failed = events.find((e) => e.type === 'machine.SequenceEvent' && (e.payload as SequenceEvent).error);
    expect((failed?.payload as SequenceEvent | undefined)?.error?.message).toBe('upgrade failed: host version 1.10.9 is too old to upgrade to Talos 1.14.1');
    await waitForHealthyEtcd();
    expect(await etcdVersion(node)).toMatch(/^3\.5\./);
  });

  it('upgrades each node in turn, etcd stays healthy between nodes, and every member ends on etcd 3.6 with its data', async () => {
    const etcd = new EtcdClient(`http://${t.addr('cp-1')}:2379`);
    try {
      await etcd.put('before-upgrade', Buffer.from('kept'));
      for (const name of names) {
        const node = t.addr(name);
        expect(await etcdVersion(node)).toMatch(/^3\.5\./);
        await upgradeAndWait(node, 'ghcr.io/siderolabs/installer:v1.12.7');
        expect(await tag(node)).toBe('v1.12.7');
        await waitForHealthyEtcd();
        expect(await etcdVersion(node)).toMatch(/^3\.6\./);
      }
      // With every member on 3.6, etcd raises the cluster version itself.
      const clusterVersion = async () => ((await (await fetch(`http://${t.addr('cp-1')}:2379/version`)).json()) as { etcdcluster: string }).etcdcluster;
      await waitUntil('the etcd cluster version to become 3.6', async () => (await clusterVersion()).startsWith('3.6.'), 30_000);
      const members = onlyValue(await client.etcdMemberList({}, { node: t.addr('cp-2') })).members;
      expect(members.map((m) => m.hostname).sort()).toEqual(names);
      expect(members.every((m) => !m.isLearner)).toBe(true);
      expect((await etcd.get('before-upgrade'))?.toString()).toBe('kept');
      for (const name of names) expect(t.fleet.node(name).record.filter((r) => r.method === 'Upgrade').map((r) => r.outcome)).toEqual(name === 'cp-3' ? ['ok', 'ok'] : ['ok']);
    } finally {
      etcd.close();
    }
  });
});
