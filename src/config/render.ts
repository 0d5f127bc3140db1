import type { CertificateAndKey } from './certs';
import type { ConfigDocument } from './patches';
import type { SecretsBundle } from './secrets';
import { hostOf } from '../address';

/** Everything the v1alpha1 documents are rendered from; defaults already applied. */
export interface RenderInput {
  clusterName: string;
  endpoint: string;
  secrets: SecretsBundle;
  kubernetesVersion: string;
  installDisk: string;
  installImage: string;
  additionalSans: string[];
  dnsDomain: string;
  clusterDiscovery: boolean;
}

const b64 = (pem: string): string => Buffer.from(pem, 'utf8').toString('base64');
const pair = (p: CertificateAndKey): Record<string, string> => ({ crt: b64(p.crt), key: b64(p.key) });
// Workers get the certificates without the CA keys; upstream leaves an empty key field behind.
const crtOnly = (p: CertificateAndKey): Record<string, string> => ({ crt: b64(p.crt), key: '' });

/** Upstream's defaults for the 1.9 and 1.10 contracts (they do not differ between the two). */
function machineFeatures(): Record<string, unknown> {
  return {
    rbac: true,
    stableHostname: true,
    apidCheckExtKeyUsage: true,
    diskQuotaSupport: true,
    kubePrism: { enabled: true, port: 7445 },
    hostDNS: { enabled: true, forwardKubeDNSToHost: true },
  };
}

function machineSection(input: RenderInput, type: 'controlplane' | 'worker'): Record<string, unknown> {
  return {
    type,
    token: input.secrets.trustdInfo.token,
    ca: type === 'controlplane' ? pair(input.secrets.certs.os) : crtOnly(input.secrets.certs.os),
    certSANs: [...input.additionalSans],
    kubelet: {
      image: `ghcr.io/siderolabs/kubelet:v${input.kubernetesVersion}`,
      defaultRuntimeSeccompProfileEnabled: true,
      disableManifestsDirectory: true,
    },
    network: {},
    install: { disk: input.installDisk || undefined, image: input.installImage || undefined, wipe: false },
    features: machineFeatures(),
  };
}

function clusterCommon(input: RenderInput): Record<string, unknown> {
  return {
    id: input.secrets.cluster.id,
    secret: input.secrets.cluster.secret,
    controlPlane: { endpoint: input.endpoint },
    clusterName: input.clusterName,
    network: { dnsDomain: input.dnsDomain, podSubnets: ['10.244.0.0/16'], serviceSubnets: ['10.96.0.0/12'] },
    token: input.secrets.secrets.bootstrapToken,
  };
}

function discovery(input: RenderInput): Record<string, unknown> {
  return { enabled: input.clusterDiscovery, registries: { kubernetes: { disabled: true }, service: {} } };
}

/** The API server's certificate SANs: the endpoint's host, then the extra SANs. */
function apiServerSans(input: RenderInput): string[] {
  const host = hostOf(input.endpoint.replace(/^https:\/\//i, '').split(/[/?#]/)[0]!);
  return [host, ...input.additionalSans];
}

/** The controlplane v1alpha1 document, field for field and in the order `talosctl gen config` writes it. */
export function renderControlPlane(input: RenderInput): ConfigDocument {
  const k8s = input.kubernetesVersion;
  const s = input.secrets;
  return {
    version: 'v1alpha1',
    debug: false,
    persist: true,
    machine: { ...machineSection(input, 'controlplane'), nodeLabels: { 'node.kubernetes.io/exclude-from-external-load-balancers': '' } },
    cluster: {
      ...clusterCommon(input),
      secretboxEncryptionSecret: s.secrets.secretboxEncryptionSecret,
      aescbcEncryptionSecret: s.secrets.secretboxEncryptionSecret ? undefined : s.secrets.aescbcEncryptionSecret,
      ca: pair(s.certs.k8s),
      aggregatorCA: pair(s.certs.k8sAggregator),
      serviceAccount: { key: b64(s.certs.k8sServiceAccount.key) },
      apiServer: {
        image: `registry.k8s.io/kube-apiserver:v${k8s}`,
        certSANs: apiServerSans(input),
        disablePodSecurityPolicy: true,
        admissionControl: [
          {
            name: 'PodSecurity',
            configuration: {
              apiVersion: 'pod-security.admission.config.k8s.io/v1alpha1',
              defaults: {
                audit: 'restricted',
                'audit-version': 'latest',
                enforce: 'baseline',
                'enforce-version': 'latest',
                warn: 'restricted',
                'warn-version': 'latest',
              },
              exemptions: { namespaces: ['kube-system'], runtimeClasses: [], usernames: [] },
              kind: 'PodSecurityConfiguration',
            },
          },
        ],
        auditPolicy: { apiVersion: 'audit.k8s.io/v1', kind: 'Policy', rules: [{ level: 'Metadata' }] },
      },
      controllerManager: { image: `registry.k8s.io/kube-controller-manager:v${k8s}` },
      proxy: { image: `registry.k8s.io/kube-proxy:v${k8s}` },
      scheduler: { image: `registry.k8s.io/kube-scheduler:v${k8s}` },
      discovery: discovery(input),
      etcd: { ca: pair(s.certs.etcd) },
    },
  };
}

/** The worker v1alpha1 document: certificates without CA keys, and no control-plane sections. */
export function renderWorker(input: RenderInput): ConfigDocument {
  return {
    version: 'v1alpha1',
    debug: false,
    persist: true,
    machine: machineSection(input, 'worker'),
    cluster: { ...clusterCommon(input), ca: crtOnly(input.secrets.certs.k8s), discovery: discovery(input) },
  };
}
