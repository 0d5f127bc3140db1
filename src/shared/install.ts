/** Input and result of the install workflow (one interface each, so they can grow without breaking histories). */

/** Every wait of an install; all are inputs so tests pass short ones. Milliseconds. */
export interface InstallTimings {
  /** Pause between two checks of the same condition. */
  pollIntervalMs: number;
  /** How long one check activity may itself wait for its condition (it heartbeats meanwhile). */
  checkWindowMs: number;
  /** A worker that stops heartbeating for this long is presumed dead and its activity is retried elsewhere. */
  heartbeatTimeoutMs: number;
  /** Longest single activity attempt. */
  activityTimeoutMs: number;
  /** From applying a node's config to the node answering over mutual TLS with the cluster's CA. */
  nodeInstallTimeoutMs: number;
  /** From Bootstrap to every control plane being a voting etcd member. */
  etcdJoinTimeoutMs: number;
  /** For the cluster health check to pass. */
  healthTimeoutMs: number;
}

/** Defaults for real machines (talos-ops.md §5: install and boot take minutes, bootstrap to healthy up to 20). */
export const DEFAULT_INSTALL_TIMINGS: InstallTimings = {
  pollIntervalMs: 5_000,
  checkWindowMs: 30_000,
  heartbeatTimeoutMs: 20_000,
  activityTimeoutMs: 2 * 60_000,
  nodeInstallTimeoutMs: 30 * 60_000,
  etcdJoinTimeoutMs: 30 * 60_000,
  healthTimeoutMs: 20 * 60_000,
};

export interface InstallClusterInput {
  cluster: string;
  /** Who started the run (a CLI user name or a Slack user id); gates may forbid them approving it. */
  requester: string;
  timing?: Partial<InstallTimings>;
}

export interface InstallClusterResult {
  cluster: string;
  /** Each node and the Talos version it answered with. */
  nodes: { name: string; version: string }[];
  /** The control plane that was bootstrapped (or found bootstrapped). */
  bootstrapNode: string;
  /** Where the admin kubeconfig was stored (the path only; the file is mode 0600). */
  kubeconfigPath: string;
}
