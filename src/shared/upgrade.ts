/** Inputs and results of the upgrade workflows (one interface each, so they can grow without breaking histories). */

/** Every wait of a rolling upgrade, in ms; all are inputs so tests pass short ones. */
export interface UpgradeTimings {
  pollIntervalMs: number;
  checkWindowMs: number;
  heartbeatTimeoutMs: number;
  activityTimeoutMs: number;
  /** From the upgrade call to the node answering on the target version. */
  nodeUpgradeTimeoutMs: number;
  /** For a drain (1.13+ client-side) to evict every pod. */
  drainTimeoutMs: number;
  /**
   * Before a hop to etcd 3.7 after one off etcd 3.5: for etcd to snapshot its log past what 3.5 wrote (entries
   * arrive with the cluster's writes; a Kubernetes cluster makes 10000 in minutes to an hour).
   */
  etcdLogTimeoutMs: number;
  /** For the cluster health check after each node. */
  healthTimeoutMs: number;
  /** Pause after each node is healthy before the next one starts (the inventory's `soak` when absent). */
  soakMs?: number;
}

export const DEFAULT_UPGRADE_TIMINGS: UpgradeTimings = {
  pollIntervalMs: 5_000,
  checkWindowMs: 30_000,
  heartbeatTimeoutMs: 20_000,
  activityTimeoutMs: 2 * 60_000,
  nodeUpgradeTimeoutMs: 30 * 60_000,
  drainTimeoutMs: 5 * 60_000,
  etcdLogTimeoutMs: 6 * 60 * 60_000,
  healthTimeoutMs: 20 * 60_000,
};

/** `upgrade CLUSTER --to vX.Y.Z`: a rolling Talos upgrade. */
export interface UpgradeClusterInput {
  cluster: string;
  requester: string;
  /** Target Talos version; the inventory's `talosVersion` when absent. */
  toVersion?: string;
  timing?: Partial<UpgradeTimings>;
}

/** The waits of a Kubernetes upgrade's steps, in ms (upstream's: 5 min for a static pod, 3 min for a kubelet). */
export interface KubernetesUpgradeWaits {
  /** For a control plane's re-rendered static pod to run with the new image. */
  staticPodTimeoutMs: number;
  /** For a Node to report the new kubelet version and be Ready. */
  kubeletTimeoutMs: number;
  /** For the kube-proxy DaemonSet to roll out its new image. */
  rolloutTimeoutMs: number;
}

export const DEFAULT_KUBERNETES_UPGRADE_WAITS: KubernetesUpgradeWaits = { staticPodTimeoutMs: 5 * 60_000, kubeletTimeoutMs: 3 * 60_000, rolloutTimeoutMs: 5 * 60_000 };

/** `upgrade-k8s CLUSTER --to X.Y.Z`: a Kubernetes upgrade, one minor at a time. */
export interface UpgradeKubernetesInput {
  cluster: string;
  requester: string;
  /** Target Kubernetes version, `1.34.1`. */
  toVersion: string;
  timing?: Partial<UpgradeTimings & KubernetesUpgradeWaits>;
}

/** `apply CLUSTER`: a machine-config rollout of the inventory's configs (plus ad-hoc patches) to the nodes. */
export interface ApplyConfigInput {
  cluster: string;
  requester: string;
  /** Only these nodes (names); every node when absent. */
  nodes?: string[];
  /**
   * Extra patches for this rollout, as patch text (strategic merge or RFC 6902). They are part of the run's history,
   * so they must not hold secrets (the CLI refuses ones that look like key material); those go in the inventory.
   */
  patches?: string[];
  timing?: Partial<UpgradeTimings>;
}
