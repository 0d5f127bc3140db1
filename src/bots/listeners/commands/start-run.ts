import type { Intent } from '../../commands';
import { mayStart } from '../../authorization';
import { startedText } from '../../blocks/replies';
import type { BotDeps } from '../../deps';
import { startRun } from '../../start';
import { findCluster } from './cluster';
import type { CommandArgs } from './slash-command';

/** `/upgrade`, `/upgrade-k8s`, `/snapshot`, `/fleet install`: checks the cluster and the user, then starts the run. */
export async function startCommand(deps: BotDeps, intent: Extract<Intent, { kind: 'start' }>, { command, client }: CommandArgs): Promise<string> {
  const cluster = findCluster(deps.inventory(), intent.cluster);
  if (typeof cluster === 'string') return cluster;
  const verdict = await mayStart(cluster, intent.operation, command.user_id, client, deps.groups);
  if (!verdict.allowed) return verdict.reason;
  const request =
    intent.operation === 'upgrade-k8s'
      ? { operation: intent.operation, cluster: cluster.name, version: intent.version! }
      : intent.operation === 'upgrade'
        ? { operation: intent.operation, cluster: cluster.name, ...(intent.version ? { version: intent.version } : {}) }
        : { operation: intent.operation, cluster: cluster.name };
  const run = await startRun(deps, request, command.user_id);
  return startedText(intent.operation, cluster, run);
}
