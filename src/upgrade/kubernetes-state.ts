import type { V1DaemonSet } from '@kubernetes/client-node';
import type { NodeSpec } from '../fleet/schema';
import { httpStatus, type KubernetesClients } from '../kubernetes/client';
import { kubernetesError } from '../kubernetes/nodes';
import { imageTag } from '../releases/versions';
import type { TalosApi } from '../talos/api';
import { onlyValue } from '../talos/replies';
import { STATIC_POD_COMPONENTS, type KubernetesComponent } from './kubernetes-components';
import { componentImages } from './kubernetes-config';
import type { KubernetesClusterState, NodeKubernetesState } from './kubernetes-plan';

/** Where Talos's bootstrap manifests put kube-proxy. */
export const KUBE_PROXY = { name: 'kube-proxy', namespace: 'kube-system' } as const;

/** The name a node registered its Node under (COSI `Nodenames`), else its hostname. */
export async function kubernetesNodeName(client: TalosApi, node: NodeSpec): Promise<string> {
  return (await client.nodename({ node: node.address }))?.nodename || node.hostname || node.name;
}

/** The kube-proxy DaemonSet, or undefined when the cluster has none. */
export async function readKubeProxy(k8s: KubernetesClients): Promise<V1DaemonSet | undefined> {
  try {
    return await k8s.apps.readNamespacedDaemonSet(KUBE_PROXY);
  } catch (err) {
    if (httpStatus(err) === 404) return undefined;
    throw kubernetesError('reading the kube-proxy DaemonSet', err);
  }
}

/** The image of a DaemonSet's container of the same name. */
export const daemonSetImage = (ds: V1DaemonSet): string | undefined => ds.spec?.template.spec?.containers.find((c) => c.name === ds.metadata?.name)?.image;

/**
 * What every node of a cluster runs: its Talos version and the component images of its config (read through the
 * Talos API and dropped at once: the config holds keys), and from the Kubernetes API its static pods' images (the
 * mirror pods), its Node's kubelet version and the kube-proxy DaemonSet's image. `nodeSpecs` in the inventory's order.
 */
export async function readKubernetesState(cluster: string, nodeSpecs: NodeSpec[], client: TalosApi, k8s: KubernetesClients): Promise<KubernetesClusterState> {
  const [pods, nodes, proxy] = await Promise.all([
    k8s.core.listNamespacedPod({ namespace: 'kube-system', labelSelector: 'tier=control-plane' }).catch((err: unknown) => Promise.reject(kubernetesError('listing the static pods', err))),
    k8s.core.listNode().catch((err: unknown) => Promise.reject(kubernetesError('listing the Nodes', err))),
    readKubeProxy(k8s),
  ]);
  const podImage = (name: string) => pods.items.find((p) => p.metadata?.name === name)?.spec?.containers[0]?.image;
  const states: NodeKubernetesState[] = [];
  for (const n of nodeSpecs) {
    const target = { node: n.address };
    const talosVersion = onlyValue(await client.version(target)).version?.tag ?? '';
    const configured = componentImages(await client.machineConfig(target));
    const name = await kubernetesNodeName(client, n);
    const running: Partial<Record<KubernetesComponent, string>> = {};
    for (const c of STATIC_POD_COMPONENTS) {
      const tag = configured[c] !== undefined ? imageTag(podImage(`${c}-${name}`) ?? '') : undefined;
      if (tag) running[c] = tag;
    }
    const kubelet = nodes.items.find((x) => x.metadata?.name === name)?.status?.nodeInfo?.kubeletVersion;
    if (kubelet) running.kubelet = kubelet;
    states.push({ name: n.name, role: n.role, talosVersion, configured, running });
  }
  const proxyImage = proxy && daemonSetImage(proxy);
  return { cluster, nodes: states, ...(proxyImage ? { proxyDaemonSetImage: proxyImage } : {}) };
}
