import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { MachineConfig } from '../../config/machineconfig';
import type { SimulatedNode } from '../node';
import type { SimClock } from '../timing';
import { kubernetesTimings } from './args';
import { KubernetesCluster, type KubernetesTools } from './cluster';
import { issueKubernetesClient, kubeconfigText } from './pki';
import { kubernetesSpec } from './spec';

/** What a simulated node tells its Kubernetes side; absent when the fleet runs without a real Kubernetes. */
export interface KubernetesHooks {
  /** The kubelet service runs (end of the boot sequence). */
  kubeletStarted(node: SimulatedNode): void;
  /** The kubelet stops with everything it runs: cleanly (reboot, upgrade) or at once (power loss). */
  kubeletStopped(node: SimulatedNode, clean: boolean): Promise<void>;
  /** A config was applied without a reboot; `previous` is the one it replaced. */
  configApplied(node: SimulatedNode, previous: MachineConfig): void;
  /** Cordon and drain through the API, as a Talos node does at the start of a legacy upgrade or a graceful reset. */
  drain(node: SimulatedNode, signal: AbortSignal): Promise<void>;
  /** Why the node's Kubernetes side cannot come up, if it cannot. */
  failure(node: SimulatedNode): string | undefined;
}

/**
 * The real Kubernetes of a simulated fleet: one {@link KubernetesCluster} per Talos cluster (by cluster id), created
 * when its first node's kubelet starts. Implements the hooks the nodes call.
 */
export class SimulatedKubernetes implements KubernetesHooks {
  private readonly clusters = new Map<string, KubernetesCluster>();

  constructor(
    private readonly dir: string,
    private readonly tools: KubernetesTools,
    private readonly clock: SimClock,
    private readonly members: () => SimulatedNode[],
  ) {}

  /** The cluster a node belongs to (by the cluster id of its config), created on first use. */
  clusterOf(node: SimulatedNode): KubernetesCluster | undefined {
    const id = node.clusterId;
    if (!id) return undefined;
    let cluster = this.clusters.get(id);
    if (!cluster) {
      const name = `${node.config?.parsed.cluster.clusterName ?? 'cluster'}-${createHash('sha256').update(id).digest('hex').slice(0, 8)}`;
      cluster = new KubernetesCluster(id, join(this.dir, 'kubernetes', name), this.tools, kubernetesTimings(this.clock.timeScale), this.clock, () => this.members().filter((n) => n.clusterId === id));
      this.clusters.set(id, cluster);
    }
    return cluster;
  }

  kubeletStarted(node: SimulatedNode): void {
    this.clusterOf(node)?.kubeletStarted(node);
  }

  async kubeletStopped(node: SimulatedNode, clean: boolean): Promise<void> {
    // Every cluster that knows the node: a reset may have taken its config (and cluster id) away meanwhile.
    await Promise.all([...this.clusters.values()].map((c) => c.kubeletStopped(node, clean)));
  }

  configApplied(node: SimulatedNode, previous: MachineConfig): void {
    this.clusterOf(node)
      ?.configApplied(node, kubernetesSpec(previous))
      .catch((err: Error) => node.log('kubelet', `applying the config to Kubernetes failed: ${err.message}`));
  }

  drain(node: SimulatedNode, signal: AbortSignal): Promise<void> {
    return this.clusterOf(node)?.drain(node, signal) ?? Promise.resolve();
  }

  failure(node: SimulatedNode): string | undefined {
    for (const c of this.clusters.values()) {
      const f = c.failure(node);
      if (f) return f;
    }
    return undefined;
  }

  /**
   * The admin kubeconfig of a control plane's cluster as its Kubeconfig RPC would mint it (a secret), issued here
   * without a call, so that `sim up` writes one without leaving a call in the node's record.
   */
  async adminKubeconfig(node: SimulatedNode): Promise<string> {
    const spec = node.config && kubernetesSpec(node.config.parsed);
    if (!spec?.ca.key) throw new Error(`node ${node.name} has no Kubernetes CA key to issue a kubeconfig with`);
    const client = await issueKubernetesClient(spec, 'admin', ['system:masters']);
    return kubeconfigText({ clusterName: spec.clusterName, server: spec.endpoint, caCrt: spec.ca.crt, user: 'admin', client });
  }

  /** True when the cluster of `node` is ready for workloads (see {@link KubernetesCluster.settled}). */
  settled(node: SimulatedNode): boolean {
    return this.clusterOf(node)?.settled === true;
  }

  /** Stops every cluster's kwok, proxies and watches. */
  async stop(): Promise<void> {
    await Promise.all([...this.clusters.values()].map((c) => c.stop()));
  }
}
