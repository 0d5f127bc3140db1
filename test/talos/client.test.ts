import { execFileSync } from 'node:child_process';
import { createWriteStream, statSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { parse as parseYaml } from 'yaml';
import { AlreadyBootstrappedError, TalosApiError } from '../../src/talos/errors';
import { TalosClient } from '../../src/talos/client';
import { allValues, NodeErrors, onlyValue } from '../../src/talos/replies';
import { requireTool } from '../../src/tools/binaries';
import { collect, startFleet, type TestFleet } from '../support/fleet';

let t: TestFleet;
let client: TalosClient;
let cp1: string, cp2: string, cp3: string, w1: string;

beforeAll(async () => {
  t = await startFleet({ nodes: '3cp,1w', state: 'bootstrapped' });
  [cp1, cp2, cp3, w1] = ['cp-1', 'cp-2', 'cp-3', 'w-1'].map((n) => t.addr(n)) as [string, string, string, string];
  client = t.client();
}, 120_000);

afterAll(async () => {
  await t?.stop();
});

describe('node information', () => {
  it('returns one version per node when fanning out, each stamped with the node it came from', async () => {
    const results = await client.version({ nodes: [cp1, cp2, w1] });
    expect(results.map((r) => r.node).sort()).toEqual([cp1, cp2, w1].sort());
    for (const r of results) {
      expect(r.error).toBeUndefined();
      expect(r.value!.version!.tag).toBe('v1.10.9');
      expect(r.value!.features!.rbac).toBe(true);
      expect(r.value!.metadata!.hostname).toBe(r.node);
    }
  });

  it('reports an unreachable node as an error entry inside a successful call, and keeps the others', async () => {
    const missing = cp1.replace(/\.\d+$/, '.250');
    const results = await client.version({ nodes: [cp2, missing] });
    const ok = results.find((r) => r.node === cp2)!;
    const bad = results.find((r) => r.node === missing)!;
    expect(ok.value!.version!.tag).toBe('v1.10.9');
    expect(bad.error).toBeInstanceOf(TalosApiError);
    expect(bad.error!.code).toBe('unavailable');
    expect(bad.error!.retryable).toBe(true);
    expect(bad.error!.message).toContain(missing);
    expect(() => allValues(results)).toThrow(missing);
  });

  it('forwards one-to-one with `node` and answers locally without a target', async () => {
    const viaProxy = onlyValue(await client.hostname({ node: cp3 }));
    expect(viaProxy.hostname).toBe('cp-3');
    expect(viaProxy.metadata?.hostname ?? '').toBe('');
    const local = await client.hostname();
    expect(local).toHaveLength(1);
    expect(local[0]!.node).toBe(cp1);
    expect(local[0]!.value!.hostname).toBe('cp-1');
  });

  it('reads memory and load averages of every node', async () => {
    const memory = allValues(await client.memory({ nodes: [cp1, w1] }));
    expect(memory.every((m) => Number(m.meminfo!.memtotal) > 0)).toBe(true);
    const load = allValues(await client.loadAvg({ nodes: [cp1] }));
    expect(load[0]!.load1).toBeGreaterThanOrEqual(0);
  });
});

describe('services and logs', () => {
  it('lists etcd as running and healthy on control planes and absent on workers', async () => {
    const results = await client.serviceList({ nodes: [cp1, w1] });
    const byNode = Object.fromEntries(results.map((r) => [r.node, r.value!.services]));
    const etcd = byNode[cp1]!.find((s) => s.id === 'etcd')!;
    expect(etcd.state).toBe('Running');
    expect(etcd.health!.healthy).toBe(true);
    expect(etcd.events!.events.map((e) => e.state)).toContain('Preparing');
    expect(byNode[w1]!.map((s) => s.id)).not.toContain('etcd');
    expect(byNode[w1]!.map((s) => s.id)).toContain('kubelet');
  });

  it('restarts a service and records the restart in its events', async () => {
    const reply = onlyValue(await client.serviceRestart('kubelet', { nodes: [w1] }));
    expect(reply.resp).toBe('Service "kubelet" restarted');
    const kubelet = onlyValue(await client.serviceList({ nodes: [w1] })).services.find((s) => s.id === 'kubelet')!;
    const states = kubelet.events!.events.map((e) => e.state);
    expect(states.slice(states.lastIndexOf('Finished'))).toEqual(['Finished', 'Running', 'Running']);
    expect(kubelet.events!.events.at(-1)!.msg).toBe('Health check successful');
    expect(kubelet.state).toBe('Running');
  });

  it('stops and starts a service', async () => {
    expect(onlyValue(await client.serviceStop('kubelet', { nodes: [w1] })).resp).toBe('Service "kubelet" stopped');
    const stopped = onlyValue(await client.serviceList({ nodes: [w1] })).services.find((s) => s.id === 'kubelet')!;
    expect(stopped.state).toBe('Finished');
    expect(onlyValue(await client.serviceStart('kubelet', { nodes: [w1] })).resp).toBe('Service "kubelet" started');
    const started = onlyValue(await client.serviceList({ nodes: [w1] })).services.find((s) => s.id === 'kubelet')!;
    expect(started.state).toBe('Running');
    expect(started.health!.healthy).toBe(true);
    const [unknown] = await client.serviceStart('nope', { nodes: [w1] });
    expect(unknown!.error!.code).toBe('not_found');
  });

  it('streams a service log with tail -1 (all lines) and nothing with tail 0', async () => {
    const all = await collect(client.logs({ id: 'etcd', tailLines: -1 }, { nodes: [cp2] }));
    expect(all.length).toBeGreaterThan(0);
    expect(all.every((m) => m.node === cp2)).toBe(true);
    expect(Buffer.concat(all.map((m) => m.value!.bytes)).toString()).toContain('Running pre state');
    const none = await collect(client.logs({ id: 'etcd', tailLines: 0 }, { nodes: [cp2] }));
    expect(none).toHaveLength(0);
  });

  it('streams the kernel log', async () => {
    const lines = await collect(client.dmesg({}, { nodes: [w1] }));
    expect(Buffer.concat(lines.map((m) => m.value!.bytes)).toString()).toMatch(/boot id [0-9a-f-]{36}/);
  });
});

describe('events', () => {
  it('replays the boot history: machine status events end in RUNNING', async () => {
    const seen: string[] = [];
    for await (const m of client.events({ tailEvents: -1 }, { nodes: [cp2] })) {
      if (m.value?.type === 'machine.MachineStatusEvent') seen.push((m.value.payload as { stage: string }).stage);
      if (seen.includes('RUNNING')) break;
    }
    expect(seen[0]).toBe('BOOTING');
    expect(seen).toContain('RUNNING');
  });
});

describe('etcd', () => {
  it('lists the same three voting members from every control plane', async () => {
    const results = allValues(await client.etcdMemberList({}, { nodes: [cp1, cp2, cp3] }));
    const lists = results.map((r) => r.members.map((m) => `${m.hostname}:${m.id}:${m.isLearner}`).sort());
    expect(lists[0]).toHaveLength(3);
    expect(lists[1]).toEqual(lists[0]);
    expect(lists[2]).toEqual(lists[0]);
    expect(results[0]!.members.map((m) => m.hostname).sort()).toEqual(['cp-1', 'cp-2', 'cp-3']);
    expect(results[0]!.members.every((m) => !m.isLearner && /^\d+$/.test(m.id))).toBe(true);
  });

  it("reports each member's status with its own member id and a common leader", async () => {
    const members = onlyValue(await client.etcdMemberList({}, { nodes: [cp1] })).members;
    const statuses = allValues(await client.etcdStatus({ nodes: [cp1, cp2, cp3] }));
    const ids = statuses.map((s) => s.memberStatus!.memberId).sort();
    expect(ids).toEqual(members.map((m) => m.id).sort());
    expect(new Set(statuses.map((s) => s.memberStatus!.leader)).size).toBe(1);
    expect(statuses.every((s) => Number(s.memberStatus!.dbSize) > 0 && s.memberStatus!.errors.length === 0)).toBe(true);
  });

  it('moves leadership away from the leader when it forfeits', async () => {
    const leaderId = onlyValue(await client.etcdStatus({ nodes: [cp1] })).memberStatus!.leader;
    const members = onlyValue(await client.etcdMemberList({}, { nodes: [cp1] })).members;
    const leader = members.find((m) => m.id === leaderId)!;
    const leaderAddress = t.addr(leader.hostname);
    const reply = onlyValue(await client.etcdForfeitLeadership({ nodes: [leaderAddress] }));
    expect(reply.member).not.toBe(leader.hostname);
    expect(members.map((m) => m.hostname)).toContain(reply.member);
    const after = onlyValue(await client.etcdStatus({ nodes: [cp1] })).memberStatus!.leader;
    expect(after).not.toBe(leaderId);
  });

  it('lists no alarms, disarms nothing and defragments a member', async () => {
    expect(onlyValue(await client.etcdAlarmList({ nodes: [cp2] })).memberAlarms).toEqual([]);
    expect(onlyValue(await client.etcdAlarmDisarm({ nodes: [cp2] })).memberAlarms).toEqual([]);
    expect(onlyValue(await client.etcdDefragment({ nodes: [cp2] }))).toBeDefined();
  });

  it('refuses etcd calls on a worker with Unimplemented, as a per-node error', async () => {
    const [r] = await client.etcdMemberList({}, { nodes: [w1] });
    expect(r!.error!.code).toBe('unimplemented');
    expect(r!.error!.retryable).toBe(false);
    expect(r!.error!.message).toContain('only available on control plane nodes');
  });

  it('streams a real etcd snapshot that Debian etcdctl accepts', async () => {
    const file = join(t.dir, 'db.snapshot');
    await pipeline(client.etcdSnapshot({ nodes: [cp3] }), createWriteStream(file));
    expect(statSync(file).size % 512).toBe(32);
    const status = JSON.parse(execFileSync(requireTool('etcdctl'), ['snapshot', 'status', file, '--write-out=json'], { env: { ...process.env, ETCDCTL_API: '3' } }).toString()) as { totalKey: number; totalSize: number };
    expect(status.totalKey).toBeGreaterThan(0);
    expect(status.totalSize).toBeGreaterThan(0);
  });

  it('stops uploading a snapshot as soon as the node refuses it, even from an endless source', async () => {
    async function* endless(): AsyncGenerator<Buffer> {
      for (;;) yield Buffer.alloc(64 * 1024, 1);
    }
    await expect(client.etcdRecover(endless(), { nodes: [w1] })).rejects.toMatchObject({ code: 'unimplemented' });
    await expect(client.etcdRecover(endless(), { node: w1 })).rejects.toMatchObject({ code: 'unimplemented' });
    expect(t.fleet.node('w-1').record.filter((r) => r.method === 'EtcdRecover').map((r) => r.outcome)).toEqual(['Unimplemented', 'Unimplemented']);
  });

  it('refuses a second bootstrap with AlreadyBootstrappedError on every control plane', async () => {
    const results = await client.bootstrap({}, { nodes: [cp1, cp2] });
    for (const r of results) {
      expect(r.error).toBeInstanceOf(AlreadyBootstrappedError);
      expect(r.error!.retryable).toBe(false);
    }
    expect(t.fleet.node('cp-1').record.filter((c) => c.method === 'Bootstrap').map((c) => c.outcome)).toEqual(['ok', 'AlreadyExists']);
  });
});

describe('cluster', () => {
  it("runs upstream's 16 health checks in order and ends the stream cleanly", async () => {
    const messages = (await collect(client.healthCheck({ waitTimeoutMs: 60_000 }, { nodes: [cp1] }))).map((m) => m.value!.message);
    expect(messages[0]).toMatch(/^discovered nodes: \[/);
    const passed = messages.filter((m) => m.endsWith(': OK')).map((m) => m.replace(/^waiting for /, '').replace(/: OK$/, ''));
    expect(passed).toEqual([
      'etcd to be healthy',
      'etcd members to be consistent across nodes',
      'etcd members to be control plane nodes',
      'apid to be ready',
      'all nodes memory sizes',
      'all nodes disk sizes',
      'no diagnostics',
      'kubelet to be healthy',
      'all nodes to finish boot sequence',
      'all k8s nodes to report',
      'all control plane static pods to be running',
      'all control plane components to be ready',
      'all k8s nodes to report ready',
      'kube-proxy to report ready',
      'coredns to report ready',
      'all k8s nodes to report schedulable',
    ]);
  });

  it('fails the health check with DeadlineExceeded when a listed node never answers', async () => {
    const missing = cp1.replace(/\.\d+$/, '.251');
    const run = collect(client.healthCheck({ waitTimeoutMs: 1_000, controlPlaneNodes: [cp1, cp2, cp3], workerNodes: [missing] }, { node: cp1 }));
    await expect(run).rejects.toMatchObject({ code: 'deadline_exceeded' });
  });

  it('returns a kubeconfig whose client certificate the cluster CA signed', async () => {
    const text = await client.kubeconfig({ node: cp1 });
    const kc = parseYaml(text) as { clusters: { cluster: { server: string; 'certificate-authority-data': string } }[]; users: { user: { 'client-certificate-data': string } }[] };
    expect(kc.clusters[0]!.cluster.server).toBe(`https://${cp1}:6443`);
    const ca = new X509Certificate(Buffer.from(kc.clusters[0]!.cluster['certificate-authority-data'], 'base64'));
    const crt = new X509Certificate(Buffer.from(kc.users[0]!.user['client-certificate-data'], 'base64'));
    expect(crt.verify(ca.publicKey)).toBe(true);
    expect(crt.subject).toContain('O=system:masters');
  });

  it('issues a reader talosconfig that can read but not reboot', async () => {
    const reply = onlyValue(await client.generateClientConfiguration({ roles: ['os:reader'], crtTtlMs: 3_600_000 }, { nodes: [cp1] }));
    const reader = TalosClient.withIdentity({ ca: reply.ca.toString(), crt: reply.crt.toString(), key: reply.key.toString() }, { endpoints: [cp2] });
    try {
      expect(onlyValue(await reader.version({ nodes: [cp2] })).version!.tag).toBe('v1.10.9');
      const [denied] = await reader.reboot({}, { nodes: [cp2] });
      expect(denied!.error!.code).toBe('permission_denied');
    } finally {
      reader.close();
    }
    expect(t.fleet.node('cp-2').record.filter((c) => c.method === 'Reboot')).toEqual([]);
    expect(reply.talosconfig.toString()).toContain('context: test');
  });

  it('refuses a client configuration with a zero TTL or an unknown role', async () => {
    const [zero] = await client.generateClientConfiguration({ roles: ['os:reader'], crtTtlMs: 0 }, { nodes: [cp1] });
    expect(zero!.error!.code).toBe('invalid_argument');
    const [unknown] = await client.generateClientConfiguration({ roles: ['os:root'], crtTtlMs: 1000 }, { nodes: [cp1] });
    expect(unknown!.error!.message).toContain('unknown role "os:root"');
  });
});

describe('resources', () => {
  it('reads MachineStatus and MachineConfig through COSI with `node`', async () => {
    const status = await client.machineStatus({ node: w1 });
    expect(status.stage).toBe('MACHINE_STAGE_RUNNING');
    expect(status.status!.ready).toBe(true);
    const config = await client.machineConfig({ node: cp2 });
    expect(parseYaml(config)).toMatchObject({ version: 'v1alpha1', machine: { type: 'controlplane', network: { hostname: 'cp-2' } } });
  });

  it('refuses COSI calls with `nodes`, as apid does', async () => {
    await expect(client.getResource('runtime', 'MachineStatuses.runtime.talos.dev', 'machine', { nodes: [cp1] } as never)).rejects.toThrow(/cannot fan out/);
  });
});

describe('errors that name the failure', () => {
  it('throws NodeErrors listing every failed node when more than one fails', async () => {
    const a = cp1.replace(/\.\d+$/, '.252');
    const b = cp1.replace(/\.\d+$/, '.253');
    const results = await client.version({ nodes: [a, cp1, b] });
    let thrown: unknown;
    try {
      allValues(results);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(NodeErrors);
    expect((thrown as NodeErrors).errors.map((e) => e.node).sort()).toEqual([a, b].sort());
    expect((thrown as NodeErrors).retryable).toBe(true);
  });
});
