import { delay } from '../../time';
import { KubernetesApiError, type KubernetesApi, type List } from './api';
import { TALOS_CORDONED_ANNOTATION, type PodObject } from './objects';

/** How the node-side drain waits: Talos retries a PDB-blocked eviction every 5 s and gives the whole drain 5 min. */
export interface NodeDrainTimings {
  retryMs: number;
  capMs: number;
}

/** Pods a drain leaves alone, as Talos's does: mirror (static) pods, DaemonSet pods, and pods without a controller. */
export function drainSkips(pod: PodObject): boolean {
  if (pod.metadata.annotations?.['kubernetes.io/config.mirror']) return true;
  const owner = pod.metadata.ownerReferences?.find((o) => o.controller);
  return !owner || owner.kind === 'DaemonSet';
}

/** Cordons a Node the way Talos does before an upgrade or reset: unschedulable, with Talos's own annotation. */
export async function talosCordon(api: KubernetesApi, nodeName: string): Promise<void> {
  await api.mergePatch(`/api/v1/nodes/${nodeName}`, { metadata: { annotations: { [TALOS_CORDONED_ANNOTATION]: 'true' } }, spec: { unschedulable: true } });
}

/**
 * The drain a Talos node runs itself in the legacy upgrade sequence (cordonAndDrainNode): cordon, then evict every
 * pod it does not skip, retrying evictions a PodDisruptionBudget refuses (429), and wait for them to be gone. As
 * upstream, the drain is capped and failures are only logged: the upgrade goes on (siderolabs/talos#9882).
 */
export async function talosNodeDrain(api: KubernetesApi, nodeName: string, timings: NodeDrainTimings, signal: AbortSignal, log: (line: string) => void): Promise<void> {
  const deadline = Date.now() + timings.capMs;
  try {
    await talosCordon(api, nodeName);
    log(`cordoned node ${nodeName}`);
    const pods = await api.get<List<PodObject>>(`/api/v1/pods?fieldSelector=${encodeURIComponent(`spec.nodeName=${nodeName}`)}`);
    const evictable = pods.items.filter((p) => !drainSkips(p) && !p.metadata.deletionTimestamp);
    await Promise.all(evictable.map((p) => evictUntilGone(api, p, deadline, timings.retryMs, signal, log)));
    log(`drained node ${nodeName}: ${evictable.length} pod(s) evicted`);
  } catch (err) {
    if (signal.aborted) throw signal.reason as Error;
    log(`drain of node ${nodeName} failed, going on: ${(err as Error).message}`);
  }
}

async function evictUntilGone(api: KubernetesApi, pod: PodObject, deadline: number, retryMs: number, signal: AbortSignal, log: (line: string) => void): Promise<void> {
  const { name, namespace = 'default', uid } = pod.metadata;
  const path = `/api/v1/namespaces/${namespace}/pods/${name}`;
  for (;;) {
    signal.throwIfAborted();
    try {
      await api.create(`${path}/eviction`, { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace } });
      break;
    } catch (err) {
      if (err instanceof KubernetesApiError && err.status === 404) return;
      if (!(err instanceof KubernetesApiError && err.status === 429) || Date.now() > deadline) throw err;
      log(`eviction of ${namespace}/${name} refused (${err.message}); retrying`);
      await delay(retryMs, signal);
    }
  }
  // Evicted: the pod terminates with its grace period; a pod of the same name but another uid is a new one.
  while (Date.now() < deadline) {
    signal.throwIfAborted();
    const current = await api.find<PodObject>(path);
    if (!current || current.metadata.uid !== uid) return;
    await delay(Math.min(retryMs, 500), signal);
  }
  log(`pod ${namespace}/${name} was still terminating when the drain's time was up`);
}
