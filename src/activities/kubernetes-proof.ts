import { Context } from '@temporalio/activity';
import type { KubernetesClients } from '../kubernetes/client';
import { kubernetesError, readinessOf } from '../kubernetes/nodes';
import { SNAPSHOT_MARKER, type KubernetesMark } from '../shared/backups';
import { pollWithin, type CheckResult } from './checks';
import type { ActivityDeps } from './deps';
import { clusterKubernetes } from './kubernetes-access';

/** How long one Kubernetes API call may take before the API counts as not answering. */
const CALL_TIMEOUT_MS = 10_000;

/**
 * A Kubernetes call that fails as `kubernetes_unavailable` when it gets no answer in time (a dead endpoint can hang),
 * heartbeating while it waits.
 */
async function answered<T>(what: string, call: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const beat = setInterval(() => Context.current().heartbeat(what), 1_000);
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${CALL_TIMEOUT_MS / 1000} s`)), CALL_TIMEOUT_MS)));
  try {
    return await Promise.race([call, late]);
  } catch (err) {
    throw kubernetesError(what, err);
  } finally {
    clearTimeout(timer);
    clearInterval(beat);
  }
}

/**
 * The Kubernetes-level proof of the backup workflows: the snapshot writes a marker ConfigMap naming itself just
 * before it is taken and notes what the API serves; after a restore, the API must serve that again. The admin
 * kubeconfig is minted through the Talos API inside each call and never leaves it (it holds a client key).
 */
export function kubernetesProofActivities(deps: ActivityDeps) {
  const kubernetes = (cluster: string) => clusterKubernetes(deps, cluster, { timeoutMs: CALL_TIMEOUT_MS });

  return {
    /**
     * Writes (or updates) the marker ConfigMap with the snapshot's id and time, then notes the Nodes and kube-system
     * Deployments the API serves. Best effort: a cluster whose API does not answer is still snapshotted (that is when
     * a snapshot matters most), and its record then holds no mark, so its restore checks etcd only.
     */
    async markKubernetes(input: { cluster: string; snapshot: string; takenAt: string }): Promise<{ mark?: KubernetesMark; detail: string }> {
      try {
        const k8s = await kubernetes(input.cluster);
        const { namespace, name } = SNAPSHOT_MARKER;
        const body = { metadata: { name, namespace, labels: { 'app.kubernetes.io/managed-by': 'talos-fleet' } }, data: { snapshot: input.snapshot, takenAt: input.takenAt } };
        try {
          await answered(`writing ConfigMap ${namespace}/${name}`, k8s.core.replaceNamespacedConfigMap({ name, namespace, body }));
        } catch (err) {
          if ((err as { code?: string }).code !== 'kubernetes_not_found') throw err;
          await answered(`creating ConfigMap ${namespace}/${name}`, k8s.core.createNamespacedConfigMap({ namespace, body }));
        }
        const nodes = (await answered('listing Nodes', k8s.core.listNode())).items.map((n) => n.metadata?.name ?? '').filter(Boolean).sort();
        const deployments = (await answered('listing kube-system Deployments', k8s.apps.listNamespacedDeployment({ namespace: 'kube-system' }))).items.map((d) => d.metadata?.name ?? '').filter(Boolean).sort();
        const mark: KubernetesMark = { marker: { namespace, name, snapshot: input.snapshot }, nodes, deployments };
        return { mark, detail: `marker ConfigMap ${namespace}/${name} names ${input.snapshot}; the API serves ${nodes.length} Nodes and ${deployments.length} kube-system Deployments (${deployments.join(', ')})` };
      } catch (err) {
        return { detail: `no Kubernetes marker: ${(err as Error).message}; a restore of this snapshot checks etcd only` };
      }
    },

    /**
     * Waits until the Kubernetes API serves what it served before the snapshot: the marker names this snapshot,
     * every Node is registered and Ready, every kube-system Deployment is there. An API that does not answer yet
     * (control planes coming back) is "not yet".
     */
    async checkKubernetesRestored(input: { cluster: string; expected: KubernetesMark; windowMs: number; pollMs?: number }): Promise<CheckResult> {
      const { marker, nodes, deployments } = input.expected;
      let k8s: KubernetesClients | undefined;
      return pollWithin(
        input.windowMs,
        async () => {
          try {
            k8s ??= await kubernetes(input.cluster);
            const cm = await answered(`reading ConfigMap ${marker.namespace}/${marker.name}`, k8s.core.readNamespacedConfigMap({ name: marker.name, namespace: marker.namespace })).catch((err: { code?: string }) => {
              if (err.code === 'kubernetes_not_found') return undefined;
              throw err;
            });
            if (cm?.data?.snapshot !== marker.snapshot) return { done: false, detail: `the marker ConfigMap ${marker.namespace}/${marker.name} ${cm ? `names ${cm.data?.snapshot ?? 'nothing'}` : 'is not there'}, not ${marker.snapshot}` };
            const served = new Map((await answered('listing Nodes', k8s.core.listNode())).items.map((n) => [n.metadata?.name ?? '', readinessOf(n)]));
            const notReady = nodes.filter((n) => !served.get(n)?.ready).map((n) => `${n} (${served.get(n)?.notReadyReason ?? 'not registered'})`);
            if (notReady.length) return { done: false, detail: `Nodes not Ready yet: ${notReady.join(', ')}` };
            const present = new Set((await answered('listing kube-system Deployments', k8s.apps.listNamespacedDeployment({ namespace: 'kube-system' }))).items.map((d) => d.metadata?.name));
            const missing = deployments.filter((d) => !present.has(d));
            if (missing.length) return { done: false, detail: `kube-system Deployments missing: ${missing.join(', ')}` };
            return { done: true, detail: `the Kubernetes API serves snapshot ${marker.snapshot}'s marker, its ${nodes.length} Nodes Ready and its kube-system Deployments (${deployments.join(', ')})` };
          } catch (err) {
            return { done: false, detail: `the Kubernetes API does not answer yet: ${(err as Error).message}` };
          }
        },
        input.pollMs,
      );
    },
  };
}
