import type { BotDeps } from '../../deps';
import { planUpgradeViaTemporal } from '../../plan';
import { findCluster } from './cluster';

/** `/fleet plan upgrade CLUSTER VERSION`: the planner's plan (path, order, gates) or its refusal, starting nothing. */
export async function planUpgrade(deps: BotDeps, name: string, version: string): Promise<string> {
  const cluster = findCluster(deps.inventory(), name);
  if (typeof cluster === 'string') return cluster;
  const plan = await (deps.planUpgrade ?? ((c: string, v: string) => planUpgradeViaTemporal(deps.temporal, deps.settings, c, v)))(cluster.name, version);
  return `*Plan: upgrade ${cluster.name} to ${version}* (nothing was started)\n\`\`\`${plan}\`\`\``;
}
