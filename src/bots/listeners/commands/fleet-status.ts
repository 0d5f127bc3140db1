import { listRuns, runProgress } from '../../../runtime/runs';
import { clusterStatusLine, runLine } from '../../blocks/replies';
import type { BotDeps } from '../../deps';
import { findCluster } from './cluster';

/** `/fleet status [CLUSTER]`: each cluster as the inventory has it, with its current or latest run (from Temporal, not the nodes). */
export async function fleetStatus(deps: BotDeps, name?: string): Promise<string> {
  const inventory = deps.inventory();
  const one = name ? findCluster(inventory, name) : undefined;
  if (typeof one === 'string') return one;
  const clusters = one ? [one] : inventory.inventory.clusters;
  if (!clusters.length) return 'The inventory lists no clusters yet.';
  const lines = await Promise.all(
    clusters.map(async (c) => {
      const [latest] = await listRuns(deps.temporal, { cluster: c.name, limit: 1 });
      const progress = latest?.status === 'running' ? await runProgress(deps.temporal, latest.id).catch(() => undefined) : undefined;
      return clusterStatusLine(c, latest, progress);
    }),
  );
  return lines.join('\n');
}

/** `/fleet runs [CLUSTER]`: the ten latest runs. */
export async function fleetRuns(deps: BotDeps, cluster?: string): Promise<string> {
  const runs = await listRuns(deps.temporal, { ...(cluster ? { cluster } : {}), limit: 10 });
  if (!runs.length) return cluster ? `No runs of ${cluster} yet.` : 'No runs yet.';
  return [`*Latest runs${cluster ? ` of ${cluster}` : ''}*`, ...runs.map(runLine)].join('\n');
}
