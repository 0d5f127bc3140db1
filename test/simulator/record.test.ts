import type { TalosClient } from '../../src/talos/client';
import { allValues, onlyValue } from '../../src/talos/replies';
import { startFleet, waitUntil, whileRetryable, type TestFleet } from '../support/fleet';

let t: TestFleet;
let client: TalosClient;
let cp1: string, cp2: string;

beforeAll(async () => {
  t = await startFleet({ nodes: '2cp', state: 'bootstrapped' });
  [cp1, cp2] = [t.addr('cp-1'), t.addr('cp-2')];
  client = t.client([cp1]);
}, 120_000);

afterAll(async () => {
  await t?.stop();
});

/** The node's call record from entry `from` on, as `Method:outcome`. */
const calls = (node: string, from = 0) => t.fleet.node(node).record.slice(from).map((r) => `${r.method}:${r.outcome}`);

async function waitForHealthyEtcd(address: string): Promise<void> {
  await waitUntil(`etcd on ${address} to be running and healthy`, whileRetryable(async () => {
    const etcd = onlyValue(await client.serviceList({ nodes: [address] })).services.find((s) => s.id === 'etcd');
    return etcd?.state === 'Running' && !!etcd.health?.healthy;
  }));
}

describe('the call record', () => {
  it('holds every mutating call the node acts on, with its details and outcome, and none of the reads', async () => {
    const [from1, from2] = [t.fleet.node('cp-1').record.length, t.fleet.node('cp-2').record.length];

    allValues(await client.serviceRestart('etcd', { nodes: [cp2] }));
    await waitForHealthyEtcd(cp2);
    allValues(await client.serviceStop('etcd', { nodes: [cp2] }));
    allValues(await client.serviceStart('etcd', { nodes: [cp2] }));
    await waitForHealthyEtcd(cp2);
    allValues(await client.etcdDefragment({ nodes: [cp1] }));
    allValues(await client.etcdAlarmDisarm({ nodes: [cp1] }));
    allValues(await client.etcdForfeitLeadership({ nodes: [cp1] }));
    const issued = onlyValue(await client.generateClientConfiguration({ roles: ['os:reader'], crtTtlMs: 3_600_000 }, { nodes: [cp1] }));
    const kubeconfig = await client.kubeconfig({ node: cp1 });
    // Reads leave no trace.
    allValues(await client.version({ nodes: [cp1, cp2] }));
    allValues(await client.serviceList({ nodes: [cp1] }));
    allValues(await client.etcdMemberList({}, { nodes: [cp1] }));
    allValues(await client.etcdStatus({ nodes: [cp1] }));
    allValues(await client.etcdAlarmList({ nodes: [cp1] }));

    expect(calls('cp-2', from2)).toEqual(['ServiceRestart:ok', 'ServiceStop:ok', 'ServiceStart:ok']);
    expect(calls('cp-1', from1)).toEqual(['EtcdDefragment:ok', 'EtcdAlarmDisarm:ok', 'EtcdForfeitLeadership:ok', 'GenerateClientConfiguration:ok', 'Kubeconfig:ok']);
    const records = [...t.fleet.node('cp-1').record.slice(from1), ...t.fleet.node('cp-2').record.slice(from2)];
    expect(records.find((r) => r.method === 'ServiceRestart')!.details).toEqual({ id: 'etcd' });
    expect(records.find((r) => r.method === 'GenerateClientConfiguration')!.details).toEqual({ roles: ['os:reader'], crtTtlMs: 3_600_000 });
    for (const r of records) {
      expect(r.actorId).toMatch(/^[0-9a-f-]{36}$/);
      expect(Date.parse(r.at)).not.toBeNaN();
    }
    // Never the credentials those calls issued.
    const text = JSON.stringify(records);
    expect(text).not.toContain('PRIVATE KEY');
    expect(text).not.toContain(Buffer.from(issued.key).toString('base64'));
    expect(text).not.toContain(Buffer.from(issued.crt).toString('base64').slice(0, 40));
    expect(text).not.toContain('client-key-data');
    expect(kubeconfig).toContain('client-key-data');
  });

  it('holds a refused call with the status it was refused with', async () => {
    const from = t.fleet.node('cp-1').record.length;
    const [r] = await client.serviceStart('no-such-service', { nodes: [cp1] });
    expect(r!.error!.code).toBe('not_found');
    expect(calls('cp-1', from)).toEqual(['ServiceStart:NotFound']);
  });
});
