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
  /** Control planes only: the three static pods, the service-account key, the secretbox secret, extra SANs. */
  controlPlane?: {
    components: Record<ComponentName, ComponentSpec>;
    /** The front-proxy (aggregation layer) CA, when the config has one with its key. */
    aggregatorCa?: { crt: string; key: string };
    serviceAccountKey: string;
    secretboxSecret?: string;
    apiServerCertSans: string[];
  };
  allowSchedulingOnControlPlanes: boolean;
  nodeLabels: Record<string, string>;
  /** `machine.features.kubernetesTalosAPIAccess` */
  talosApiAccess: { enabled: boolean; allowedRoles: string[]; allowedKubernetesNamespaces: string[] };
}

const map = (v: unknown): Record<string, unknown> => (isMap(v) ? v : {});
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : []);
const stringMap = (v: unknown): Record<string, string> =>
  Object.fromEntries(Object.entries(map(v)).map(([k, value]) => [k, Array.isArray(value) ? value.join(',') : String(value)]));

/** A Talos 1.14-contract document (`kind: KubeAPIServerConfig`, ...) when the config has one: it wins over v1alpha1. */
function document(cfg: MachineConfig, kind: string): Record<string, unknown> {
  return cfg.documents.find((d) => d.kind === kind) ?? {};
}

function component(cfg: MachineConfig, v1alpha1: unknown, kind: string, defaultImage: string): ComponentSpec {
  const doc = document(cfg, kind);
  const section = map(v1alpha1);
  return { image: str(doc.image) ?? str(section.image) ?? defaultImage, extraArgs: stringMap(doc.extraArgs ?? section.extraArgs) };
}

/** Reads the Kubernetes side of a machine configuration; the image defaults follow the kubelet's version. */
export function kubernetesSpec(cfg: MachineConfig): KubernetesSpec {
  const machine = map(cfg.raw.machine);
  const cluster = map(cfg.raw.cluster);
  const kubeletImage = str(document(cfg, 'KubeletConfig').image) ?? cfg.machine.kubelet.image ?? 'ghcr.io/siderolabs/kubelet:v1.33.6';
  const kubeletVersion = imageTag(kubeletImage) ?? 'v1.33.6';
  const endpoint = cfg.cluster.controlPlane.endpoint;
  const authority = endpoint.replace(/^https?:\/\//i, '').split('/')[0]!;
  const cni = map(map(cluster.network).cni);
  const proxy = map(cluster.proxy);
  const coreDns = map(cluster.coreDNS);
  const access = map(map(machine.features).kubernetesTalosAPIAccess);
  const ca = cfg.cluster.ca ? decodePair(cfg.cluster.ca) : { crt: '' };
  const serviceAccountKey = str(map(cluster.serviceAccount).key);
  const aggregatorPair = map(cluster.aggregatorCA);
  const aggregator = str(aggregatorPair.crt) ? decodePair({ crt: str(aggregatorPair.crt)!, ...(str(aggregatorPair.key) ? { key: str(aggregatorPair.key)! } : {}) }) : undefined;
  const controlPlaneKey = cfg.machine.type !== 'worker' && ca.key !== undefined ? serviceAccountKey : undefined;
  return {
    clusterName: cfg.cluster.clusterName ?? 'talos',
    endpoint,
    apiServerPort: portOf(authority) ?? 6443,
    dnsDomain: cfg.cluster.network.dnsDomain ?? 'cluster.local',
    podSubnets: cfg.cluster.network.podSubnets.length ? cfg.cluster.network.podSubnets : ['10.244.0.0/16'],
    serviceSubnets: cfg.cluster.network.serviceSubnets.length ? cfg.cluster.network.serviceSubnets : ['10.96.0.0/12'],
    cni: str(cni.name) ?? 'flannel',
    kubeletImage,
    kubeletVersion,
    proxyImage: str(document(cfg, 'KubeProxyConfig').image) ?? str(proxy.image) ?? `registry.k8s.io/kube-proxy:${kubeletVersion}`,
    proxyDisabled: proxy.disabled === true,
    coreDnsImage: str(coreDns.image) ?? 'registry.k8s.io/coredns/coredns:v1.12.1',
    coreDnsDisabled: coreDns.disabled === true,
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
            serviceAccountKey: Buffer.from(controlPlaneKey, 'base64').toString('utf8'),
            ...(str(cluster.secretboxEncryptionSecret) ? { secretboxSecret: str(cluster.secretboxEncryptionSecret)! } : {}),
            apiServerCertSans: [hostOf(authority), ...cfg.cluster.apiServer.certSANs],
          },
        }
      : {}),
    allowSchedulingOnControlPlanes: cluster.allowSchedulingOnControlPlanes === true,
    nodeLabels: stringMap(machine.nodeLabels),
    talosApiAccess: {
      enabled: access.enabled === true,
      allowedRoles: strings(access.allowedRoles),
      allowedKubernetesNamespaces: strings(access.allowedKubernetesNamespaces),
    },
  };
}
