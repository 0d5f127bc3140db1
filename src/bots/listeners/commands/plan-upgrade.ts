import type { BotDeps } from '../../deps';
import { findCluster } from './cluster';

/** `/fleet plan upgrade CLUSTER VERSION`: the planner's plan, without starting anything. */
export async function planUpgrade(deps: BotDeps, name: string, version: string): Promise<string> {
  const cluster = findCluster(deps.inventory(), name);
  if (typeof cluster === 'string') return cluster;
  if (!deps.planUpgrade) return `This build of talos-fleet has no upgrade planner yet, so it cannot plan ${cluster.name} → ${version}; \`/upgrade ${cluster.name} ${version}\` shows its plan at the start gate instead.`;
  return deps.planUpgrade(cluster.name, version);
}
