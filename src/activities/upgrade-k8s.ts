import { PatchStrategy, setHeaderOptions, type V1Pod } from '@kubernetes/client-node';
import { FleetError } from '../errors';
import { gatePolicy } from '../fleet/policy';
import type { KubernetesClients } from '../kubernetes/client';
import { kubernetesError, nodeReadiness } from '../kubernetes/nodes';
import type { GatePolicy } from '../shared/runs';
import { onlyValue } from '../talos/replies';
import type { LegacyImagePullRequest } from '../talos/types';
import { isStaticPod, type KubernetesComponent, type StaticPodComponent } from '../upgrade/kubernetes-components';
import { componentImages, withComponentImage } from '../upgrade/kubernetes-config';
import { KubernetesUpgradeRefusal, planKubernetesUpgrade, type KubernetesUpgradePlan } from '../upgrade/kubernetes-plan';
import { daemonSetImage, KUBE_PROXY, kubernetesNodeName, readKubeProxy, readKubernetesState } from '../upgrade/kubernetes-state';
import { pollWithin, type CheckResult } from './checks';
import type { ActivityDeps } from './deps';
import { clusterKubernetes } from './kubernetes-access';
import { permanent } from './failures';

/** The plan, the policy its gates follow, and the nodes it is about. */
export interface PlannedKubernetesUpgrade {
  plan: KubernetesUpgradePlan;
  policy: GatePolicy;
  nodes: { name: string; address: string; role: 'controlplane' | 'worker' }[];
}

/** Talos's annotation on a static pod: the version of the config it was rendered from (real Talos and the simulator). */
const CONFIG_VERSION = 'talos.dev/config-version';

/** Waits (in an activity's window) where an API server that is away for now (restarting with its new image) means "not yet". */
async function notYetWhileAway(check: () => Promise<CheckResult>): Promise<CheckResult> {
  try {
    return await check();
  } catch (err) {
    if (err instanceof FleetError && err.retryable) return { done: false, detail: err.message };
    throw err;
  }
}

async function readPod(k8s: KubernetesClients, name: string): Promise<V1Pod | undefined> {
  try {
    return await k8s.core.readNamespacedPod({ name, namespace: 'kube-system' });
  } catch (err) {
    if ((err as { code?: unknown }).code === 404) return undefined;
    throw kubernetesError(`reading pod kube-system/${name}`, err);
  }
}

const podReady = (pod: V1Pod) => pod.status?.phase === 'Running' && pod.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;

/**
 * The Kubernetes upgrade's activities. Each reads the world before acting, so a retried attempt never applies a
 * config twice: a node whose config already names the image is left alone. Configs are read and written here only;
 * what goes back to the workflow is names, images and versions.
 */
export function kubernetesUpgradeActivities(deps: ActivityDeps) {
  const spec = (cluster: string, node: string) => deps.inventory().node(cluster, node);

  return {
    /** Reads every node's component images and versions and plans the upgrade; an impossible one is refused here. */
    async planKubernetesUpgrade(input: { cluster: string; toVersion: string }): Promise<PlannedKubernetesUpgrade> {
      const inv = deps.inventory();
      const cluster = inv.cluster(input.cluster);
      try {
        const plan = planKubernetesUpgrade(await readKubernetesState(input.cluster, cluster.nodes, deps.connector.cluster(input.cluster), await clusterKubernetes(deps, input.cluster)), input.toVersion);
        return { plan, policy: gatePolicy(cluster.policy, 'upgrade-k8s'), nodes: cluster.nodes.map((n) => ({ name: n.name, address: n.address, role: n.role })) };
      } catch (err) {
        if (err instanceof KubernetesUpgradeRefusal) throw permanent('KubernetesUpgradeRefused', err.message);
        throw err;
      }
    },

    /**
     * Pulls a node's new images before anything changes, as upstream's upgrade-k8s does: the control plane's static
     * pod images into the CRI namespace (`k8s.io`), the kubelet's into `system`, with MachineService.ImagePull. Pulling
     * an image that is there is a no-op, so a retried attempt costs nothing; a node that does not serve the call is
     * skipped, as upstream skips it.
     */
    async prePullImages(input: { cluster: string; node: string; images: LegacyImagePullRequest[] }): Promise<{ detail: string }> {
      const node = spec(input.cluster, input.node);
      const client = deps.connector.cluster(input.cluster);
      const pulled: string[] = [];
      for (const { image, namespace } of input.images) {
        try {
          onlyValue(await client.legacyImagePull({ image, namespace }, { node: node.address }));
        } catch (err) {
          if (err instanceof FleetError && err.code === 'unimplemented') return { detail: `${node.name} does not serve ImagePull: pre-pull skipped` };
          throw err;
        }
        pulled.push(image);
      }
      return { detail: `pre-pulled ${pulled.join(', ')}` };
    },

    /**
     * Gives one component on one node its new image: the node's config with only that image changed, applied with
     * NO_REBOOT. Sent once: a config that already names the image is not applied again. For a static pod it hands
     * back the pod's config version before the change, so the wait can tell the re-rendered pod from the old one.
     */
    async patchComponentImage(input: { cluster: string; node: string; component: KubernetesComponent; image: string }): Promise<{ applied: boolean; detail: string; previousConfigVersion?: string }> {
      const node = spec(input.cluster, input.node);
      const client = deps.connector.cluster(input.cluster);
      const config = await client.machineConfig({ node: node.address });
      const current = componentImages(config)[input.component];
      if (current === undefined) throw permanent('ComponentNotConfigured', `the config of ${node.name} has no ${input.component}`);
      if (current === input.image) return { applied: false, detail: `${input.component} already set to ${input.image}` };
      let previousConfigVersion: string | undefined;
      if (isStaticPod(input.component)) {
        const pod = await readPod(await clusterKubernetes(deps, input.cluster), `${input.component}-${await kubernetesNodeName(client, node)}`);
        previousConfigVersion = pod?.metadata?.annotations?.[CONFIG_VERSION];
      }
      onlyValue(await client.applyConfiguration({ data: withComponentImage(config, input.component, input.image), mode: 'NO_REBOOT' }, { node: node.address }));
      return { applied: true, detail: `${input.component} set to ${input.image} (applied without a reboot)`, ...(previousConfigVersion ? { previousConfigVersion } : {}) };
    },

    /** Waits (up to `windowMs`) for a control plane's static pod to run Ready with the image, rendered anew after `previousConfigVersion`. */
    async checkStaticPodUpdated(input: { cluster: string; node: string; component: StaticPodComponent; image: string; previousConfigVersion?: string; windowMs: number; pollMs?: number }): Promise<CheckResult> {
      const node = spec(input.cluster, input.node);
      const name = `${input.component}-${await kubernetesNodeName(deps.connector.cluster(input.cluster), node)}`;
      const k8s = await clusterKubernetes(deps, input.cluster);
      return pollWithin(input.windowMs, () =>
        notYetWhileAway(async () => {
          const pod = await readPod(k8s, name);
          if (!pod) return { done: false, detail: `no pod ${name} yet` };
          const image = pod.spec?.containers[0]?.image;
          const version = pod.metadata?.annotations?.[CONFIG_VERSION];
          if (image !== input.image) return { done: false, detail: `${name} still runs ${image}` };
          if (input.previousConfigVersion && Number(version) <= Number(input.previousConfigVersion)) return { done: false, detail: `${name} is still at config version ${version}` };
          if (!podReady(pod)) return { done: false, detail: `${name} runs ${image} but is not Ready (${pod.status?.phase ?? 'no status'})` };
          return { done: true, detail: `${name} runs ${image} (config version ${version})` };
        }),
      input.pollMs);
    },

    /**
     * Gives the kube-proxy DaemonSet its new image through the Kubernetes API, as upstream's manifest sync does (Talos
     * itself never updates a bootstrap manifest that exists). Sent once: a DaemonSet with the image is left alone.
     */
    async patchKubeProxyDaemonSet(input: { cluster: string; image: string }): Promise<{ applied: boolean; detail: string }> {
      const k8s = await clusterKubernetes(deps, input.cluster);
      const ds = await readKubeProxy(k8s);
      if (!ds) throw permanent('KubeProxyMissing', `the cluster ${input.cluster} has no ${KUBE_PROXY.namespace}/${KUBE_PROXY.name} DaemonSet`);
      if (daemonSetImage(ds) === input.image) return { applied: false, detail: `the kube-proxy DaemonSet already runs ${input.image}` };
      const body = { spec: { template: { spec: { containers: [{ name: KUBE_PROXY.name, image: input.image }] } } } };
      await k8s.apps.patchNamespacedDaemonSet({ ...KUBE_PROXY, body }, setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch)).catch((err: unknown) => Promise.reject(kubernetesError('patching the kube-proxy DaemonSet', err)));
      return { applied: true, detail: `the kube-proxy DaemonSet set to ${input.image}` };
    },

    /** Waits (up to `windowMs`) for the kube-proxy DaemonSet to run the image on every node it schedules to. */
    async checkKubeProxyRolledOut(input: { cluster: string; image: string; windowMs: number; pollMs?: number }): Promise<CheckResult> {
      const k8s = await clusterKubernetes(deps, input.cluster);
      return pollWithin(input.windowMs, () =>
        notYetWhileAway(async () => {
          const ds = await readKubeProxy(k8s);
          if (!ds) return { done: false, detail: 'the kube-proxy DaemonSet is gone' };
          const s = ds.status;
          const desired = s?.desiredNumberScheduled ?? 0;
          if (daemonSetImage(ds) !== input.image) return { done: false, detail: `the kube-proxy DaemonSet names ${daemonSetImage(ds)}` };
          if ((s?.observedGeneration ?? 0) < (ds.metadata?.generation ?? 0)) return { done: false, detail: 'the DaemonSet controller has not seen the change yet' };
          const updated = s?.updatedNumberScheduled ?? 0;
          const available = s?.numberAvailable ?? 0;
          if (updated < desired || available < desired) return { done: false, detail: `kube-proxy rolling out: ${updated}/${desired} updated, ${available}/${desired} available` };
          return { done: true, detail: `kube-proxy runs ${input.image} on ${desired} node(s)` };
        }),
      input.pollMs);
    },

    /** Waits (up to `windowMs`) for a node's Node to be Ready on kubelet `version` (`v1.34.1`). */
    async checkKubeletVersion(input: { cluster: string; node: string; version: string; windowMs: number; pollMs?: number }): Promise<CheckResult> {
      const node = spec(input.cluster, input.node);
      const name = await kubernetesNodeName(deps.connector.cluster(input.cluster), node);
      const k8s = await clusterKubernetes(deps, input.cluster);
      return pollWithin(input.windowMs, () =>
        notYetWhileAway(async () => {
          const r = await nodeReadiness(k8s.core, name);
          if (r.kubeletVersion !== input.version) return { done: false, detail: `Node ${name} reports kubelet ${r.kubeletVersion ?? 'unknown'}` };
          if (!r.ready) return { done: false, detail: `Node ${name} is on ${input.version} but not Ready: ${r.notReadyReason ?? ''}` };
          return { done: true, detail: `Node ${name} is Ready on kubelet ${input.version}` };
        }),
      input.pollMs);
    },
  };
}
