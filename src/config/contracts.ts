import type { VersionProfile } from '../releases/profiles';
import type { CertificateAndKey } from './certs';
import type { ConfigDocument } from './patches';
import { renderControlPlane, renderWorker, type RenderInput } from './render';

/**
 * The documents `talosctl gen config` writes for each version contract (talos-lines.md §3.2): one v1alpha1 document up
 * to 1.11; 1.12/1.13 without the features locked on (rbac, stable hostname, ext key usage) and with a HostnameConfig
 * (1.13 also without the empty `machine.network`);
 * 1.14 with most of v1alpha1 moved to its own documents (v1alpha1 and 28 more for a control plane, 14 more for a worker). Checked against
 * upstream's generator by the golden files in test/golden/.
 */

type Role = 'controlplane' | 'worker';

const doc = (kind: string, body: Record<string, unknown>): ConfigDocument => ({ apiVersion: 'v1alpha1', kind, ...body });
const b64 = (pem: string): string => Buffer.from(pem, 'utf8').toString('base64');

/**
 * The 1.12/1.13 shape: the 1.11 v1alpha1 document without what is now locked on, plus HostnameConfig; 1.13 no longer
 * writes the empty `machine.network` (checked against talosctl 1.13.0).
 */
function hostnameContract(input: RenderInput, role: Role, emptyNetwork: boolean): ConfigDocument[] {
  const v1 = role === 'controlplane' ? renderControlPlane(input) : renderWorker(input);
  const machine = v1.machine as Record<string, Record<string, unknown>>;
  if (!emptyNetwork) delete machine.network;
  const { rbac: _rbac, stableHostname: _stable, apidCheckExtKeyUsage: _eku, ...features } = machine.features!;
  machine.features = features;
  machine.install = { ...machine.install, grubUseUKICmdline: true };
  const cluster = v1.cluster as Record<string, Record<string, unknown>>;
  if (cluster.apiServer) {
    // The endpoint's host is no longer copied into the API server's SANs, and PodSecurityPolicy is gone.
    const { disablePodSecurityPolicy: _psp, certSANs: _sans, ...apiServer } = cluster.apiServer;
    cluster.apiServer = { image: apiServer.image, ...(input.additionalSans.length ? { certSANs: [...input.additionalSans] } : {}), ...apiServer };
  }
  return [v1, doc('HostnameConfig', { auto: 'stable' })];
}

function caDoc(kind: string, field: string, ca: CertificateAndKey): ConfigDocument {
  return doc(kind, { [field]: { cert: ca.crt, key: ca.key } });
}

/** The 1.14 multi-document layout, document for document in upstream's order. */
function multidocContract(input: RenderInput, role: Role): ConfigDocument[] {
  const s = input.secrets;
  const k8s = input.kubernetesVersion;
  const controlPlane = role === 'controlplane';
  const v1alpha1: ConfigDocument = {
    version: 'v1alpha1',
    debug: false,
    persist: true,
    machine: {
      type: role,
      token: s.trustdInfo.token,
      ca: controlPlane ? { crt: b64(s.certs.os.crt), key: b64(s.certs.os.key) } : { crt: b64(s.certs.os.crt), key: '' },
      certSANs: [...input.additionalSans],
      features: { diskQuotaSupport: true },
    },
    cluster: controlPlane ? { token: s.secrets.bootstrapToken, etcd: { ca: { crt: b64(s.certs.etcd.crt), key: b64(s.certs.etcd.key) } } } : { token: s.secrets.bootstrapToken },
  };
  const docs: ConfigDocument[] = [v1alpha1];
  if (input.clusterDiscovery) docs.push(doc('DiscoveryServiceConfig', { name: 'default', endpoint: 'https://discovery.talos.dev/' }));
  docs.push(doc('DiscoveryIdentityConfig', { clusterID: s.cluster.id, clusterSecret: s.cluster.secret }));
  if (input.installDisk) {
    docs.push(
      doc('UnattendedInstallConfig', {
        installer: { image: input.installImage },
        provisioning: { diskSelector: { match: `disk.dev_path == ${JSON.stringify(input.installDisk)}` }, wipe: false },
      }),
    );
  }
  docs.push(
    doc('ResolverConfig', { hostDNS: { enabled: true, forwardKubeDNSToHost: true } }),
    doc('VolumeConfig', { name: 'EPHEMERAL', mount: { secure: true } }),
    doc('FilesystemTrimConfig', { interval: '168h0m0s' }),
    doc('SecurityProfileConfig', { workloadIsolation: true }),
    doc('HostnameConfig', { auto: 'stable' }),
    doc('KubeClusterConfig', { clusterName: input.clusterName, endpoint: input.endpoint }),
    doc('KubeNodeConfig', {
      nodeIP: {},
      ...(controlPlane
        ? {
            labels: { 'node-role.kubernetes.io/control-plane': '', 'node.kubernetes.io/exclude-from-external-load-balancers': '' },
            taints: { 'node-role.kubernetes.io/control-plane': 'NoSchedule' },
          }
        : {}),
    }),
    doc('KubeletConfig', { image: `ghcr.io/siderolabs/kubelet:v${k8s}`, config: {}, defaultRuntimeSeccompProfileEnabled: true }),
    doc('KubeNetworkConfig', { dnsDomain: input.dnsDomain, podSubnets: ['10.244.0.0/16'], serviceSubnets: ['10.96.0.0/12'] }),
    controlPlane ? caDoc('KubeAPIServerCAConfig', 'issuingCA', s.certs.k8s) : doc('KubeAPIServerCAConfig', { acceptedCAs: [s.certs.k8s.crt] }),
    doc('KubePrismConfig', { port: 7445 }),
  );
  if (!controlPlane) return docs;
  const encryptionKeys = [
    ...(s.secrets.secretboxEncryptionSecret ? [{ secretbox: { keys: [{ name: 'key2', secret: s.secrets.secretboxEncryptionSecret }] } }] : []),
    ...(s.secrets.aescbcEncryptionSecret ? [{ secretbox: { keys: [{ name: 'key1', secret: s.secrets.aescbcEncryptionSecret }] } }] : []),
  ];
  docs.push(
    caDoc('KubeAggregatorCAConfig', 'issuingCA', s.certs.k8sAggregator),
    doc('KubeAdmissionControlConfig', {
      name: 'PodSecurity',
      configuration: {
        apiVersion: 'pod-security.admission.config.k8s.io/v1alpha1',
        defaults: { audit: 'restricted', 'audit-version': 'latest', enforce: 'baseline', 'enforce-version': 'latest', warn: 'restricted', 'warn-version': 'latest' },
        exemptions: { namespaces: ['kube-system'], runtimeClasses: [], usernames: [] },
        kind: 'PodSecurityConfiguration',
      },
    }),
    doc('KubeAuditPolicyConfig', { configuration: { apiVersion: 'audit.k8s.io/v1', kind: 'Policy', rules: [{ level: 'Metadata' }] } }),
    doc('KubeAuthenticationConfig', { configuration: { anonymous: { conditions: [{ path: '/livez' }, { path: '/readyz' }, { path: '/healthz' }], enabled: true }, jwt: [] } }),
    doc('KubeAuthorizerConfig', { name: 'node', type: 'Node' }),
    doc('KubeAuthorizerConfig', { name: 'rbac', type: 'RBAC' }),
    doc('KubeEtcdEncryptionConfig', { config: { resources: [{ providers: encryptionKeys, resources: ['secrets'] }] } }),
    doc('KubeServiceAccountConfig', { issuer: { privateKey: s.certs.k8sServiceAccount.key, issuerURL: input.endpoint } }),
    doc('KubeAPIServerConfig', { image: `registry.k8s.io/kube-apiserver:v${k8s}`, ...(input.additionalSans.length ? { certExtraSANs: [...input.additionalSans] } : {}) }),
    doc('KubeControllerManagerConfig', { image: `registry.k8s.io/kube-controller-manager:v${k8s}` }),
    doc('KubeSchedulerConfig', { image: `registry.k8s.io/kube-scheduler:v${k8s}`, config: {} }),
    doc('KubeProxyConfig', { image: `registry.k8s.io/kube-proxy:v${k8s}`, config: {} }),
    doc('KubeFlannelCNIConfig', { backendType: 'vxlan', backendPort: 4789 }),
    doc('KubeCoreDNSConfig', { enabled: true }),
  );
  return docs;
}

/** The documents of one role's config for a version contract, before patches. */
export function renderContract(profile: VersionProfile, input: RenderInput, role: Role): ConfigDocument[] {
  switch (profile.configContract) {
    case 'single-v1alpha1':
      return [role === 'controlplane' ? renderControlPlane(input) : renderWorker(input)];
    case 'v1alpha1-hostname':
      return hostnameContract(input, role, true);
    case 'v1alpha1-hostname-no-network':
      return hostnameContract(input, role, false);
    case 'multidoc-1.14':
      return multidocContract(input, role);
  }
}
