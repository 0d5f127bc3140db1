import { PatchStrategy, setHeaderOptions, type CoreV1Api, type V1Node } from '@kubernetes/client-node';
import { FleetError } from '../errors';
import { delay } from '../time';
import { apiMessage, httpStatus } from './client';

/** What an upgrade needs to know of a Node: is it there, Ready, schedulable, on which kubelet, booted when. */
export interface NodeReadiness {
  name: string;
  exists: boolean;
  ready: boolean;
  /** The Ready condition's reason and message when it is not True (`NodeStatusUnknown: Kubelet stopped posting...`). */
  notReadyReason?: string;
  schedulable: boolean;
  kubeletVersion?: string;
  bootId?: string;
}

/** Summarizes a Node object. */
export function readinessOf(node: V1Node): NodeReadiness {
  const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
  return {
    name: node.metadata?.name ?? '',
    exists: true,
    ready: ready?.status === 'True',
    ...(ready?.status !== 'True' ? { notReadyReason: ready ? `${ready.reason ?? ready.status}: ${ready.message ?? ''}`.trim() : 'the Node has no Ready condition yet' } : {}),
    schedulable: node.spec?.unschedulable !== true,
    ...(node.status?.nodeInfo?.kubeletVersion ? { kubeletVersion: node.status.nodeInfo.kubeletVersion } : {}),
    ...(node.status?.nodeInfo?.bootID ? { bootId: node.status.nodeInfo.bootID } : {}),
  };
}

/** One Node's readiness now; a Node that does not exist is `exists: false`, not an error. */
export async function nodeReadiness(core: CoreV1Api, name: string): Promise<NodeReadiness> {
  try {
    return readinessOf(await core.readNode({ name }));
  } catch (err) {
    if (httpStatus(err) === 404) return { name, exists: false, ready: false, notReadyReason: 'the Node is not registered', schedulable: false };
    throw kubernetesError(`reading Node ${name}`, err);
  }
}

/** Options of {@link waitForNodeReady}. */
export interface WaitForNodeOptions {
  timeoutMs: number;
  /** talosctl polls every 5 s. */
  pollMs?: number;
  signal?: AbortSignal;
  /** Also require this kubelet version (`v1.34.1`), as upgrade-k8s does after a kubelet upgrade. */
  kubeletVersion?: string;
}

/**
 * Waits until a Node is Ready (and on `kubeletVersion` when given), polling; an API server that is away for now
 * (a control plane rebooting) counts as not yet. Fails with `node_not_ready`, saying what it saw last.
 */
export async function waitForNodeReady(core: CoreV1Api, name: string, opts: WaitForNodeOptions): Promise<NodeReadiness> {
  const deadline = Date.now() + opts.timeoutMs;
  let last = 'no answer from the Kubernetes API yet';
  for (;;) {
    opts.signal?.throwIfAborted();
    try {
      const r = await nodeReadiness(core, name);
      if (r.ready && (!opts.kubeletVersion || r.kubeletVersion === opts.kubeletVersion)) return r;
      last = !r.ready ? (r.notReadyReason ?? 'not Ready') : `kubelet ${r.kubeletVersion ?? 'unknown'}, waiting for ${opts.kubeletVersion}`;
    } catch (err) {
      if (!(err instanceof FleetError && err.retryable)) throw err;
      last = err.message;
    }
    if (Date.now() > deadline) throw new FleetError('node_not_ready', `Node ${name} is not ready after ${Math.round(opts.timeoutMs / 1000)} s: ${last}`, { retryable: true });
    await delay(opts.pollMs ?? 5_000, opts.signal);
  }
}

/** Marks a Node unschedulable (`kubectl cordon`). Idempotent. */
export async function cordonNode(core: CoreV1Api, name: string): Promise<void> {
  await setUnschedulable(core, name, true);
}

/** Marks a Node schedulable again (`kubectl uncordon`). Idempotent. */
export async function uncordonNode(core: CoreV1Api, name: string): Promise<void> {
  await setUnschedulable(core, name, false);
}

async function setUnschedulable(core: CoreV1Api, name: string, unschedulable: boolean): Promise<void> {
  try {
    await core.patchNode({ name, body: { spec: { unschedulable } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
  } catch (err) {
    throw kubernetesError(`${unschedulable ? 'cordoning' : 'uncordoning'} Node ${name}`, err);
  }
}

/**
 * A FleetError for a failed Kubernetes call: `kubernetes_unavailable` (retryable) when the API did not answer or
 * answered 429/5xx, `kubernetes_not_found` for 404, else `kubernetes_refused` (not retryable: fix the request).
 */
export function kubernetesError(what: string, err: unknown): FleetError {
  const status = httpStatus(err);
  if (status === undefined) return new FleetError('kubernetes_unavailable', `${what}: the Kubernetes API did not answer (${(err as Error).message})`, { cause: err, retryable: true });
  const message = `${what}: ${status} ${apiMessage(err)}`;
  if (status === 429 || status >= 500) return new FleetError('kubernetes_unavailable', message, { cause: err, retryable: true });
  return new FleetError(status === 404 ? 'kubernetes_not_found' : 'kubernetes_refused', message, { cause: err });
}
