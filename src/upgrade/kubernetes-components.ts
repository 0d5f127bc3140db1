/** The Kubernetes components a Kubernetes upgrade moves (no imports: the workflow bundle reads these names too). */
export type KubernetesComponent = 'kube-apiserver' | 'kube-controller-manager' | 'kube-scheduler' | 'kube-proxy' | 'kubelet';

/** The three static pods of a control plane, in upstream's order. */
export const STATIC_POD_COMPONENTS = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler'] as const;

export type StaticPodComponent = (typeof STATIC_POD_COMPONENTS)[number];

/** True for a control plane's static pod (re-rendered by Talos when its image changes). */
export const isStaticPod = (c: KubernetesComponent): c is StaticPodComponent => (STATIC_POD_COMPONENTS as readonly string[]).includes(c);
