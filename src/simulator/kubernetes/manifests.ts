import type { KubeObject } from './api';
import { nthServiceIp } from './pki';
import type { KubernetesSpec } from './spec';

/**
 * The bootstrap manifests Talos applies once the API server is up (internal/app/machined/pkg/controllers/k8s, the
 * k8stemplates package): the kubelet bootstrap token and its RBAC, node RBAC, kube-proxy, CoreDNS, flannel unless the
 * CNI is none or custom, and the Talos API access CRD when that feature is on. Shortened to what the simulated cluster
 * runs (no volumes or probes: the simulated kubelets run no containers), with upstream's names and labels.
 */
export function bootstrapManifests(spec: KubernetesSpec, bootstrapToken: string | undefined): KubeObject[] {
  const out: KubeObject[] = [];
  const rbac = 'rbac.authorization.k8s.io/v1';
  const binding = (name: string, role: string, subject: { kind: string; name: string; namespace?: string }): KubeObject => ({
    apiVersion: rbac,
    kind: 'ClusterRoleBinding',
    metadata: { name },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
    subjects: [{ ...subject, ...(subject.kind === 'Group' ? { apiGroup: 'rbac.authorization.k8s.io' } : {}) }],
  });
  const serviceAccount = (name: string): KubeObject => ({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace: 'kube-system' } });

  const [tokenId, tokenSecret] = bootstrapToken?.split('.') ?? [];
  if (tokenId && tokenSecret) {
    out.push({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: `bootstrap-token-${tokenId}`, namespace: 'kube-system' },
      type: 'bootstrap.kubernetes.io/token',
      stringData: { 'token-id': tokenId, 'token-secret': tokenSecret, 'usage-bootstrap-authentication': 'true', 'auth-extra-groups': 'system:bootstrappers:nodes' },
    });
  }
  out.push(
    binding('system-bootstrap-node-bootstrapper', 'system:node-bootstrapper', { kind: 'Group', name: 'system:bootstrappers:nodes' }),
    binding('system-bootstrap-approve-node-client-csr', 'system:certificates.k8s.io:certificatesigningrequests:nodeclient', { kind: 'Group', name: 'system:bootstrappers:nodes' }),
    binding('system-bootstrap-node-renewal', 'system:certificates.k8s.io:certificatesigningrequests:selfnodeclient', { kind: 'Group', name: 'system:nodes' }),
    { apiVersion: rbac, kind: 'ClusterRole', metadata: { name: 'system:talos-nodes', labels: { 'kubernetes.io/bootstrapping': 'rbac-defaults' } }, rules: [{ apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['get', 'list', 'watch'] }] },
    binding('system:talos-nodes', 'system:talos-nodes', { kind: 'Group', name: 'system:nodes' }),
  );

  const everywhere = [{ effect: 'NoSchedule', operator: 'Exists' }, { effect: 'NoExecute', operator: 'Exists' }];
  if (!spec.proxyDisabled) {
    out.push(serviceAccount('kube-proxy'), binding('kube-proxy', 'system:node-proxier', { kind: 'ServiceAccount', name: 'kube-proxy', namespace: 'kube-system' }), {
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: { name: 'kube-proxy', namespace: 'kube-system', labels: { 'k8s-app': 'kube-proxy', tier: 'node' } },
      spec: {
        selector: { matchLabels: { 'k8s-app': 'kube-proxy', tier: 'node' } },
        updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } },
        template: {
          metadata: { labels: { 'k8s-app': 'kube-proxy', tier: 'node' } },
          spec: {
            containers: [{ name: 'kube-proxy', image: spec.proxyImage, command: ['/usr/local/bin/kube-proxy', `--cluster-cidr=${spec.podSubnets.join(',')}`, '--proxy-mode=iptables'] }],
            hostNetwork: true,
            priorityClassName: 'system-cluster-critical',
            serviceAccountName: 'kube-proxy',
            tolerations: everywhere,
          },
        },
      },
    });
  }

  if (!spec.coreDnsDisabled) {
    const dnsIp = nthServiceIp(spec.serviceSubnets[0] ?? '10.96.0.0/12', 10);
    out.push(
      serviceAccount('coredns'),
      { apiVersion: rbac, kind: 'ClusterRole', metadata: { name: 'system:coredns' }, rules: [{ apiGroups: [''], resources: ['endpoints', 'services', 'pods', 'namespaces'], verbs: ['list', 'watch'] }, { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch'] }] },
      binding('system:coredns', 'system:coredns', { kind: 'ServiceAccount', name: 'coredns', namespace: 'kube-system' }),
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'coredns', namespace: 'kube-system' },
        data: { Corefile: `.:53 {\n    errors\n    health\n    ready\n    kubernetes ${spec.dnsDomain} in-addr.arpa ip6.arpa {\n        pods insecure\n        fallthrough in-addr.arpa ip6.arpa\n    }\n    forward . /etc/resolv.conf\n    cache 30\n    loop\n    reload\n    loadbalance\n}\n` },
      },
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'coredns', namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns', 'kubernetes.io/name': 'CoreDNS' } },
        spec: {
          replicas: 2,
          selector: { matchLabels: { 'k8s-app': 'kube-dns' } },
          strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } },
          template: {
            metadata: { labels: { 'k8s-app': 'kube-dns' } },
            spec: {
              affinity: { podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: { labelSelector: { matchExpressions: [{ key: 'k8s-app', operator: 'In', values: ['kube-dns'] }] }, topologyKey: 'kubernetes.io/hostname' } }] } },
              containers: [{ name: 'coredns', image: spec.coreDnsImage, args: ['-conf', '/etc/coredns/Corefile'], ports: [{ name: 'dns', containerPort: 53, protocol: 'UDP' }, { name: 'dns-tcp', containerPort: 53, protocol: 'TCP' }] }],
              dnsPolicy: 'Default',
              nodeSelector: { 'kubernetes.io/os': 'linux' },
              priorityClassName: 'system-cluster-critical',
              serviceAccountName: 'coredns',
              tolerations: [{ key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' }],
            },
          },
        },
      },
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'kube-dns', namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns', 'kubernetes.io/cluster-service': 'true', 'kubernetes.io/name': 'CoreDNS' } },
        spec: {
          selector: { 'k8s-app': 'kube-dns' },
          ...(dnsIp ? { clusterIP: dnsIp } : {}),
          ports: [{ name: 'dns', port: 53, protocol: 'UDP', targetPort: 53 }, { name: 'dns-tcp', port: 53, protocol: 'TCP', targetPort: 53 }],
        },
      },
    );
  }

  if (spec.cni === 'flannel') {
    const labels = { 'k8s-app': 'flannel', tier: 'node' };
    const image = `ghcr.io/siderolabs/flannel:v0.26.7`;
    out.push(
      serviceAccount('flannel'),
      { apiVersion: rbac, kind: 'ClusterRole', metadata: { name: 'flannel' }, rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get'] }, { apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list', 'watch'] }, { apiGroups: [''], resources: ['nodes/status'], verbs: ['patch'] }] },
      binding('flannel', 'flannel', { kind: 'ServiceAccount', name: 'flannel', namespace: 'kube-system' }),
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'kube-flannel-cfg', namespace: 'kube-system', labels },
        data: { 'net-conf.json': JSON.stringify({ Network: spec.podSubnets[0], Backend: { Type: 'vxlan', Port: 4789 } }) },
      },
      {
        apiVersion: 'apps/v1',
        kind: 'DaemonSet',
        metadata: { name: 'kube-flannel', namespace: 'kube-system', labels },
        spec: {
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: {
              initContainers: [{ name: 'install-config', image, command: ['cp'], args: ['-f', '/etc/kube-flannel/cni-conf.json', '/etc/cni/net.d/10-flannel.conflist'] }],
              containers: [{ name: 'kube-flannel', image, command: ['/opt/bin/flanneld'], args: ['--ip-masq', '--kube-subnet-mgr'] }],
              hostNetwork: true,
              priorityClassName: 'system-node-critical',
              serviceAccountName: 'flannel',
              tolerations: everywhere,
            },
          },
        },
      },
    );
  }

  if (spec.talosApiAccess.enabled) {
    out.push({
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: 'serviceaccounts.talos.dev' },
      spec: {
        group: 'talos.dev',
        names: { kind: 'ServiceAccount', listKind: 'ServiceAccountList', plural: 'serviceaccounts', singular: 'serviceaccount', shortNames: ['tsa'] },
        scope: 'Namespaced',
        versions: [
          {
            name: 'v1alpha1',
            served: true,
            storage: true,
            schema: { openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', properties: { roles: { type: 'array', items: { type: 'string' } } } }, status: { type: 'object', properties: { failureReason: { type: 'string' } } } } } },
          },
        ],
      },
    });
  }
  return out;
}

/** The REST collection an object is created in: `/api/v1/namespaces/kube-system/secrets`, `/apis/apps/v1/...`. */
export function collectionPath(o: KubeObject): string {
  const group = o.apiVersion === 'v1' ? '/api/v1' : `/apis/${o.apiVersion}`;
  const plural = `${o.kind!.toLowerCase()}s`;
  return o.metadata.namespace ? `${group}/namespaces/${o.metadata.namespace}/${plural}` : `${group}/${plural}`;
}
