/**
 * Names shared across the Temporal boundary: the task queue, the worker deployment and workflow ids.
 * Imported by workflows, so it must stay free of Node built-ins and I/O.
 */

/** The task queue every talos-fleet worker polls (override per deployment with `TEMPORAL_TASK_QUEUE`). */
export const DEFAULT_TASK_QUEUE = 'talos-fleet';

/** The Worker Deployment all talos-fleet workers (long-lived and serverless) belong to. */
export const DEPLOYMENT_NAME = 'talos-fleet';

/** Operations that change a cluster; at most one of them runs per cluster at a time. */
export type MutatingOperation = 'install' | 'upgrade' | 'upgrade-k8s' | 'apply' | 'restore';

/** Every operation a run can be. */
export type Operation = MutatingOperation | 'snapshot' | 'drill';

/**
 * The workflow id of a cluster's mutating operations. One id for all of them makes Temporal itself refuse a second
 * install, upgrade or restore while one runs (conflict policy FAIL), atomically and without a lock of our own;
 * each run keeps its own run id, and the operation is a search attribute.
 */
export function clusterWorkflowId(cluster: string): string {
  return `talos-fleet/${cluster}`;
}

/** The workflow id of a non-mutating operation of a cluster (snapshots, drills), which may run beside a mutating one. */
export function sideWorkflowId(cluster: string, operation: 'snapshot' | 'drill'): string {
  return `talos-fleet/${cluster}/${operation}`;
}
