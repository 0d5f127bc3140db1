import type { ClusterCheck, ClusterUnderCheck } from '../health';
import type { SimulatedNode } from '../node';
import type { KubernetesApi, List } from './api';
import { nodeIsReady, type NodeObject, type PodObject } from './objects';
import { COMPONENTS } from './spec';

type Assert = (api: KubernetesApi, c: ClusterUnderCheck) => Promise<string | undefined>;

const internalIp = (n: NodeObject) => n.status?.addresses?.find((a) => a.type === 'InternalIP')?.address;
const podReady = (p: PodObject) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
const addresses = (nodes: SimulatedNode[]) => nodes.map((n) => n.spec.address);

/** Pods that count for readiness as upstream counts them: not deleted, not failed, not completed. */
function livePods(pods: PodObject[]): PodObject[] {
  return pods.filter((p) => !p.metadata.deletionTimestamp && p.status?.phase !== 'Failed' && p.status?.phase !== 'Succeeded');
}

/** Upstream's K8sPodReadyAssertion: at least one pod, every live one Ready, and as many ready as expected. */
async function podsReady(api: KubernetesApi, namespace: string, selector: string, replicas: number): Promise<string | undefined> {
  const pods = livePods((await api.get<List<PodObject>>(`/api/v1/namespaces/${namespace}/pods?labelSelector=${encodeURIComponent(selector)}`)).items);
  if (!pods.length) return `no pods found for namespace "${namespace}" and label selector "${selector}"`;
  const notReady = pods.filter((p) => !podReady(p)).map((p) => p.metadata.name);
  if (notReady.length) return `some pods are not ready: [${notReady.join(' ')}]`;
  return pods.length === replicas ? undefined : `expected ${replicas} ready pods, got ${pods.length}`;
}

const nodes = async (api: KubernetesApi) => (await api.get<List<NodeObject>>('/api/v1/nodes')).items;
const kubeSystemPods = async (api: KubernetesApi, selector: string) =>
  (await api.get<List<PodObject>>(`/api/v1/namespaces/kube-system/pods?labelSelector=${encodeURIComponent(selector)}`)).items;

/**
 * Upstream's Kubernetes checks (pkg/cluster/check/kubernetes.go), asked of the cluster's real API server: checks 10-16
 * of the default list, by name. The static-pod check reads the mirror pods, the API's record of what each control
 * plane's kubelet runs, where upstream reads the node's StaticPodStatus resources.
 */
const ASSERTS: Record<string, Assert> = {
  'all k8s nodes to report': async (api, c) => {
    const seen = (await nodes(api)).map(internalIp).filter((a): a is string => !!a);
    const expected = addresses([...c.controlPlanes, ...c.workers]);
    const missing = expected.filter((a) => !seen.includes(a));
    return missing.length ? `expected nodes with IPs [${expected.join(' ')}], but got [${seen.join(' ')}]` : undefined;
  },
  'all control plane static pods to be running': async (api, c) => {
    const pods = await kubeSystemPods(api, 'tier=control-plane');
    for (const cp of c.controlPlanes) {
      const mirror = (name: string) => pods.find((p) => p.metadata.name === `${name}-${cp.hostname}`);
      const missing = COMPONENTS.filter((name) => !mirror(name));
      if (missing.length) return `missing static pods on node ${cp.spec.address}: [${missing.map((m) => `kube-system/${m}`).join(' ')}]`;
      const waiting = COMPONENTS.filter((name) => mirror(name)!.status?.phase !== 'Running');
      if (waiting.length) return `static pods not running on node ${cp.spec.address}: [${waiting.map((m) => `kube-system/${m} (${mirror(m)!.status?.phase ?? 'no status'})`).join(' ')}]`;
    }
    return undefined;
  },
  'all control plane components to be ready': async (api, c) => {
    const controlPlanes = (await nodes(api)).filter((n) => n.metadata.labels?.['node-role.kubernetes.io/control-plane'] !== undefined);
    const seen = controlPlanes.map(internalIp);
    const missing = addresses(c.controlPlanes).filter((a) => !seen.includes(a));
    if (missing.length) return `expected control plane nodes with IPs [${addresses(c.controlPlanes).join(' ')}], but got [${seen.join(' ')}]`;
    for (const app of COMPONENTS) {
      const pods = await kubeSystemPods(api, `k8s-app=${app}`);
      if (pods.length !== controlPlanes.length) return `expected number of pods for ${app} to be ${controlPlanes.length}, got ${pods.length}`;
      const notReady = pods.filter((p) => !podReady(p)).map((p) => p.metadata.name);
      if (notReady.length) return `some pods are not ready for ${app}: [${notReady.join(' ')}]`;
    }
    return undefined;
  },
  'all k8s nodes to report ready': async (api) => {
    const notReady = (await nodes(api)).filter((n) => !nodeIsReady(n)).map((n) => n.metadata.name);
    return notReady.length ? `some nodes are not ready: [${notReady.join(' ')}]` : undefined;
  },
  'kube-proxy to report ready': async (api) => {
    const sets = (await api.get<List<{ status?: { desiredNumberScheduled?: number } }>>(`/apis/apps/v1/namespaces/kube-system/daemonsets?labelSelector=${encodeURIComponent('k8s-app=kube-proxy')}`)).items;
    if (!sets.length) return undefined;
    return podsReady(api, 'kube-system', 'k8s-app=kube-proxy', sets[0]!.status?.desiredNumberScheduled ?? 0);
  },
  'coredns to report ready': async (api) => {
    const sets = (await api.get<List<{ status?: { replicas?: number } }>>(`/apis/apps/v1/namespaces/kube-system/replicasets?labelSelector=${encodeURIComponent('k8s-app=kube-dns')}`)).items;
    if (!sets.length) return undefined;
    return podsReady(api, 'kube-system', 'k8s-app=kube-dns', sets[0]!.status?.replicas ?? 0);
  },
  'all k8s nodes to report schedulable': async (api) => {
    const cordoned = (await nodes(api)).filter((n) => n.spec?.unschedulable).map((n) => n.metadata.name);
    return cordoned.length ? `some nodes are not schedulable: [${cordoned.join(' ')}]` : undefined;
  },
};

/** The real components do not follow the time scale: each Kubernetes check gets at least this long, in real time. */
const MIN_REAL_TIMEOUT_MS = 30_000;

/**
 * The default checks with the Kubernetes ones asked of the real API (`api` is undefined until the cluster has one);
 * an API that does not answer is the reason to keep waiting.
 */
export function withRealKubernetes(checks: ClusterCheck[], api: () => KubernetesApi | undefined, timeScale: number): ClusterCheck[] {
  return checks.map((check) => {
    const assert = ASSERTS[check.name];
    if (!assert) return check;
    return {
      ...check,
      timeoutMs: Math.max(check.timeoutMs, MIN_REAL_TIMEOUT_MS / timeScale),
      assert: async (c: ClusterUnderCheck) => {
        const client = api();
        if (!client) return 'kube-apiserver is not available';
        return assert(client, c).catch((err: Error) => err.message);
      },
    };
  });
}
