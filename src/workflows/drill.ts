import { setWorkflowOptions } from '@temporalio/workflow';
import { DEFAULT_BACKUP_TIMINGS, type BackupTimings, type DrillClusterInput, type DrillClusterResult } from '../shared/backups';
import { Run, stepFailure } from './run';
import { backupActivities } from './snapshot';

/**
 * A restore drill: the newest verified snapshot (or the one named) is read back, restored into a throwaway etcd of
 * the version the cluster runs, counted, and compared with what it held when it was verified (keys, revision, the
 * Kubernetes registry and its objects per resource). The result is kept in the snapshot's record and notified; a
 * drill that finds a difference fails, and the staleness alarm is checked either way.
 */
export async function drillCluster(input: DrillClusterInput): Promise<DrillClusterResult> {
  const run = new Run('drill', input.cluster, input.requester);
  const t: BackupTimings = { ...DEFAULT_BACKUP_TIMINGS, ...input.timing };
  const { acts, transfers } = backupActivities(t);
  const cluster = input.cluster;

  return run.execute(
    async () => {
      try {
        run.phase('choose', `choosing the snapshot of ${cluster} to drill`);
        const chosen = await acts.chooseSnapshot({ cluster, from: input.snapshot ?? 'latest' });
        run.phase('drill', `restoring ${chosen.id} into a throwaway etcd and counting`);
        const { drill, content } = await transfers.drillSnapshot({ cluster, id: chosen.id }).catch((err: unknown) => Promise.reject(stepFailure('drill', undefined, err)));
        if (!drill.ok) throw stepFailure('drill', undefined, new Error(`drill of ${chosen.id}: ${drill.detail}`));
        run.event('phase', `drill of ${chosen.id}: ${drill.detail}`);
        return { cluster, snapshot: chosen.id, drill, content };
      } finally {
        const s = await acts.checkStaleness({ cluster }).catch(() => undefined);
        if (s?.stale) run.event('alarm', `backups are stale: ${s.detail}`);
      }
    },
    (r) => `drill of ${r.snapshot}: ${r.drill.detail}`,
  );
}

// A drill finishes on the code it started with, even when a newer worker build is deployed meanwhile.
setWorkflowOptions({ versioningBehavior: 'PINNED' }, drillCluster);
