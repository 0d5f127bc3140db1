import { describeKubernetesPlan, KubernetesUpgradeRefusal, planKubernetesUpgrade, retagImage, type KubernetesClusterState, type NodeKubernetesState } from '../../src/upgrade/kubernetes-plan';
import { parseSemVer } from '../../src/releases/versions';

const REPO = { 'kube-apiserver': 'registry.k8s.io/kube-apiserver', 'kube-controller-manager': 'registry.k8s.io/kube-controller-manager', 'kube-scheduler': 'registry.k8s.io/kube-scheduler', 'kube-proxy': 'registry.k8s.io/kube-proxy', kubelet: 'ghcr.io/siderolabs/kubelet' };

function controlPlane(name: string, k8s = '1.33.6', talos = 'v1.11.6'): NodeKubernetesState {
  const v = `v${k8s}`;
  return {
    name,
    role: 'controlplane',
    talosVersion: talos,
    configured: Object.fromEntries(Object.entries(REPO).map(([c, r]) => [c, `${r}:${v}`])),
    running: { 'kube-apiserver': v, 'kube-controller-manager': v, 'kube-scheduler': v, kubelet: v },
  };
}

function worker(name: string, k8s = '1.33.6', talos = 'v1.11.6'): NodeKubernetesState {
  return { name, role: 'worker', talosVersion: talos, configured: { kubelet: `${REPO.kubelet}:v${k8s}` }, running: { kubelet: `v${k8s}` } };
}

const cluster = (nodes: NodeKubernetesState[], proxy = 'registry.k8s.io/kube-proxy:v1.33.6'): KubernetesClusterState => ({ cluster: 'prod', nodes, proxyDaemonSetImage: proxy });

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof KubernetesUpgradeRefusal) return err.message;
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('the Kubernetes upgrade planner', () => {
  it('takes every API server first, then every controller manager, then every scheduler, control planes one at a time; then kube-proxy; then kubelets, control planes before workers', () => {
    const plan = planKubernetesUpgrade(cluster([controlPlane('cp-1'), controlPlane('cp-2'), worker('w-1')]), '1.34.1');
    expect(plan.steps.map((s) => `${s.component}@${s.node ?? 'daemonset'}`)).toEqual([
      'kube-apiserver@cp-1',
      'kube-apiserver@cp-2',
      'kube-controller-manager@cp-1',
      'kube-controller-manager@cp-2',
      'kube-scheduler@cp-1',
      'kube-scheduler@cp-2',
      'kube-proxy@cp-1',
      'kube-proxy@cp-2',
      'kube-proxy@daemonset',
      'kubelet@cp-1',
      'kubelet@cp-2',
      'kubelet@w-1',
    ]);
    expect(plan.steps[0]).toEqual({ component: 'kube-apiserver', node: 'cp-1', from: '1.33.6', image: 'registry.k8s.io/kube-apiserver:v1.34.1' });
    expect(plan.steps.at(-1)!.image).toBe('ghcr.io/siderolabs/kubelet:v1.34.1');
    expect({ from: plan.from, to: plan.to, upToDate: plan.upToDate }).toEqual({ from: '1.33.6', to: '1.34.1', upToDate: [] });
  });

  it('keeps the registry and repository of each current image and changes only its tag, a kubelet variant kept and a digest dropped', () => {
    const to = parseSemVer('1.34.1')!;
    expect(retagImage('mirror.example.com:5000/k8s/kube-apiserver:v1.33.6', to)).toBe('mirror.example.com:5000/k8s/kube-apiserver:v1.34.1');
    expect(retagImage('ghcr.io/siderolabs/kubelet:v1.33.6-fat', to)).toBe('ghcr.io/siderolabs/kubelet:v1.34.1-fat');
    expect(retagImage('registry.k8s.io/kube-proxy:v1.33.6@sha256:0123abcd', to)).toBe('registry.k8s.io/kube-proxy:v1.34.1');
  });

  it('leaves out what already runs the target: a half-done upgrade plans only the rest, and a finished one nothing', () => {
    const cp1 = controlPlane('cp-1', '1.34.1');
    const cp2 = controlPlane('cp-2');
    cp2.configured['kube-apiserver'] = 'registry.k8s.io/kube-apiserver:v1.34.1';
    cp2.running['kube-apiserver'] = 'v1.34.1';
    const half = planKubernetesUpgrade(cluster([cp1, cp2, worker('w-1', '1.34.1')], 'registry.k8s.io/kube-proxy:v1.34.1'), '1.34.1');
    expect(half.steps.map((s) => `${s.component}@${s.node ?? 'daemonset'}`)).toEqual(['kube-controller-manager@cp-2', 'kube-scheduler@cp-2', 'kube-proxy@cp-2', 'kubelet@cp-2']);
    expect(half.upToDate).toEqual(['cp-1', 'w-1']);

    const done = planKubernetesUpgrade(cluster([controlPlane('cp-1', '1.34.1'), worker('w-1', '1.34.1')], 'registry.k8s.io/kube-proxy:v1.34.1'), 'v1.34.1');
    expect(done.steps).toEqual([]);
    expect(describeKubernetesPlan(done)).toBe('every Kubernetes component of prod is on 1.34.1: nothing to do');
  });

  it('plans a step again when the config names the target but the component still runs the old version (a run that stopped mid-step)', () => {
    const cp = controlPlane('cp-1');
    cp.configured.kubelet = 'ghcr.io/siderolabs/kubelet:v1.34.1';
    const plan = planKubernetesUpgrade(cluster([cp]), '1.34.1');
    expect(plan.steps.find((s) => s.component === 'kubelet')).toEqual({ component: 'kubelet', node: 'cp-1', from: '1.33.6', image: 'ghcr.io/siderolabs/kubelet:v1.34.1' });
  });

  it('refuses a jump of two minors and names the minor to go through', () => {
    expect(refusal(() => planKubernetesUpgrade(cluster([controlPlane('cp-1'), worker('w-1')]), '1.35.0'))).toMatch(/1\.35\.0 is more than one minor above 1\.33\.6 .*upgrade to 1\.34 first/);
  });

  it('refuses a downgrade, naming the component that is newer', () => {
    const message = refusal(() => planKubernetesUpgrade(cluster([controlPlane('cp-1', '1.34.1'), worker('w-1', '1.34.1')], 'registry.k8s.io/kube-proxy:v1.34.1'), '1.33.6'));
    expect(message).toMatch(/kube-apiserver on cp-1 is on 1\.34\.1, newer than 1\.33\.6: a downgrade is refused/);
    expect(message).toMatch(/kubelet on w-1 is on 1\.34\.1/);
  });

  it('refuses a target that a node\'s Talos does not support, naming the node and its Talos version', () => {
    const message = refusal(() => planKubernetesUpgrade(cluster([controlPlane('cp-1'), worker('w-1', '1.33.6', 'v1.10.9')]), '1.34.1'));
    expect(message).toBe('Kubernetes upgrade of prod refused: w-1 runs Talos v1.10.9: version of Kubernetes 1.34.1 is too new to be used with Talos 1.10.9');
  });

  it('refuses an unparseable version and a config that names no image, saying which', () => {
    expect(refusal(() => planKubernetesUpgrade(cluster([controlPlane('cp-1')]), '1.34'))).toMatch(/"1\.34" is not a Kubernetes version such as 1\.34\.1/);
    expect(refusal(() => planKubernetesUpgrade(cluster([controlPlane('cp-1')]), 'latest'))).toMatch(/"latest" is not a Kubernetes version/);
    const cp = controlPlane('cp-1');
    cp.configured['kube-scheduler'] = '';
    expect(refusal(() => planKubernetesUpgrade(cluster([cp]), '1.34.1'))).toMatch(/the config of cp-1 names no kube-scheduler image/);
  });

  it('describes the plan step by step and says what it leaves out', () => {
    const text = describeKubernetesPlan(planKubernetesUpgrade(cluster([controlPlane('cp-1'), worker('w-1')]), '1.34.1'));
    expect(text).toMatch(/^upgrade Kubernetes of prod from 1\.33\.6 to 1\.34\.1 in 7 step\(s\)/);
    expect(text).toContain('  1. kube-apiserver on cp-1: 1.33.6 → registry.k8s.io/kube-apiserver:v1.34.1');
    expect(text).toContain('  5. the kube-proxy DaemonSet: 1.33.6 → registry.k8s.io/kube-proxy:v1.34.1');
    expect(text).toContain('first, every node pulls its new images');
    expect(text).toContain('not done: the sync of the other bootstrap manifests');
  });
});
