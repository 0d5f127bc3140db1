import type { ControlPlaneSecrets } from './pki';
import type { ComponentName, KubernetesSpec } from './spec';

/** Flags the user may not override through `extraArgs`, as Talos refuses them: they wire the component to its PKI and etcd. */
const DENIED: Record<ComponentName, string[]> = {
  'kube-apiserver': ['etcd-servers', 'client-ca-file', 'tls-cert-file', 'tls-private-key-file', 'service-account-key-file', 'service-account-signing-key-file', 'encryption-provider-config'],
  'kube-controller-manager': ['kubeconfig', 'service-account-private-key-file', 'root-ca-file'],
  'kube-scheduler': ['kubeconfig'],
};

/** Where a node runs its control plane: its loopback address and its etcd member. */
export interface ControlPlaneNode {
  address: string;
  etcdClientUrl: string;
}

/**
 * Leader election and node-lifecycle timings. Upstream's defaults (15 s leases; a Node is NotReady 50 s after its
 * last heartbeat) are real seconds that the simulator's time scale does not shorten by itself, so they follow it,
 * with floors that keep the real processes stable on a loaded machine.
 */
export interface KubernetesTimings {
  leaderLeaseSeconds: number;
  /** How long after its last lease renewal a Node turns NotReady (`--node-monitor-grace-period`). */
  nodeMonitorGraceSeconds: number;
  /** The lease duration the simulated kubelets write (they renew every quarter of it). */
  nodeLeaseSeconds: number;
}

/** The timings for a time scale: 1 gives upstream's defaults. */
export function kubernetesTimings(timeScale: number): KubernetesTimings {
  const scaled = (seconds: number, floor: number) => Math.max(floor, Math.round(seconds * timeScale));
  return { leaderLeaseSeconds: scaled(15, 4), nodeMonitorGraceSeconds: scaled(50, 20), nodeLeaseSeconds: scaled(40, 6) };
}

function merge(name: ComponentName, ours: Record<string, string>, extra: Record<string, string>): string[] {
  const denied = Object.keys(extra).filter((k) => DENIED[name].includes(k));
  if (denied.length) throw new Error(`${name} extraArgs may not set ${denied.map((k) => `--${k}`).join(', ')}: Talos manages them`);
  return Object.entries({ ...ours, ...extra }).map(([k, v]) => `--${k}=${v}`);
}

function leaderElection(t: KubernetesTimings): Record<string, string> {
  return {
    'leader-elect': 'true',
    'leader-elect-lease-duration': `${t.leaderLeaseSeconds}s`,
    'leader-elect-renew-deadline': `${Math.max(2, t.leaderLeaseSeconds - 2)}s`,
    'leader-elect-retry-period': `${Math.max(1, Math.floor(t.leaderLeaseSeconds / 4))}s`,
  };
}

/**
 * The command-line flags of one component, as Talos's static-pod controller renders them from the machine config
 * (internal/app/machined/pkg/controllers/k8s), with the simulator's differences: etcd over plain HTTP on the node's
 * own member, every port on the node's own loopback address, no endpoints for the `kubernetes` Service, no audit log.
 */
export function componentArgs(name: ComponentName, spec: KubernetesSpec, node: ControlPlaneNode, secrets: ControlPlaneSecrets, timings: KubernetesTimings): string[] {
  const extra = spec.controlPlane?.components[name].extraArgs ?? {};
  switch (name) {
    case 'kube-apiserver':
      return merge(name, {
        'advertise-address': node.address,
        'allow-privileged': 'true',
        // Talos turns anonymous requests off: even /version needs a client certificate.
        'anonymous-auth': 'false',
        'api-audiences': spec.endpoint,
        'authorization-mode': 'Node,RBAC',
        'bind-address': node.address,
        'client-ca-file': secrets.caCrt,
        'enable-admission-plugins': 'NodeRestriction',
        'enable-bootstrap-token-auth': 'true',
        // The `kubernetes` Service's endpoints may not be loopback addresses, and every simulated node has one.
        'endpoint-reconciler-type': 'none',
        ...(secrets.encryptionConfig ? { 'encryption-provider-config': secrets.encryptionConfig } : {}),
        'etcd-servers': node.etcdClientUrl,
        ...(secrets.aggregator
          ? {
              'proxy-client-cert-file': secrets.aggregator.clientCrt,
              'proxy-client-key-file': secrets.aggregator.clientKey,
              'requestheader-allowed-names': 'front-proxy-client',
              'requestheader-client-ca-file': secrets.aggregator.caCrt,
              'requestheader-extra-headers-prefix': 'X-Remote-Extra-',
              'requestheader-group-headers': 'X-Remote-Group',
              'requestheader-username-headers': 'X-Remote-User',
            }
          : {}),
        'profiling': 'false',
        'secure-port': String(spec.apiServerPort),
        'service-account-issuer': spec.endpoint,
        'service-account-key-file': secrets.serviceAccountPub,
        'service-account-signing-key-file': secrets.serviceAccountKey,
        'service-cluster-ip-range': spec.serviceSubnets.join(','),
        'tls-cert-file': secrets.apiServerCrt,
        'tls-private-key-file': secrets.apiServerKey,
        'kubelet-preferred-address-types': 'InternalIP,ExternalIP,Hostname',
      }, extra);
    case 'kube-controller-manager':
      return merge(name, {
        'allocate-node-cidrs': 'true',
        'authentication-kubeconfig': secrets.controllerManagerKubeconfig,
        'authorization-kubeconfig': secrets.controllerManagerKubeconfig,
        'bind-address': node.address,
        'cluster-cidr': spec.podSubnets.join(','),
        'cluster-signing-cert-file': secrets.caCrt,
        'cluster-signing-key-file': secrets.caKey,
        'configure-cloud-routes': 'false',
        'controllers': '*,tokencleaner',
        'kubeconfig': secrets.controllerManagerKubeconfig,
        ...leaderElection(timings),
        'node-monitor-grace-period': `${timings.nodeMonitorGraceSeconds}s`,
        'node-monitor-period': '1s',
        'profiling': 'false',
        'root-ca-file': secrets.caCrt,
        'service-account-private-key-file': secrets.serviceAccountKey,
        'service-cluster-ip-range': spec.serviceSubnets.join(','),
        'use-service-account-credentials': 'true',
      }, extra);
    case 'kube-scheduler':
      return merge(name, {
        'authentication-kubeconfig': secrets.schedulerKubeconfig,
        'authorization-kubeconfig': secrets.schedulerKubeconfig,
        'bind-address': node.address,
        'kubeconfig': secrets.schedulerKubeconfig,
        ...leaderElection(timings),
        'profiling': 'false',
      }, extra);
  }
}
