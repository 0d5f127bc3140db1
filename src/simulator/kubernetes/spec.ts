import { decodePair, type MachineConfig } from '../../config/machineconfig';
import { isMap } from '../../config/maps';
import { hostOf, portOf } from '../../address';
import { imageTag } from '../versions';

/** The three control-plane components Talos runs as static pods, by their pod names. */
export type ComponentName = 'kube-apiserver' | 'kube-controller-manager' | 'kube-scheduler';

export const COMPONENTS: readonly ComponentName[] = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler'];

/** What one component's static pod is rendered from: its image and the user's extra flags. */
export interface ComponentSpec {
  image: string;
  extraArgs: Record<string, string>;
}

/** A taint Talos puts on the Node it registers. */
export interface NodeTaint {
  key: string;
  value?: string;
  effect: string;
}

/** What a machine configuration says about Kubernetes, read as Talos's controllers read it. */
export interface KubernetesSpec {
  clusterName: string;
  /** `https://host:port` */
  endpoint: string;
  /** The endpoint's port: each control plane's kube-apiserver serves there on its own address. */
  apiServerPort: number;
  dnsDomain: string;
  podSubnets: string[];
  serviceSubnets: string[];
  /** `flannel` (Talos's default), `none` or `custom`. */
  cni: string;
  kubeletImage: string;
  /** The kubelet image's tag (`v1.33.6`): what the Node reports as its kubelet version. */
  kubeletVersion: string;
  proxyImage?: string;
  proxyDisabled: boolean;
  coreDnsImage?: string;
  coreDnsDisabled: boolean;
  /** Kubernetes CA as PEM; the key only on control planes. */
  ca: { crt: string; key?: string };
  /** Control planes only: the three static pods, the service-account key, encryption at rest, extra SANs. */
  controlPlane?: {
    components: Record<ComponentName, ComponentSpec>;
    /** The front-proxy (aggregation layer) CA, when the config has one with its key. */
    aggregatorCa?: { crt: string; key: string };
    /** PEM */
    serviceAccountKey: string;
    /** The `resources` of kube-apiserver's EncryptionConfiguration (Talos: secretbox for Secrets). */
    encryption?: unknown[];
    apiServerCertSans: string[];
  };
  /** Labels Talos puts on the Node besides the kubelet's own (the role label comes with `controlPlane`). */
  nodeLabels: Record<string, string>;
  nodeTaints: NodeTaint[];
  /** `machine.features.kubernetesTalosAPIAccess` */
  talosApiAccess: { enabled: boolean; allowedRoles: string[]; allowedKubernetesNamespaces: string[] };
}

const map = (v: unknown): Record<string, unknown> => (isMap(v) ? v : {});
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : []);
const stringMap = (v: unknown): Record<string, string> =>
  Object.fromEntries(Object.entries(map(v)).map(([k, value]) => [k, Array.isArray(value) ? value.join(',') : String(value)]));
const b64decode = (s: string): string => Buffer.from(s, 'base64').toString('utf8');

/** A Talos 1.14-contract document (`kind: KubeAPIServerConfig`, ...), or undefined when the config has none. */
function document(cfg: MachineConfig, kind: string): Record<string, unknown> | undefined {
  return cfg.documents.find((d) => d.kind === kind);
}

function component(cfg: MachineConfig, v1alpha1: unknown, kind: string, defaultImage: string): ComponentSpec {
  const doc = document(cfg, kind) ?? {};
  const section = map(v1alpha1);
  return { image: str(doc.image) ?? str(section.image) ?? defaultImage, extraArgs: stringMap(doc.extraArgs ?? section.extraArgs) };
}

/** `key: NoSchedule` or `key: value:NoSchedule`, as KubeNodeConfig and machine.nodeTaints write them. */
function taints(v: unknown): NodeTaint[] {
  return Object.entries(stringMap(v)).map(([key, spec]) => {
    const i = spec.lastIndexOf(':');
    return i < 0 ? { key, effect: spec } : { key, value: spec.slice(0, i), effect: spec.slice(i + 1) };
  });
}

/**
 * Reads the Kubernetes side of a machine configuration, in either layout: the v1alpha1 document's `cluster` and
 * `machine` sections, or (Talos 1.14 contract) the Kube*Config documents that replace them, which win where present.
 * The component images default to the kubelet's version.
 */
export function kubernetesSpec(cfg: MachineConfig): KubernetesSpec {
  const machine = map(cfg.raw.machine);
  const cluster = map(cfg.raw.cluster);
  // The 1.14 contract moved Kubernetes out of v1alpha1; these documents then say what v1alpha1 used to.
  const multidoc = document(cfg, 'KubeClusterConfig') !== undefined;
  const network = document(cfg, 'KubeNetworkConfig');
  const nodeDoc = document(cfg, 'KubeNodeConfig');
  const proxyDoc = document(cfg, 'KubeProxyConfig');
  const coreDnsDoc = document(cfg, 'KubeCoreDNSConfig');
  const saDoc = map(document(cfg, 'KubeServiceAccountConfig')?.issuer);
  const aggregatorDoc = map(document(cfg, 'KubeAggregatorCAConfig')?.issuingCA);
  const encryptionDoc = map(document(cfg, 'KubeEtcdEncryptionConfig')?.config);

  const kubeletImage = cfg.machine.kubelet.image ?? 'ghcr.io/siderolabs/kubelet:v1.33.6';
  const kubeletVersion = imageTag(kubeletImage) ?? 'v1.33.6';
  const endpoint = cfg.cluster.controlPlane.endpoint;
  const authority = endpoint.replace(/^https?:\/\//i, '').split('/')[0]!;
  const proxy = map(cluster.proxy);
  const coreDns = map(cluster.coreDNS);
  const access = map(map(machine.features).kubernetesTalosAPIAccess);
  const ca = cfg.cluster.ca ? decodePair(cfg.cluster.ca) : { crt: '' };
  const serviceAccountKey = str(saDoc.privateKey) ?? (str(map(cluster.serviceAccount).key) ? b64decode(str(map(cluster.serviceAccount).key)!) : undefined);
  const v1Aggregator = map(cluster.aggregatorCA);
  const aggregator = str(aggregatorDoc.cert)
    ? { crt: str(aggregatorDoc.cert)!, key: str(aggregatorDoc.key) }
    : str(v1Aggregator.crt)
      ? { crt: b64decode(str(v1Aggregator.crt)!), key: str(v1Aggregator.key) ? b64decode(str(v1Aggregator.key)!) : undefined }
      : undefined;
  const secretbox = str(cluster.secretboxEncryptionSecret);
  const encryption = Array.isArray(encryptionDoc.resources)
    ? (encryptionDoc.resources as unknown[])
    : secretbox
      ? [{ resources: ['secrets'], providers: [{ secretbox: { keys: [{ name: 'key2', secret: secretbox }] } }, { identity: {} }] }]
      : undefined;
  const controlPlaneKey = cfg.machine.type !== 'worker' && ca.key !== undefined ? serviceAccountKey : undefined;
  const isControlPlane = cfg.machine.type !== 'worker';
  const allowScheduling = cluster.allowSchedulingOnControlPlanes === true;
  return {
    clusterName: cfg.cluster.clusterName ?? 'talos',
    endpoint,
    apiServerPort: portOf(authority) ?? 6443,
    dnsDomain: str(network?.dnsDomain) ?? cfg.cluster.network.dnsDomain ?? 'cluster.local',
    podSubnets: strings(network?.podSubnets).length ? strings(network?.podSubnets) : cfg.cluster.network.podSubnets.length ? cfg.cluster.network.podSubnets : ['10.244.0.0/16'],
    serviceSubnets: strings(network?.serviceSubnets).length ? strings(network?.serviceSubnets) : cfg.cluster.network.serviceSubnets.length ? cfg.cluster.network.serviceSubnets : ['10.96.0.0/12'],
    cni: multidoc ? (document(cfg, 'KubeFlannelCNIConfig') ? 'flannel' : 'none') : (str(map(map(cluster.network).cni).name) ?? 'flannel'),
    kubeletImage,
    kubeletVersion,
    proxyImage: str(proxyDoc?.image) ?? str(proxy.image) ?? `registry.k8s.io/kube-proxy:${kubeletVersion}`,
    proxyDisabled: multidoc ? !proxyDoc : proxy.disabled === true,
    coreDnsImage: str(coreDnsDoc?.image) ?? str(coreDns.image) ?? 'registry.k8s.io/coredns/coredns:v1.12.1',
    coreDnsDisabled: multidoc ? coreDnsDoc?.enabled === false || !coreDnsDoc : coreDns.disabled === true,
    ca,
    ...(controlPlaneKey
      ? {
          controlPlane: {
            components: {
              'kube-apiserver': component(cfg, cluster.apiServer, 'KubeAPIServerConfig', `registry.k8s.io/kube-apiserver:${kubeletVersion}`),
              'kube-controller-manager': component(cfg, cluster.controllerManager, 'KubeControllerManagerConfig', `registry.k8s.io/kube-controller-manager:${kubeletVersion}`),
              'kube-scheduler': component(cfg, cluster.scheduler, 'KubeSchedulerConfig', `registry.k8s.io/kube-scheduler:${kubeletVersion}`),
            },
            ...(aggregator?.key ? { aggregatorCa: { crt: aggregator.crt, key: aggregator.key } } : {}),
            serviceAccountKey: controlPlaneKey,
            ...(encryption ? { encryption } : {}),
            apiServerCertSans: [hostOf(authority), ...cfg.cluster.apiServer.certSANs],
          },
        }
      : {}),
    nodeLabels: nodeDoc ? stringMap(nodeDoc.labels) : stringMap(machine.nodeLabels),
    nodeTaints: nodeDoc
      ? taints(nodeDoc.taints)
      : [...(isControlPlane && !allowScheduling ? [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }] : []), ...taints(machine.nodeTaints)],
    talosApiAccess: {
      enabled: access.enabled === true,
      allowedRoles: strings(access.allowedRoles),
      allowedKubernetesNamespaces: strings(access.allowedKubernetesNamespaces),
    },
  };
}
