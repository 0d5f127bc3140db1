import type { SimulatedNode } from './node';

/** The nodes a health check looks at, split by role as ClusterInfo does. */
export interface ClusterUnderCheck {
  controlPlanes: SimulatedNode[];
  workers: SimulatedNode[];
  /** Addresses the caller listed that no simulated node answers to. */
  unknown: string[];
}

/** One named check, in upstream's words; `assert` resolves to undefined when it passes, else the reason. */
export interface ClusterCheck {
  name: string;
  /** Simulated timeout of this check (upstream: 5 min for most). */
  timeoutMs: number;
  /** Simulated polling interval (upstream: 5 s for most). */
  intervalMs: number;
  assert(cluster: ClusterUnderCheck): Promise<string | undefined>;
}

const all = (c: ClusterUnderCheck) => [...c.controlPlanes, ...c.workers];
const MIN = 60_000;

function firstFailure(nodes: SimulatedNode[], failing: (n: SimulatedNode) => string | undefined): string | undefined {
  for (const n of nodes) {
    const reason = failing(n);
    if (reason) return `${n.spec.address}: ${reason}`;
  }
  return undefined;
}

/** The API server is up when some control plane has a healthy etcd (the static pods follow it). */
function apiServerUp(c: ClusterUnderCheck): boolean {
  return c.controlPlanes.some((n) => n.powered && n.etcd?.healthy);
}

async function memberIds(n: SimulatedNode): Promise<{ ids: string[]; names: string[]; learners: number } | string> {
  if (!n.etcd || n.etcd.state !== 'running') return 'etcd is not running';
  const client = n.etcd.client(2_000);
  try {
    const members = await client.memberList();
    return { ids: members.map((m) => m.ID).sort(), names: members.map((m) => m.name).sort(), learners: members.filter((m) => m.isLearner).length };
  } catch (err) {
    return (err as Error).message;
  } finally {
    client.close();
  }
}

/**
 * Upstream's default cluster checks (pkg/cluster/check), in order and with their names, evaluated against
 * the simulated nodes: checks 1–9 are the pre-boot group, 10–16 the Kubernetes group.
 */
export const DEFAULT_CLUSTER_CHECKS: ClusterCheck[] = [
  {
    name: 'etcd to be healthy',
    timeoutMs: 5 * MIN,
    intervalMs: 5_000,
    assert: async (c) => {
      const probes = await Promise.all(c.controlPlanes.map(async (n) => ((await n.etcd?.probe(2_000)) ? undefined : `${n.spec.address}: service "etcd" not healthy`)));
      return probes.find((p) => p !== undefined);
    },
  },
  {
    name: 'etcd members to be consistent across nodes',
    timeoutMs: 5 * MIN,
    intervalMs: 5_000,
    assert: async (c) => {
      const lists = await Promise.all(c.controlPlanes.map(async (n) => ({ n, list: await memberIds(n) })));
      const bad = lists.find((l) => typeof l.list === 'string');
      if (bad) return `${bad.n.spec.address}: ${bad.list as string}`;
      const first = JSON.stringify((lists[0]?.list as { ids: string[] } | undefined)?.ids);
      const diff = lists.find((l) => JSON.stringify((l.list as { ids: string[] }).ids) !== first);
      return diff ? `${diff.n.spec.address}: etcd member list differs from ${lists[0]!.n.spec.address}` : undefined;
    },
  },
  {
    name: 'etcd members to be control plane nodes',
    timeoutMs: 5 * MIN,
    intervalMs: 5_000,
    assert: async (c) => {
      if (!c.controlPlanes.length) return 'no control plane nodes';
      const list = await memberIds(c.controlPlanes[0]!);
      if (typeof list === 'string') return list;
      const expected = c.controlPlanes.map((n) => n.hostname).sort();
      if (list.learners) return `${list.learners} etcd member(s) are still learners`;
      return JSON.stringify(list.names) === JSON.stringify(expected) ? undefined : `etcd members ${list.names.join(', ')} do not match control plane nodes ${expected.join(', ')}`;
    },
  },
  {
    name: 'apid to be ready',
    timeoutMs: 5 * MIN,
    intervalMs: 5_000,
    assert: async (c) => (c.unknown.length ? `${c.unknown[0]}: connection refused` : firstFailure(all(c), (n) => (n.powered && n.services.isUp('apid') ? undefined : 'apid is not ready'))),
  },
  { name: 'all nodes memory sizes', timeoutMs: 5 * MIN, intervalMs: 5_000, assert: async () => undefined },
  { name: 'all nodes disk sizes', timeoutMs: 5 * MIN, intervalMs: 5_000, assert: async () => undefined },
  { name: 'no diagnostics', timeoutMs: MIN, intervalMs: 5_000, assert: async () => undefined },
  {
    name: 'kubelet to be healthy',
    timeoutMs: 5 * MIN,
    intervalMs: 5_000,
    assert: async (c) => firstFailure(c.controlPlanes, (n) => (n.services.isUp('kubelet') ? undefined : 'service "kubelet" not healthy')),
  },
  {
    name: 'all nodes to finish boot sequence',
    timeoutMs: 5 * MIN,
    intervalMs: 5_000,
    assert: async (c) => firstFailure(all(c), (n) => (n.stage === 'RUNNING' && !n.sequence ? undefined : `stage is ${n.stage}${n.sequence ? `, ${n.sequence} in progress` : ''}`)),
  },
  {
    name: 'all k8s nodes to report',
    timeoutMs: 5 * MIN,
    intervalMs: 30_000,
    assert: async (c) => (apiServerUp(c) ? firstFailure(all(c), (n) => (n.kubernetes.kubeletReady ? undefined : 'node not registered')) : 'kube-apiserver is not available'),
  },
  {
    name: 'all control plane static pods to be running',
    timeoutMs: 5 * MIN,
    intervalMs: 5_000,
    assert: async (c) => firstFailure(c.controlPlanes, (n) => (n.etcd?.state === 'running' && n.services.isUp('kubelet') ? undefined : 'kube-apiserver static pod is not running')),
  },
  {
    name: 'all control plane components to be ready',
    timeoutMs: 5 * MIN,
    intervalMs: 5_000,
    assert: async (c) => firstFailure(c.controlPlanes, (n) => (n.etcd?.healthy && n.kubernetes.kubeletReady ? undefined : 'control plane components are not ready')),
  },
  {
    name: 'all k8s nodes to report ready',
    timeoutMs: 10 * MIN,
    intervalMs: 5_000,
    assert: async (c) => firstFailure(all(c), (n) => (n.ready ? undefined : `node is not ready: ${n.unmetConditions().map((u) => u.reason).join('; ') || n.stage}`)),
  },
  { name: 'kube-proxy to report ready', timeoutMs: 5 * MIN, intervalMs: 5_000, assert: async (c) => (apiServerUp(c) ? undefined : 'kube-apiserver is not available') },
  { name: 'coredns to report ready', timeoutMs: 5 * MIN, intervalMs: 5_000, assert: async (c) => (all(c).some((n) => n.ready) ? undefined : 'no ready node runs coredns') },
  {
    name: 'all k8s nodes to report schedulable',
    timeoutMs: 5 * MIN,
    intervalMs: 5_000,
    assert: async (c) => firstFailure(all(c), (n) => (n.kubernetes.cordoned ? 'node is cordoned' : undefined)),
  },
];
