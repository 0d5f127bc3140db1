/**
 * The upgrade planner: from what every node runs now to an ordered, gated plan, or a refusal that says why, before
 * anything changes. Pure: the cluster's state and the release facts come in, the plan goes out.
 */
import { defaultInstallerImage, parseInstallerImage } from '../releases/images';
import { installerProblem, nextHops, profileFor, upgradeApiFor, UnknownTalosVersionError, UpgradePathError } from '../releases/profiles';
import { compareSemVer, parseSemVer, type SemVer } from '../releases/versions';

/** One node as the planner sees it. */
export interface NodeUpgradeState {
  name: string;
  address: string;
  role: 'controlplane' | 'worker';
  /** The Talos version it answers with now. */
  version: string;
  /** The installer image in its machine config (keeps its registry and Image Factory schematic). */
  installImage?: string;
  /** True when its etcd member leads the cluster (control planes only). */
  etcdLeader?: boolean;
}

/** The cluster's state, read by the planning activity. */
export interface ClusterUpgradeState {
  cluster: string;
  nodes: NodeUpgradeState[];
  /** The Kubernetes version the cluster runs (the lowest among its components). */
  kubernetesVersion?: string;
}

/** How a path crosses minors: every intermediate minor (upstream's advice), or as few hops as the installers allow. */
export type PathPolicy = 'every-minor' | 'fewest-hops';

/** How the run proceeds, from the inventory's policy. */
export interface RolloutPolicy {
  canaryCount: number;
  workerBatchSize: number;
  path: PathPolicy;
  /** Approval gates of the upgrade (`start`, `hop`, `canary`, `workers`). */
  gates: string[];
}

/** One node's upgrade within a hop. */
export interface PlannedNodeUpgrade {
  node: string;
  role: 'controlplane' | 'worker';
  from: string;
  to: string;
  image: string;
  api: 'legacy' | 'lifecycle';
}

/** One hop: every node to one version, in the order the rollout takes them. */
export interface UpgradeHop {
  to: string;
  /** Control planes one at a time, the etcd leader last. */
  controlPlanes: PlannedNodeUpgrade[];
  /** The canary workers, then batches of the rest (each batch upgraded in parallel). */
  canaries: PlannedNodeUpgrade[];
  batches: PlannedNodeUpgrade[][];
  /** The etcd line (`3.6`) the control planes run once on this hop's version. */
  etcd: string;
  /**
   * Before this hop, wait until etcd has written a snapshot of its log past the entries etcd 3.5 wrote: this hop
   * moves etcd to 3.7, which cannot replay 3.5's (v2) log entries, and an earlier hop of this run moved it off 3.5.
   */
  etcdLogCheck?: boolean;
}

export interface UpgradePlan {
  cluster: string;
  from: string[];
  to: string;
  hops: UpgradeHop[];
  /** Gates the run will stop at, in order (`start`, `canary` per hop, `hop` between hops). */
  gates: string[];
  /** Nodes already on the target (nothing to do). */
  upToDate: string[];
  /** A fresh verified etcd snapshot is taken before anything changes (false: the policy skips it). */
  snapshotFirst: boolean;
}

/** A plan that cannot work, with every reason; nothing was changed. */
export class UpgradeRefusal extends Error {
  constructor(
    readonly cluster: string,
    readonly reasons: string[],
  ) {
    super(`cannot upgrade cluster ${cluster}: ${reasons.join('; ')}; nothing was changed`);
    this.name = 'UpgradeRefusal';
  }
}

const fmt = (v: SemVer) => `v${v.major}.${v.minor}.${v.patch}`;

/**
 * The installer image for `version`: the node's own registry path and Image Factory schematic with the new tag,
 * except where that form is no longer published (ghcr from 1.14 on), which moves to the minor's default.
 */
export function installerImageFor(version: string, current: string | undefined): string {
  const parsed = current ? parseInstallerImage(current) : undefined;
  if (!parsed) return defaultInstallerImage(version);
  if (parsed.form === 'installer' && parsed.registry === 'ghcr.io' && !profileFor(version).installer.ghcrPublished) return defaultInstallerImage(version);
  const repository = current!.split('@')[0]!.slice(0, -(parsed.version.length + 1));
  return `${repository}:${version}`;
}

/**
 * Plans a rolling upgrade of every node to `target`. Refuses (with every reason) an unparseable or unknown target,
 * a downgrade, a path an installer forbids, and a Kubernetes version outside a hop's supported range.
 */
export function planUpgrade(state: ClusterUpgradeState, targetText: string, policy: RolloutPolicy, snapshot = true): UpgradePlan {
  const reasons: string[] = [];
  const target = parseSemVer(targetText);
  if (!target || !/^v\d+\.\d+\.\d+/.test(targetText.trim())) throw new UpgradeRefusal(state.cluster, [`"${targetText}" is not a Talos version such as v1.10.9`]);
  const to = fmt(target);
  try {
    profileFor(to);
  } catch (err) {
    if (!(err instanceof UnknownTalosVersionError)) throw err;
    reasons.push(`Talos ${target.major}.${target.minor} is not a release this version of talos-fleet knows`);
  }
  const versions = state.nodes.map((n) => ({ node: n, v: parseSemVer(n.version) }));
  for (const { node, v } of versions) {
    if (!v) reasons.push(`${node.name} runs an unknown version "${node.version}"`);
    else if (compareSemVer(v, target) > 0) reasons.push(`${node.name} runs ${node.version}, newer than ${to}: downgrades are not planned`);
  }
  if (reasons.length) throw new UpgradeRefusal(state.cluster, reasons);

  const pending = versions.filter(({ v }) => compareSemVer(v!, target) < 0);
  const upToDate = versions.filter(({ v }) => compareSemVer(v!, target) === 0).map(({ node }) => node.name);
  const lowest = pending.map(({ v }) => v!).sort(compareSemVer)[0];
  let path: string[] = [];
  if (lowest) {
    try {
      path = nextHops(fmt(lowest), to, { everyMinor: policy.path === 'every-minor', ...(state.kubernetesVersion ? { kubernetes: state.kubernetesVersion } : {}) });
    } catch (err) {
      if (!(err instanceof UpgradePathError)) throw err;
      const upgradeK8s = /Kubernetes/.test(err.message) ? ` (talos-fleet upgrade-k8s ${state.cluster} --to X.Y.Z)` : '';
      throw new UpgradeRefusal(state.cluster, [`${err.message}${upgradeK8s}`]);
    }
  }

  // A node that is ahead of the lowest joins the path where it stands; its first hop's installer must accept it.
  for (const { node, v } of pending) {
    const first = path.find((stop) => compareSemVer(parseSemVer(stop)!, v!) > 0);
    const refusal = first ? installerProblem(node.version, first) : undefined;
    if (refusal) reasons.push(`${node.name}: ${refusal}`);
  }
  if (reasons.length) throw new UpgradeRefusal(state.cluster, [...new Set(reasons)]);

  const etcdLine = (version: string) => profileFor(version).etcd.line;
  const hops: UpgradeHop[] = path.map((stop) => {
    const stopV = parseSemVer(stop)!;
    const nodeStep = (n: NodeUpgradeState, from: string): PlannedNodeUpgrade => ({ node: n.name, role: n.role, from, to: stop, image: installerImageFor(stop, n.installImage), api: upgradeApiFor(from) });
    // A node joins a hop once it is below the hop's version; it starts the hop from where the previous one left it.
    const inHop = pending
      .filter(({ v }) => compareSemVer(v!, stopV) < 0)
      .map(({ node, v }) => {
        const prior = path.filter((s) => compareSemVer(parseSemVer(s)!, stopV) < 0 && compareSemVer(parseSemVer(s)!, v!) > 0).at(-1);
        return nodeStep(node, prior ?? node.version);
      });
    const leader = new Set(state.nodes.filter((n) => n.etcdLeader).map((n) => n.name));
    const controlPlanes = inHop.filter((n) => n.role === 'controlplane').sort((a, b) => Number(leader.has(a.node)) - Number(leader.has(b.node)) || a.node.localeCompare(b.node));
    const workers = inHop.filter((n) => n.role === 'worker').sort((a, b) => a.node.localeCompare(b.node));
    const canaries = workers.slice(0, Math.min(policy.canaryCount, workers.length));
    const rest = workers.slice(canaries.length);
    const batches: PlannedNodeUpgrade[][] = [];
    for (let i = 0; i < rest.length; i += policy.workerBatchSize) batches.push(rest.slice(i, i + policy.workerBatchSize));
    return { to: stop, controlPlanes, canaries, batches, etcd: etcdLine(stop) };
  });
  // etcd 3.7 dropped the v2 requests etcd 3.5 still logs: a member replaying such an entry panics at start.
  const startedOn35 = state.nodes.some((n) => n.role === 'controlplane' && etcdLine(n.version) === '3.5');
  hops.forEach((hop, i) => {
    if (i > 0 && startedOn35 && hop.etcd === '3.7' && hops.slice(0, i).some((h) => h.etcd === '3.6')) hop.etcdLogCheck = true;
  });
  const gates: string[] = [];
  if (policy.gates.includes('start')) gates.push('start');
  hops.forEach((hop, i) => {
    if (i > 0 && policy.gates.includes('hop')) gates.push(`hop-${i + 1}`);
    if (hop.canaries.length && hop.batches.length && policy.gates.includes('canary')) gates.push(`canary-${i + 1}`);
  });
  return { cluster: state.cluster, from: [...new Set(state.nodes.map((n) => n.version))].sort(), to, hops, gates, upToDate, snapshotFirst: snapshot && hops.length > 0 };
}

/** The plan in a few lines, for the start gate, `plan upgrade` and Slack. */
export function describePlan(plan: UpgradePlan): string {
  if (!plan.hops.length) return `every node of ${plan.cluster} already runs ${plan.to}: nothing to do`;
  const lines = [`upgrade ${plan.cluster} from ${plan.from.join(', ')} to ${plan.to} in ${plan.hops.length} hop(s)${plan.snapshotFirst ? '; a verified etcd snapshot first' : '; no snapshot first (policy.snapshotBeforeUpgrade is false)'}`];
  plan.hops.forEach((hop, i) => {
    const names = (ns: PlannedNodeUpgrade[]) => ns.map((n) => n.node).join(', ');
    if (hop.etcdLogCheck) lines.push(`before hop ${i + 1}: wait until etcd 3.6 has snapshotted its log past the entries etcd 3.5 wrote (etcd 3.7 cannot replay them)`);
    lines.push(`hop ${i + 1} to ${hop.to}: control planes ${names(hop.controlPlanes) || '-'} (one at a time, etcd leader last)` + (hop.canaries.length ? `; canary ${names(hop.canaries)}` : '') + (hop.batches.length ? `; then ${hop.batches.map((b) => `[${names(b)}]`).join(' ')}` : ''));
  });
  if (plan.upToDate.length) lines.push(`already on ${plan.to}: ${plan.upToDate.join(', ')}`);
  if (plan.gates.length) lines.push(`gates: ${plan.gates.join(', ')}`);
  return lines.join('\n');
}
