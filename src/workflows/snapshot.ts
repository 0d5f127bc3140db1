import type { RetryPolicy } from '@temporalio/common';
import { patched, proxyActivities, setWorkflowOptions, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { DEFAULT_BACKUP_TIMINGS, SNAPSHOT_MARKER, snapshotId, type BackupTimings, type KubernetesMark, type SnapshotClusterInput, type SnapshotClusterResult } from '../shared/backups';
import { Run, stepFailure } from './run';

/** The activity proxies of the backup workflows: short calls, and transfers that heartbeat as they stream. */
export function backupActivities(t: BackupTimings) {
  const retry: RetryPolicy = { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 10 };
  return {
    acts: proxyActivities<Activities>({ startToCloseTimeout: t.activityTimeoutMs, heartbeatTimeout: t.heartbeatTimeoutMs, retry }),
    checks: proxyActivities<Activities>({ startToCloseTimeout: t.checkWindowMs + t.activityTimeoutMs, heartbeatTimeout: t.heartbeatTimeoutMs, retry }),
    transfers: proxyActivities<Activities>({ startToCloseTimeout: t.transferTimeoutMs, heartbeatTimeout: t.heartbeatTimeoutMs, retry: { ...retry, maximumAttempts: 3 } }),
  };
}

/**
 * Takes a verified etcd snapshot of a cluster: pick a healthy control plane (not the leader), stream its snapshot
 * through hash, trailer check, zstd and age into the store, read it back and verify it, prune by the retention
 * policy, and raise the staleness alarm when the cluster's newest verified snapshot is too old. Startable alone
 * (workflow id `talos-fleet/<cluster>/snapshot`), by a schedule, or as a child of another operation (an upgrade's
 * preflight), which gets the verified snapshot's id and metadata back.
 */
export async function snapshotCluster(input: SnapshotClusterInput): Promise<SnapshotClusterResult> {
  const run = new Run('snapshot', input.cluster, input.requester);
  const t: BackupTimings = { ...DEFAULT_BACKUP_TIMINGS, ...input.timing };
  const { acts, transfers } = backupActivities(t);
  const cluster = input.cluster;

  /** The staleness check of a run that produced no snapshot; it never fails the run itself. */
  const alarmIfStale = async () => {
    const s = await acts.checkStaleness({ cluster }).catch(() => undefined);
    if (s?.stale) run.event('alarm', `backups are stale: ${s.detail}`);
  };

  return run.execute(
    async () => {
      try {
        run.phase('plan', `choosing a control plane of ${cluster} to take the snapshot from`);
        const plan = await acts.planSnapshot({ cluster });
        if (plan.restoreRunning) {
          if (input.trigger !== 'schedule') throw stepFailure('plan', undefined, new Error(`${plan.restoreRunning}; a snapshot now would capture a cluster being rebuilt`));
          await alarmIfStale();
          return { cluster, outcome: 'skipped' as const, pruned: [], detail: `skipped: ${plan.restoreRunning}` };
        }
        run.setNodes([{ name: plan.source.node, address: '', role: 'controlplane' }]);
        run.node(plan.source.node, 'working', `source: ${plan.reason}`);

        const id = snapshotId(cluster, workflowInfo().startTime, workflowInfo().runId);
        const takenAt = workflowInfo().startTime.toISOString();
        // The marker lets a restore prove through the Kubernetes API that it serves this snapshot's state (runs
        // started before the marker existed replay without it).
        let kubernetes: KubernetesMark | undefined;
        if (patched('kubernetes-marker')) {
          run.phase('mark', `writing the marker ConfigMap ${SNAPSHOT_MARKER.namespace}/${SNAPSHOT_MARKER.name} that names ${id}`);
          const marked = await acts.markKubernetes({ cluster, snapshot: id, takenAt });
          kubernetes = marked.mark;
          run.event('phase', marked.detail);
        }
        run.phase('snapshot', `streaming snapshot ${id} from ${plan.source.node} to ${plan.store} (${plan.compression === 'zstd' ? 'zstd, ' : ''}age to ${plan.recipients} recipient(s)${plan.leastPrivilege ? ', os:etcd:backup identity' : ''})`);
        const taken = await transfers
          .takeSnapshot({ cluster, id, node: plan.source.node, takenAt, trigger: input.trigger, requester: input.requester, source: plan.source, timeoutMs: t.transferTimeoutMs, ...(kubernetes ? { kubernetes } : {}) })
          .catch((err: unknown) => Promise.reject(stepFailure('snapshot', plan.source.node, err)));
        run.node(plan.source.node, 'done', `${(taken.bytes / 1024 / 1024).toFixed(1)} MiB stored (${(taken.storedBytes / 1024 / 1024).toFixed(1)} MiB encrypted), sha256 ${taken.sha256.slice(0, 12)}…`);

        run.phase('verify', `reading ${id} back: decrypt, hashes, etcd trailer, a throwaway etcd ${taken.versions.etcd}`);
        const verified = await transfers.verifySnapshot({ cluster, id }).catch((err: unknown) => Promise.reject(stepFailure('verify', undefined, err)));
        run.event('phase', `verified ${id}: ${verified.verification.detail ?? ''}`);

        let pruned: string[] = [];
        if (!input.skipRetention) {
          run.phase('retention', 'applying the retention policy');
          const p = await acts.pruneSnapshots({ cluster });
          pruned = p.removed;
          run.event('phase', `retention: ${p.detail}${p.removed.length ? ` (${p.removed.join(', ')})` : ''}`);
        }
        return { cluster, outcome: 'verified' as const, snapshot: verified, pruned };
      } catch (err) {
        await alarmIfStale();
        throw err;
      }
    },
    (r) => (r.outcome === 'skipped' ? r.detail : `snapshot of ${cluster} stored and verified: ${r.snapshot.id}`),
  );
}

// A snapshot finishes on the code it started with, even when a newer worker build is deployed meanwhile.
setWorkflowOptions({ versioningBehavior: 'PINNED' }, snapshotCluster);
