import { describePlan, planUpgrade, UpgradeRefusal, type ClusterUpgradeState, type RolloutPolicy } from '../../src/upgrade/plan';

const node = (name: string, role: 'controlplane' | 'worker', version: string, extra: Record<string, unknown> = {}) => ({ name, address: `10.0.0.${name.length}`, role, version, ...extra });

function cluster(version = 'v1.10.9', kubernetesVersion = '1.33.6'): ClusterUpgradeState {
  return {
    cluster: 'prod',
    kubernetesVersion,
    nodes: [
      node('cp-1', 'controlplane', version, { etcdLeader: true, installImage: 'factory.talos.dev/installer/376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba:v1.10.9' }),
      node('cp-2', 'controlplane', version),
      node('cp-3', 'controlplane', version),
      node('w-1', 'worker', version),
      node('w-2', 'worker', version),
      node('w-3', 'worker', version),
      node('w-4', 'worker', version),
    ],
  };
}

const POLICY: RolloutPolicy = { canaryCount: 1, workerBatchSize: 2, path: 'every-minor', gates: ['start', 'canary', 'hop'] };

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof UpgradeRefusal) return err.message;
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('the upgrade planner', () => {
  it('orders control planes one at a time with the etcd leader last, then one canary, then worker batches of the policy size', () => {
    const plan = planUpgrade(cluster(), 'v1.10.10', POLICY);
    expect(plan.hops).toHaveLength(1);
    const hop = plan.hops[0]!;
    expect(hop.controlPlanes.map((n) => n.node)).toEqual(['cp-2', 'cp-3', 'cp-1']);
    expect(hop.canaries.map((n) => n.node)).toEqual(['w-1']);
    expect(hop.batches.map((b) => b.map((n) => n.node))).toEqual([['w-2', 'w-3'], ['w-4']]);
    expect(plan.gates).toEqual(['start', 'canary-1']);
    expect(plan.snapshotFirst).toBe(true);
  });

  it('keeps each node\'s installer registry and Image Factory schematic, changing only the tag', () => {
    const hop = planUpgrade(cluster(), 'v1.10.10', POLICY).hops[0]!;
    expect(hop.controlPlanes.find((n) => n.node === 'cp-1')!.image).toBe('factory.talos.dev/installer/376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba:v1.10.10');
    expect(hop.controlPlanes.find((n) => n.node === 'cp-2')!.image).toBe('ghcr.io/siderolabs/installer:v1.10.10');
  });

  it('goes through the latest patch of the intermediate minor, and leaves nodes already on the target alone', () => {
    const state = cluster('v1.9.6', '1.32.4');
    state.nodes[6]!.version = 'v1.10.10';
    const plan = planUpgrade(state, 'v1.10.10', POLICY);
    expect(plan.hops.map((h) => h.to)).toEqual(['v1.10.10']);
    expect(plan.upToDate).toEqual(['w-4']);
    expect(describePlan(plan)).toMatch(/upgrade prod from v1\.10\.10, v1\.9\.6 to v1\.10\.10 in 1 hop/);
  });

  it('refuses, with every reason, a downgrade, an unknown release and a Kubernetes version the target does not run', () => {
    expect(refusal(() => planUpgrade(cluster(), 'v1.9.6', POLICY))).toMatch(/cp-1 runs v1\.10\.9, newer than v1\.9\.6: downgrades are not planned/);
    expect(refusal(() => planUpgrade(cluster(), 'v1.99.1', POLICY))).toMatch(/Talos 1\.99 is not a release this version of talos-fleet knows/);
    expect(refusal(() => planUpgrade(cluster(), 'next', POLICY))).toMatch(/"next" is not a Talos version/);
    expect(refusal(() => planUpgrade(cluster('v1.9.6', '1.26.0'), 'v1.10.9', POLICY))).toMatch(/cannot upgrade through Talos v1\.10\.9: .*1\.26.*upgrade Kubernetes first \(talos-fleet upgrade-k8s prod --to X\.Y\.Z\)/);
  });

  it('crosses minors through the latest patch of each, or in as few hops as the installers allow', () => {
    const state = cluster('v1.10.9', '1.33.6');
    expect(planUpgrade(state, 'v1.14.1', POLICY).hops.map((h) => h.to)).toEqual(['v1.11.6', 'v1.12.7', 'v1.13.3', 'v1.14.1']);
    const fewest = planUpgrade(state, 'v1.14.1', { ...POLICY, path: 'fewest-hops' });
    expect(fewest.hops.map((h) => h.to)).toEqual(['v1.12.7', 'v1.14.1']);
    expect(fewest.gates).toEqual(['start', 'canary-1', 'hop-2', 'canary-2']);
    // Each hop speaks the API of the version the node runs when the hop starts: 1.13+ nodes use LifecycleService.
    const every = planUpgrade(state, 'v1.14.1', POLICY);
    expect(every.hops.map((h) => h.controlPlanes[0]!.api)).toEqual(['legacy', 'legacy', 'legacy', 'lifecycle']);
    // The ghcr installer is not published for 1.14: its hop moves to the Image Factory; a factory node keeps its schematic.
    const last = fewest.hops[1]!;
    expect(last.controlPlanes.find((n) => n.node === 'cp-2')!.image).toBe('factory.talos.dev/metal-installer/376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba:v1.14.1');
    expect(last.controlPlanes.find((n) => n.node === 'cp-1')!.image).toBe('factory.talos.dev/installer/376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba:v1.14.1');
  });

  it('waits for etcd to snapshot its log before a hop to etcd 3.7 when an earlier hop moved it off 3.5, and only then', () => {
    const onEtcd35 = cluster('v1.10.9', '1.33.6');
    const fewest = planUpgrade(onEtcd35, 'v1.14.1', { ...POLICY, path: 'fewest-hops' });
    expect(fewest.hops.map((h) => [h.etcd, h.etcdLogCheck === true])).toEqual([['3.6', false], ['3.7', true]]);
    expect(describePlan(fewest)).toMatch(/before hop 2: wait until etcd 3\.6 has snapshotted its log past the entries etcd 3\.5 wrote/);
    const every = planUpgrade(onEtcd35, 'v1.14.1', POLICY);
    expect(every.hops.map((h) => h.etcdLogCheck === true)).toEqual([false, false, false, true]);
    // A cluster already on etcd 3.6 has no 3.5 entries this run could have left in the log.
    expect(planUpgrade(cluster('v1.12.7', '1.33.6'), 'v1.14.1', POLICY).hops.some((h) => h.etcdLogCheck)).toBe(false);
  });

  it('refuses a path whose hops cannot run the cluster\'s Kubernetes, naming the Kubernetes upgrade to do first', () => {
    expect(refusal(() => planUpgrade(cluster('v1.10.9', '1.29.3'), 'v1.14.1', { ...POLICY, path: 'fewest-hops' }))).toMatch(/1\.29.*upgrade Kubernetes first \(talos-fleet upgrade-k8s prod --to X\.Y\.Z\)/);
  });

  it('plans nothing when every node already runs the target', () => {
    const plan = planUpgrade(cluster('v1.10.10'), 'v1.10.10', POLICY);
    expect(plan.hops).toEqual([]);
    expect(describePlan(plan)).toBe('every node of prod already runs v1.10.10: nothing to do');
  });
});
