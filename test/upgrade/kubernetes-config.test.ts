import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfigDocuments } from '../../src/config/patches';
import { componentImages, kubernetesDowngrades, withComponentImage } from '../../src/upgrade/kubernetes-config';

const golden = (dir: string, file: string) => readFileSync(join(__dirname, '..', 'golden', dir, file), 'utf8');

/** Everything but the given paths, to show a patch changed nothing else. */
const without = (yaml: string, kind: string | undefined, drop: (doc: Record<string, unknown>) => void) =>
  parseConfigDocuments(yaml, 'test').map((d) => {
    const copy = structuredClone(d);
    if ((d.kind as string | undefined) === kind) drop(copy);
    return copy;
  });

describe('component images in a machine config', () => {
  it('reads a v1alpha1 control plane\'s five images and a worker\'s kubelet only', () => {
    expect(componentImages(golden('talosctl-v1.10', 'controlplane.yaml'))).toEqual({
      'kube-apiserver': 'registry.k8s.io/kube-apiserver:v1.33.6',
      'kube-controller-manager': 'registry.k8s.io/kube-controller-manager:v1.33.6',
      'kube-scheduler': 'registry.k8s.io/kube-scheduler:v1.33.6',
      'kube-proxy': 'registry.k8s.io/kube-proxy:v1.33.6',
      kubelet: 'ghcr.io/siderolabs/kubelet:v1.33.6',
    });
    expect(componentImages(golden('talosctl-v1.10', 'worker.yaml'))).toEqual({ kubelet: 'ghcr.io/siderolabs/kubelet:v1.33.6' });
  });

  it('reads the 1.14 Kube*Config documents where the config has them', () => {
    expect(componentImages(golden('machinery-v1.14', 'controlplane.yaml'))).toEqual({
      'kube-apiserver': 'registry.k8s.io/kube-apiserver:v1.37.0',
      'kube-controller-manager': 'registry.k8s.io/kube-controller-manager:v1.37.0',
      'kube-scheduler': 'registry.k8s.io/kube-scheduler:v1.37.0',
      'kube-proxy': 'registry.k8s.io/kube-proxy:v1.37.0',
      kubelet: 'ghcr.io/siderolabs/kubelet:v1.37.0',
    });
    expect(componentImages(golden('machinery-v1.14', 'worker.yaml'))).toEqual({ kubelet: 'ghcr.io/siderolabs/kubelet:v1.37.0' });
  });

  it('patches only the v1alpha1 field of a v1alpha1 config', () => {
    const before = golden('talosctl-v1.10', 'controlplane.yaml');
    const after = withComponentImage(before, 'kube-scheduler', 'registry.k8s.io/kube-scheduler:v1.34.1');
    expect(componentImages(after)['kube-scheduler']).toBe('registry.k8s.io/kube-scheduler:v1.34.1');
    const drop = (d: Record<string, unknown>) => delete ((d.cluster as Record<string, Record<string, unknown>>).scheduler!.image);
    expect(without(after, undefined, drop)).toEqual(without(before, undefined, drop));
  });

  it('patches only the document of a 1.14 config and adds no v1alpha1 field (the two would conflict)', () => {
    const before = golden('machinery-v1.14', 'controlplane.yaml');
    const after = withComponentImage(before, 'kube-apiserver', 'registry.k8s.io/kube-apiserver:v1.37.1');
    expect(componentImages(after)['kube-apiserver']).toBe('registry.k8s.io/kube-apiserver:v1.37.1');
    const drop = (d: Record<string, unknown>) => delete d.image;
    expect(without(after, 'KubeAPIServerConfig', drop)).toEqual(without(before, 'KubeAPIServerConfig', drop));
    const kubelet = withComponentImage(golden('machinery-v1.14', 'worker.yaml'), 'kubelet', 'ghcr.io/siderolabs/kubelet:v1.37.1');
    expect(parseConfigDocuments(kubelet, 'test').find((d) => !d.kind)!.machine).not.toHaveProperty('kubelet');
    expect(componentImages(kubelet).kubelet).toBe('ghcr.io/siderolabs/kubelet:v1.37.1');
  });
});

describe('Kubernetes downgrades in a config rollout', () => {
  it('names each component a new config would take to an older version, and nothing for an upgrade or the same images', () => {
    const old = golden('talosctl-v1.10', 'controlplane.yaml');
    const upgraded = withComponentImage(withComponentImage(old, 'kube-apiserver', 'registry.k8s.io/kube-apiserver:v1.34.1'), 'kubelet', 'ghcr.io/siderolabs/kubelet:v1.34.1');
    expect(kubernetesDowngrades(upgraded, old)).toEqual(['kube-apiserver v1.34.1 → v1.33.6', 'kubelet v1.34.1 → v1.33.6']);
    expect(kubernetesDowngrades(old, upgraded)).toEqual([]);
    expect(kubernetesDowngrades(old, old)).toEqual([]);
  });
});
