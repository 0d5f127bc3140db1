/**
 * Where a machine configuration keeps the Kubernetes component images (the v1alpha1 fields, or the 1.14
 * Kube*Config documents that replace them: talos-lines.md §3.2, §5), and the one-image patch of each, as upstream's
 * upgrade-k8s patches them. Pure: config text in, images or config text out.
 */
import { v1alpha1Document, valueAt } from '../config/multidoc';
import { applyPatches, parseConfigDocuments, type ConfigDocument } from '../config/patches';
import { compareSemVer, imageTag, parseSemVer } from '../releases/versions';
import type { KubernetesComponent } from './kubernetes-components';

/** Each component's image: its v1alpha1 path, the 1.14 document that replaces it, and whether only control planes have it. */
const FIELDS: Record<KubernetesComponent, { path: string; kind: string; controlPlaneOnly: boolean }> = {
  'kube-apiserver': { path: 'cluster.apiServer.image', kind: 'KubeAPIServerConfig', controlPlaneOnly: true },
  'kube-controller-manager': { path: 'cluster.controllerManager.image', kind: 'KubeControllerManagerConfig', controlPlaneOnly: true },
  'kube-scheduler': { path: 'cluster.scheduler.image', kind: 'KubeSchedulerConfig', controlPlaneOnly: true },
  'kube-proxy': { path: 'cluster.proxy.image', kind: 'KubeProxyConfig', controlPlaneOnly: true },
  kubelet: { path: 'machine.kubelet.image', kind: 'KubeletConfig', controlPlaneOnly: false },
};


/** The v1alpha1 document and the documents of a config. */
function documents(configYaml: string): { v1alpha1: ConfigDocument; docs: ConfigDocument[] } {
  const docs = parseConfigDocuments(configYaml, 'machine config');
  return { v1alpha1: v1alpha1Document(docs), docs };
}

/** The component's document (1.14 contract) when the config has one. */
const documentOf = (docs: ConfigDocument[], c: KubernetesComponent) => docs.find((d) => d.kind === FIELDS[c].kind);

/** True when the config runs kube-proxy: v1alpha1 without `cluster.proxy.disabled`, or a 1.14 config with its document. */
function proxyEnabled(v1alpha1: ConfigDocument, docs: ConfigDocument[]): boolean {
  if (docs.some((d) => d.kind === 'KubeClusterConfig')) return documentOf(docs, 'kube-proxy') !== undefined;
  return valueAt(v1alpha1, 'cluster.proxy.disabled') !== true;
}

/**
 * The component images a node's config names, by component: the document's where the config has it, else the
 * v1alpha1 field. A worker has only the kubelet; a config with kube-proxy disabled has no kube-proxy. A component the
 * config runs but names no image for maps to `''` (Talos's built-in default: the planner refuses to guess it).
 */
export function componentImages(configYaml: string): Partial<Record<KubernetesComponent, string>> {
  const { v1alpha1, docs } = documents(configYaml);
  const controlPlane = valueAt(v1alpha1, 'machine.type') !== 'worker';
  const images: Partial<Record<KubernetesComponent, string>> = {};
  for (const [c, field] of Object.entries(FIELDS) as [KubernetesComponent, (typeof FIELDS)[KubernetesComponent]][]) {
    if (field.controlPlaneOnly && !controlPlane) continue;
    if (c === 'kube-proxy' && !proxyEnabled(v1alpha1, docs)) continue;
    const value = documentOf(docs, c)?.image ?? valueAt(v1alpha1, field.path);
    images[c] = typeof value === 'string' ? value : '';
  }
  return images;
}

/**
 * The config with one component's image replaced and nothing else changed: a single-field patch of the component's
 * document when the config has one (`{kind: KubeAPIServerConfig, image}`), else of its v1alpha1 field. Holds the
 * config's secrets: never log or return it from an activity.
 */
export function withComponentImage(configYaml: string, component: KubernetesComponent, image: string): string {
  const { docs } = documents(configYaml);
  const doc = documentOf(docs, component);
  const patch: ConfigDocument = doc ? { apiVersion: doc.apiVersion, kind: doc.kind, image } : nested(FIELDS[component].path.split('.'), image);
  return applyPatches(configYaml, [{ type: 'strategic', documents: [patch], source: `the ${component} image patch` }]);
}

function nested(path: string[], value: unknown): ConfigDocument {
  const [head, ...rest] = path;
  return { [head!]: rest.length ? nested(rest, value) : value };
}

/**
 * The components whose image `next` would take to an older Kubernetes version than `current` runs, one line each
 * (`kube-apiserver v1.34.1 → v1.33.6`): what a config rollout rendered from an inventory still on the old
 * `kubernetesVersion` would do after an `upgrade-k8s`. Images without a version tag are not compared.
 */
export function kubernetesDowngrades(current: string, next: string): string[] {
  const before = componentImages(current);
  const after = componentImages(next);
  const downgrades: string[] = [];
  for (const [component, image] of Object.entries(after) as [KubernetesComponent, string][]) {
    const from = imageTag(before[component] ?? '');
    const to = imageTag(image);
    const [a, b] = [parseSemVer(from ?? ''), parseSemVer(to ?? '')];
    if (a && b && compareSemVer(b, a) < 0) downgrades.push(`${component} ${from} → ${to}`);
  }
  return downgrades;
}
