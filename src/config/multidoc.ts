import type { Problem } from '../errors';
import type { ConfigDocument } from './patches';
import { isMap } from './maps';

/**
 * The documents that took over v1alpha1 fields (Talos 1.12 HostnameConfig; 1.14's Kube*, Discovery*, UnattendedInstall
 * and the rest: talos-lines.md §3.2), and the conflict rule between the two: a field set in v1alpha1 while its
 * document exists is refused, as upstream's V1Alpha1ConflictValidate does.
 */

/** A v1alpha1 field and the document that replaces it. */
export interface MovedField {
  /** Dotted v1alpha1 path: `cluster.apiServer`. */
  path: string;
  kind: string;
  /** Upstream's refusal when both are set. */
  conflict: string;
}

/**
 * Fields whose document, when present, must be the only place they are set. The hostname and kube-apiserver messages
 * are upstream's (V1Alpha1ConflictValidate of HostnameConfig in 1.12, KubeAPIServerConfig in 1.14); the others
 * follow their pattern.
 */
export const MOVED_FIELDS: readonly MovedField[] = [
  { path: 'machine.network.hostname', kind: 'HostnameConfig', conflict: 'static hostname is already set in v1alpha1 config' },
  { path: 'machine.install', kind: 'UnattendedInstallConfig', conflict: 'install config is already set in v1alpha1 config (.machine.install)' },
  { path: 'machine.kubelet', kind: 'KubeletConfig', conflict: 'kubelet config is already set in v1alpha1 config (.machine.kubelet)' },
  { path: 'cluster.apiServer', kind: 'KubeAPIServerConfig', conflict: 'kube-apiserver config is already set in v1alpha1 config (.cluster.apiServer)' },
  { path: 'cluster.controllerManager', kind: 'KubeControllerManagerConfig', conflict: 'kube-controller-manager config is already set in v1alpha1 config (.cluster.controllerManager)' },
  { path: 'cluster.scheduler', kind: 'KubeSchedulerConfig', conflict: 'kube-scheduler config is already set in v1alpha1 config (.cluster.scheduler)' },
  { path: 'cluster.proxy', kind: 'KubeProxyConfig', conflict: 'kube-proxy config is already set in v1alpha1 config (.cluster.proxy)' },
  { path: 'cluster.controlPlane', kind: 'KubeClusterConfig', conflict: 'cluster endpoint is already set in v1alpha1 config (.cluster.controlPlane)' },
  { path: 'cluster.clusterName', kind: 'KubeClusterConfig', conflict: 'cluster name is already set in v1alpha1 config (.cluster.clusterName)' },
  { path: 'cluster.network', kind: 'KubeNetworkConfig', conflict: 'cluster network is already set in v1alpha1 config (.cluster.network)' },
  { path: 'cluster.id', kind: 'DiscoveryIdentityConfig', conflict: 'cluster identity is already set in v1alpha1 config (.cluster.id)' },
  { path: 'cluster.discovery', kind: 'DiscoveryServiceConfig', conflict: 'discovery is already configured in v1alpha1 config (.cluster.discovery)' },
  { path: 'cluster.ca', kind: 'KubeAPIServerCAConfig', conflict: 'Kubernetes CA is already set in v1alpha1 config (.cluster.ca)' },
];

/** The value at a dotted path of a document, if any. */
export function valueAt(doc: ConfigDocument, path: string): unknown {
  let v: unknown = doc;
  for (const key of path.split('.')) v = isMap(v) ? v[key] : undefined;
  return v;
}

/** The v1alpha1 document of a config (the one without `kind` and `apiVersion`), or an empty one. */
export function v1alpha1Document(docs: ConfigDocument[]): ConfigDocument {
  return docs.find((d) => !d.kind && !d.apiVersion) ?? {};
}

/** The first document of a kind. */
export function documentOfKind(docs: ConfigDocument[], kind: string): ConfigDocument | undefined {
  return docs.find((d) => d.kind === kind);
}

/** Conflicts between the v1alpha1 document and the documents that replaced its fields, each at the v1alpha1 path. */
export function conflictProblems(v1alpha1: ConfigDocument, docs: ConfigDocument[]): Problem[] {
  const present = new Set(docs.map((d) => d.kind).filter((k): k is string => typeof k === 'string'));
  const problems: Problem[] = [];
  for (const f of MOVED_FIELDS) {
    const v = valueAt(v1alpha1, f.path);
    if (v === undefined || v === null || (isMap(v) && Object.keys(v).length === 0)) continue;
    if (present.has(f.kind)) problems.push({ path: f.path, message: `${f.conflict}; the ${f.kind} document sets it in this configuration` });
  }
  return problems;
}

const b64 = (pem: string): string => Buffer.from(pem, 'utf8').toString('base64');

/** What the 1.14 documents say about the fields the typed view reads (PEM fields re-encoded as v1alpha1's base64). */
export function multidocFields(docs: ConfigDocument[]) {
  const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
  const cluster = documentOfKind(docs, 'KubeClusterConfig');
  const identity = documentOfKind(docs, 'DiscoveryIdentityConfig');
  const install = documentOfKind(docs, 'UnattendedInstallConfig');
  const ca = documentOfKind(docs, 'KubeAPIServerCAConfig');
  const issuing = isMap(ca?.issuingCA) ? ca.issuingCA : undefined;
  const accepted = Array.isArray(ca?.acceptedCAs) ? (ca.acceptedCAs as unknown[]) : [];
  const caCert = str(issuing?.cert) ?? str(accepted[0]);
  return {
    endpoint: str(cluster?.endpoint),
    clusterName: str(cluster?.clusterName),
    clusterId: str(identity?.clusterID),
    clusterSecret: str(identity?.clusterSecret),
    unattendedInstall: install !== undefined,
    installImage: isMap(install?.installer) ? str(install.installer.image) : undefined,
    kubeletImage: str(documentOfKind(docs, 'KubeletConfig')?.image),
    apiServerImage: str(documentOfKind(docs, 'KubeAPIServerConfig')?.image),
    hostname: str(documentOfKind(docs, 'HostnameConfig')?.hostname),
    kubernetesCa: caCert ? { crt: b64(caCert), ...(str(issuing?.key) ? { key: b64(str(issuing?.key)!) } : {}) } : undefined,
  };
}

/**
 * For `gen config`: a patch that set a v1alpha1 field the chosen contract moved to its own document. Says where the
 * field lives now, so the user can patch that document instead.
 */
export function movedFieldProblems(docs: ConfigDocument[], contract: string): Problem[] {
  const v1alpha1 = docs.find((d) => d.version === 'v1alpha1');
  if (!v1alpha1) return [];
  return conflictProblems(v1alpha1, docs).map((p) => {
    const kind = MOVED_FIELDS.find((f) => f.path === p.path)!.kind;
    return { path: p.path, message: `the ${contract} contract moved this field to the ${kind} document: patch that document instead (apiVersion: v1alpha1, kind: ${kind})` };
  });
}
