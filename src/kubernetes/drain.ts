import type { CoreV1Api, V1Pod } from '@kubernetes/client-node';
import { FleetError } from '../errors';
import { delay } from '../time';
import { apiMessage, httpStatus } from './client';
import { cordonNode, kubernetesError } from './nodes';

/** Options of {@link drainNode}; the defaults are talosctl's (`--drain-timeout 5m`, kubectl's 5 s between tries). */
export interface DrainOptions {
  timeoutMs?: number;
  /** Pause before retrying an eviction a PodDisruptionBudget refused, and between checks that evicted pods are gone. */
  retryMs?: number;
  signal?: AbortSignal;
  /** Called on every step, e.g. to heartbeat an activity. Never given secrets. */
  onProgress?: (event: DrainEvent) => void;
}

/** One step of a drain. */
export type DrainEvent =
  | { kind: 'cordoned'; node: string }
  | { kind: 'evicting'; pod: string }
  | { kind: 'blocked'; pod: string; reason: string }
  | { kind: 'evicted'; pod: string }
  | { kind: 'gone'; pod: string };

/** What a finished drain did. */
export interface DrainResult {
  node: string;
  /** `namespace/name` of every pod evicted, in the order the API accepted the evictions. */
  evicted: string[];
  /** Pods left alone: mirror (static) pods and DaemonSet pods. */
  skipped: string[];
  /** How many evictions a PodDisruptionBudget refused (429) before they went through. */
  blockedEvictions: number;
}

const podKey = (p: V1Pod) => `${p.metadata?.namespace}/${p.metadata?.name}`;

/** Pods a drain leaves alone, as `kubectl drain --ignore-daemonsets`: mirror pods and DaemonSet pods. */
export function skippedByDrain(pod: V1Pod): boolean {
  if (pod.metadata?.annotations?.['kubernetes.io/config.mirror']) return true;
  return pod.metadata?.ownerReferences?.some((o) => o.controller && o.kind === 'DaemonSet') === true;
}

/** Pods that are finished need no eviction: the drain deletes them outright, as kubectl does. */
const finished = (pod: V1Pod) => pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';

/**
 * Cordons a Node and evicts its pods through the Eviction API, as talosctl 1.13+ drains before a reboot (the kubectl
 * drain library: PodDisruptionBudgets honoured, DaemonSet and mirror pods ignored, pods without a controller evicted
 * too, each pod's own grace period), then waits until every evicted pod is gone. An eviction a PDB refuses (429) is
 * retried every `retryMs` until it goes through, so pods leave one at a time as the budget allows while replacements
 * start elsewhere. Fails with `drain_timeout` (retryable: run it again) when `timeoutMs` passes first, leaving the
 * Node cordoned, as talosctl does. Idempotent: a second run on a drained Node only confirms it.
 */
export async function drainNode(core: CoreV1Api, nodeName: string, opts: DrainOptions = {}): Promise<DrainResult> {
  const timeoutMs = opts.timeoutMs ?? 5 * 60_000;
  const retryMs = opts.retryMs ?? 5_000;
  const deadline = Date.now() + timeoutMs;
  const result: DrainResult = { node: nodeName, evicted: [], skipped: [], blockedEvictions: 0 };
  const progress = (e: DrainEvent) => opts.onProgress?.(e);
  const timedOut = (what: string) =>
    new FleetError('drain_timeout', `draining Node ${nodeName} did not finish within ${Math.round(timeoutMs / 1000)} s: ${what}; the Node stays cordoned`, { retryable: true });

  await cordonNode(core, nodeName);
  progress({ kind: 'cordoned', node: nodeName });
  let pods: V1Pod[];
  try {
    pods = (await core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${nodeName}` })).items;
  } catch (err) {
    throw kubernetesError(`listing the pods of Node ${nodeName}`, err);
  }
  result.skipped = pods.filter(skippedByDrain).map(podKey);

  const evictOne = async (pod: V1Pod): Promise<void> => {
    const name = pod.metadata!.name!;
    const namespace = pod.metadata!.namespace!;
    progress({ kind: 'evicting', pod: podKey(pod) });
    // A pod already terminating needs no eviction, only the wait below.
    while (!pod.metadata?.deletionTimestamp) {
      opts.signal?.throwIfAborted();
      try {
        if (finished(pod)) await core.deleteNamespacedPod({ name, namespace });
        else await core.createNamespacedPodEviction({ name, namespace, body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace } } });
        result.evicted.push(podKey(pod));
        progress({ kind: 'evicted', pod: podKey(pod) });
        break;
      } catch (err) {
        const status = httpStatus(err);
        if (status === 404) return;
        // 429 is the budget saying "not yet"; no answer or a 5xx is an API server away for now: both are retried.
        if (status !== undefined && status !== 429 && status < 500) throw kubernetesError(`evicting pod ${podKey(pod)}`, err);
        if (status === 429) {
          result.blockedEvictions++;
          progress({ kind: 'blocked', pod: podKey(pod), reason: apiMessage(err) });
        }
        if (Date.now() > deadline) throw timedOut(`the eviction of ${podKey(pod)} was still refused (${apiMessage(err)})`);
        await delay(retryMs, opts.signal);
      }
    }
    // The pod terminates with its grace period; one of the same name with another uid is a replacement, not it.
    for (;;) {
      opts.signal?.throwIfAborted();
      try {
        const current = await core.readNamespacedPod({ name, namespace });
        if (current.metadata?.uid !== pod.metadata?.uid) break;
      } catch (err) {
        if (httpStatus(err) === 404) break;
        if (httpStatus(err) !== undefined && httpStatus(err)! < 500) throw kubernetesError(`reading pod ${podKey(pod)}`, err);
      }
      if (Date.now() > deadline) throw timedOut(`pod ${podKey(pod)} was still terminating`);
      await delay(Math.min(retryMs, 1_000), opts.signal);
    }
    progress({ kind: 'gone', pod: podKey(pod) });
  };

  await Promise.all(pods.filter((p) => !skippedByDrain(p)).map(evictOne));
  return result;
}
