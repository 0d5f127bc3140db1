/**
 * The Kubernetes upgrade planner (`upgrade-k8s`, talos-ops.md §3): from the component images every node's config
 * names and the versions the Kubernetes API reports, to the ordered steps that move the cluster to one target
 * version, or a refusal that lists every reason, before anything changes. Pure.
 */
import { kubernetesProblem } from '../releases/profiles';
import { compareSemVer, imageTag, parseSemVer, type SemVer } from '../releases/versions';
import { STATIC_POD_COMPONENTS, type KubernetesComponent } from './kubernetes-components';

/** One node as the planner sees it. */
export interface NodeKubernetesState {
  name: string;
  role: 'controlplane' | 'worker';
  /** The Talos version it answers with. */
  talosVersion: string;
  /** The images its machine config names (`''`: the config names none). */
  configured: Partial<Record<KubernetesComponent, string>>;
  /** What runs now, as the Kubernetes API says (`v1.33.6`): its static pods' image tags, its Node's kubelet version. */
  running: Partial<Record<KubernetesComponent, string>>;
}

/** The cluster as the planning activity reads it. */
export interface KubernetesClusterState {
  cluster: string;
  /** In the inventory's order. */
  nodes: NodeKubernetesState[];
  /** The kube-proxy DaemonSet's image, when the cluster has the DaemonSet. */
  proxyDaemonSetImage?: string;
}

/** One step: one component on one node (its config patched), or the kube-proxy DaemonSet (through the Kubernetes API). */
export interface KubernetesUpgradeStep {
  component: KubernetesComponent;
  /** The node whose config changes; absent for the kube-proxy DaemonSet. */
  node?: string;
  /** The version it runs now (`1.33.6`). */
  from: string;
  /** The image it gets: the current image's registry and repository, the target's tag. */
  image: string;
}

export interface KubernetesUpgradePlan {
  cluster: string;
  /** The lowest version among the cluster's components (upstream's `--from`). */
  from: string;
  to: string;
  steps: KubernetesUpgradeStep[];
  /** Nodes with nothing left to do. */
  upToDate: string[];
}

/** The plan is impossible; `problems` says every reason. */
export class KubernetesUpgradeRefusal extends Error {
  constructor(
    readonly cluster: string,
    readonly problems: string[],
  ) {
    super(`Kubernetes upgrade of ${cluster} refused: ${problems.join('; ')}`);
  }
}

const show = (v: SemVer) => `${v.major}.${v.minor}.${v.patch}`;

/** `1.34.1` or `v1.34.1`, nothing else; undefined when it is not one. */
export function parseKubernetesVersion(text: string): SemVer | undefined {
  return /^v?\d+\.\d+\.\d+$/.test(text.trim()) ? parseSemVer(text) : undefined;
}

/** Image variants Talos publishes for the kubelet (`v1.33.6-fat`), kept across the upgrade as upstream does. */
const VARIANT = /^-(fat|slim)$/;

/** The image with the target's tag: same registry and repository, a kubelet variant suffix kept, any digest dropped. */
export function retagImage(image: string, to: SemVer): string {
  const name = image.split('@')[0]!;
  const tag = imageTag(name);
  const repository = tag === undefined ? name : name.slice(0, name.length - tag.length - 1);
  const suffix = /^v?\d+\.\d+\.\d+(.*)$/.exec(tag ?? '')?.[1] ?? '';
  return `${repository}:v${show(to)}${VARIANT.test(suffix) ? suffix : ''}`;
}

/** The version an image's tag names, or undefined. */
const imageVersion = (image: string): SemVer | undefined => parseSemVer(imageTag(image) ?? '');

/** Where a component runs, for messages. */
const where = (component: KubernetesComponent, node?: string) => (node ? `${component} on ${node}` : `the ${component} DaemonSet`);

interface Current {
  component: KubernetesComponent;
  node?: string;
  image?: string;
  configured?: SemVer;
  running?: SemVer;
}

/** Everything the cluster runs, with its versions; what cannot be read goes to `problems`. */
function currentComponents(state: KubernetesClusterState, problems: string[]): Current[] {
  const out: Current[] = [];
  for (const n of state.nodes) {
    for (const [component, image] of Object.entries(n.configured) as [KubernetesComponent, string][]) {
      const configured = image ? imageVersion(image) : undefined;
      if (!image) problems.push(`the config of ${n.name} names no ${component} image (Talos's built-in default): set it explicitly first`);
      else if (!configured) problems.push(`the version of ${component} on ${n.name} cannot be read from its image ${image}`);
      const running = n.running[component] ? parseSemVer(n.running[component]) : undefined;
      out.push({ component, node: n.name, image, ...(configured ? { configured } : {}), ...(running ? { running } : {}) });
    }
  }
  const proxyConfigured = out.some((c) => c.component === 'kube-proxy');
  if (state.proxyDaemonSetImage && proxyConfigured) {
    const running = imageVersion(state.proxyDaemonSetImage);
    if (!running) problems.push(`the version of the kube-proxy DaemonSet cannot be read from its image ${state.proxyDaemonSetImage}`);
    out.push({ component: 'kube-proxy', image: state.proxyDaemonSetImage, ...(running ? { running } : {}) });
  }
  return out;
}

/** Plans the upgrade of every component to `toText`; throws {@link KubernetesUpgradeRefusal} with every problem found. */
export function planKubernetesUpgrade(state: KubernetesClusterState, toText: string): KubernetesUpgradePlan {
  const to = parseKubernetesVersion(toText);
  if (!to) throw new KubernetesUpgradeRefusal(state.cluster, [`"${toText}" is not a Kubernetes version such as 1.34.1`]);
  const problems: string[] = [];
  const current = currentComponents(state, problems);
  const versions = current.flatMap((c) => [c.configured, c.running].filter((v): v is SemVer => v !== undefined));
  for (const c of current) {
    const newest = [c.configured, c.running].filter((v): v is SemVer => v !== undefined).sort(compareSemVer).at(-1);
    if (newest && compareSemVer(newest, to) > 0) problems.push(`${where(c.component, c.node)} is on ${show(newest)}, newer than ${show(to)}: a downgrade is refused`);
  }
  const lowest = [...versions].sort(compareSemVer)[0] ?? to;
  if (to.major !== lowest.major || to.minor > lowest.minor + 1) {
    problems.push(`${show(to)} is more than one minor above ${show(lowest)} (the lowest version a component runs): upgrade to ${lowest.major}.${lowest.minor + 1} first, one minor at a time`);
  }
  for (const n of state.nodes) {
    const problem = kubernetesProblem(n.talosVersion, show(to));
    if (problem) problems.push(`${n.name} runs Talos ${n.talosVersion}: ${problem}`);
  }
  if (problems.length) throw new KubernetesUpgradeRefusal(state.cluster, problems);

  const needed = (c: Current): KubernetesUpgradeStep | undefined => {
    const image = retagImage(c.image!, to);
    const runsTarget = c.running ? compareSemVer(c.running, to) === 0 : c.node !== undefined;
    const done = runsTarget && (c.node === undefined || c.image === image);
    if (done) return undefined;
    const from = [c.configured, c.running].filter((v): v is SemVer => v !== undefined).sort(compareSemVer)[0]!;
    return { component: c.component, ...(c.node ? { node: c.node } : {}), from: show(from), image };
  };
  const of = (component: KubernetesComponent, node?: string) => current.filter((c) => c.component === component && c.node === node);
  const controlPlanes = state.nodes.filter((n) => n.role === 'controlplane').map((n) => n.name);
  const workers = state.nodes.filter((n) => n.role === 'worker').map((n) => n.name);
  const ordered: Current[] = [
    // Upstream's order, which the version skew policy asks for: every API server before any controller manager or scheduler.
    ...STATIC_POD_COMPONENTS.flatMap((component) => controlPlanes.flatMap((node) => of(component, node))),
    ...controlPlanes.flatMap((node) => of('kube-proxy', node)),
    ...of('kube-proxy', undefined),
    ...[...controlPlanes, ...workers].flatMap((node) => of('kubelet', node)),
  ];
  const steps = ordered.map(needed).filter((s): s is KubernetesUpgradeStep => s !== undefined);
  const upToDate = state.nodes.map((n) => n.name).filter((name) => !steps.some((s) => s.node === name));
  return { cluster: state.cluster, from: show(lowest), to: show(to), steps, upToDate };
}

/** The plan as people read it (the start gate, `plan upgrade-k8s`). */
export function describeKubernetesPlan(plan: KubernetesUpgradePlan): string {
  if (!plan.steps.length) return `every Kubernetes component of ${plan.cluster} is on ${plan.to}: nothing to do`;
  const lines = [`upgrade Kubernetes of ${plan.cluster} from ${plan.from} to ${plan.to} in ${plan.steps.length} step(s), one at a time, no reboots:`];
  for (const [i, s] of plan.steps.entries()) lines.push(`  ${i + 1}. ${where(s.component, s.node)}: ${s.from} → ${s.image}`);
  if (plan.upToDate.length) lines.push(`already there: ${plan.upToDate.join(', ')}`);
  lines.push('first, every node pulls its new images (ImagePull), as upstream pre-pulls them');
  lines.push('not done: the sync of the other bootstrap manifests (CoreDNS, flannel, RBAC)');
  return lines.join('\n');
}
