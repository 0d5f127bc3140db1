import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseMachineConfig } from '../../src/config/machineconfig';
import { componentArgs, kubernetesTimings } from '../../src/simulator/kubernetes/args';
import { bootstrapManifests } from '../../src/simulator/kubernetes/manifests';
import { kubernetesSpec } from '../../src/simulator/kubernetes/spec';

const golden = (dir: string, file: string) => parseMachineConfig(readFileSync(join(__dirname, '..', 'golden', dir, file), 'utf8'), `${dir}/${file}`);
const secrets = { caCrt: 'ca.crt', caKey: 'ca.key', apiServerCrt: 'a.crt', apiServerKey: 'a.key', serviceAccountKey: 'sa.key', serviceAccountPub: 'sa.pub', controllerManagerKubeconfig: 'cm', schedulerKubeconfig: 'sch' };

describe('what a machine config says about Kubernetes', () => {
  it('reads a 1.10 control plane from its v1alpha1 document: images, network, PKI, encryption, the control-plane taint', () => {
    const spec = kubernetesSpec(golden('talosctl-v1.10', 'controlplane.yaml'));
    expect(spec.controlPlane!.components['kube-apiserver'].image).toBe('registry.k8s.io/kube-apiserver:v1.33.6');
    expect(spec.controlPlane!.components['kube-scheduler'].image).toBe('registry.k8s.io/kube-scheduler:v1.33.6');
    expect(spec.kubeletVersion).toBe('v1.33.6');
    expect([spec.endpoint, spec.apiServerPort, spec.cni, spec.podSubnets, spec.serviceSubnets]).toEqual(['https://10.5.0.10:6443', 6443, 'flannel', ['10.244.0.0/16'], ['10.96.0.0/12']]);
    expect(createPrivateKey(spec.controlPlane!.serviceAccountKey).asymmetricKeyType).toBe('rsa');
    expect(spec.controlPlane!.aggregatorCa?.key).toContain('PRIVATE KEY');
    expect(JSON.stringify(spec.controlPlane!.encryption)).toContain('secretbox');
    expect(spec.nodeTaints).toEqual([{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }]);
    expect(spec.nodeLabels).toEqual({ 'node.kubernetes.io/exclude-from-external-load-balancers': '' });
  });

  it('reads a 1.14 control plane from the Kube*Config documents that replaced those v1alpha1 fields', () => {
    const spec = kubernetesSpec(golden('machinery-v1.14', 'controlplane.yaml'));
    expect(spec.controlPlane!.components['kube-apiserver'].image).toBe('registry.k8s.io/kube-apiserver:v1.37.0');
    expect(spec.controlPlane!.components['kube-controller-manager'].image).toBe('registry.k8s.io/kube-controller-manager:v1.37.0');
    expect(spec.kubeletVersion).toBe('v1.37.0');
    expect([spec.endpoint, spec.clusterName, spec.cni, spec.proxyImage, spec.coreDnsDisabled]).toEqual(['https://10.5.0.10:6443', 'golden', 'flannel', 'registry.k8s.io/kube-proxy:v1.37.0', false]);
    expect(createPrivateKey(spec.controlPlane!.serviceAccountKey).asymmetricKeyType).toBe('rsa');
    expect(spec.controlPlane!.aggregatorCa?.crt).toContain('BEGIN CERTIFICATE');
    expect(JSON.stringify(spec.controlPlane!.encryption)).toContain('secretbox');
    expect(spec.nodeTaints).toEqual([{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }]);
    expect(spec.nodeLabels['node-role.kubernetes.io/control-plane']).toBe('');
  });

  it('gives a worker no static pods and no taint, in either layout', () => {
    for (const dir of ['talosctl-v1.10', 'machinery-v1.14']) {
      const spec = kubernetesSpec(golden(dir, 'worker.yaml'));
      expect(spec.controlPlane).toBeUndefined();
      expect(spec.ca.key).toBeUndefined();
      expect(spec.nodeTaints).toEqual([]);
    }
  });

  it('renders kube-apiserver\'s flags from the config, with the user\'s extraArgs, but refuses to let them rewire its PKI or etcd', () => {
    const cfg = golden('talosctl-v1.10', 'controlplane.yaml');
    const spec = kubernetesSpec(cfg);
    const node = { address: '127.0.0.11', etcdClientUrl: 'http://127.0.0.11:2379' };
    const args = componentArgs('kube-apiserver', spec, node, secrets, kubernetesTimings(1));
    expect(args).toEqual(expect.arrayContaining(['--etcd-servers=http://127.0.0.11:2379', '--bind-address=127.0.0.11', '--secure-port=6443', '--service-account-issuer=https://10.5.0.10:6443', '--anonymous-auth=false', '--authorization-mode=Node,RBAC']));
    spec.controlPlane!.components['kube-apiserver'].extraArgs = { 'etcd-servers': 'http://elsewhere:2379', 'feature-gates': 'X=true' };
    expect(() => componentArgs('kube-apiserver', spec, node, secrets, kubernetesTimings(1))).toThrow('kube-apiserver extraArgs may not set --etcd-servers: Talos manages them');
    spec.controlPlane!.components['kube-apiserver'].extraArgs = { 'feature-gates': 'X=true' };
    expect(componentArgs('kube-apiserver', spec, node, secrets, kubernetesTimings(1))).toContain('--feature-gates=X=true');
  });

  it('follows the time scale in leases and the node grace period, never below what the real processes need', () => {
    expect(kubernetesTimings(1)).toEqual({ leaderLeaseSeconds: 15, nodeMonitorGraceSeconds: 50, nodeLeaseSeconds: 40 });
    expect(kubernetesTimings(0.01)).toEqual({ leaderLeaseSeconds: 4, nodeMonitorGraceSeconds: 20, nodeLeaseSeconds: 6 });
  });

  it('applies flannel only with the default CNI, and the Talos API access CRD only with the feature on', () => {
    const cfg = golden('talosctl-v1.10', 'controlplane.yaml');
    const names = (spec: ReturnType<typeof kubernetesSpec>) => bootstrapManifests(spec, 'abcdef.0123456789abcdef').map((o) => `${o.kind}/${o.metadata.name}`);
    const spec = kubernetesSpec(cfg);
    expect(names(spec)).toEqual(expect.arrayContaining(['DaemonSet/kube-proxy', 'Deployment/coredns', 'Service/kube-dns', 'DaemonSet/kube-flannel', 'Secret/bootstrap-token-abcdef']));
    expect(names(spec)).not.toContain('CustomResourceDefinition/serviceaccounts.talos.dev');
    expect(names({ ...spec, cni: 'none', talosApiAccess: { enabled: true, allowedRoles: ['os:reader'], allowedKubernetesNamespaces: ['kube-system'] } })).toEqual(
      expect.arrayContaining(['CustomResourceDefinition/serviceaccounts.talos.dev']),
    );
    expect(names({ ...spec, cni: 'none' })).not.toContain('DaemonSet/kube-flannel');
  });
});
