import { mayStart } from '../../authorization';
import { confirmRestoreModal } from '../../blocks/modals';
import type { Intent } from '../../commands';
import type { BotDeps } from '../../deps';
import { findCluster } from './cluster';
import type { CommandArgs } from './slash-command';

/** `/restore`: a restore destroys newer state, so it opens a modal that says what will happen; the submission starts it. */
export async function restoreCommand(deps: BotDeps, intent: Extract<Intent, { kind: 'restore' }>, { command, client }: CommandArgs): Promise<string | undefined> {
  const cluster = findCluster(deps.inventory(), intent.cluster);
  if (typeof cluster === 'string') return cluster;
  const verdict = await mayStart(cluster, 'restore', command.user_id, client, deps.groups);
  if (!verdict.allowed) return verdict.reason;
  await client.views.open({
    trigger_id: command.trigger_id,
    view: confirmRestoreModal(cluster, { cluster: cluster.name, ...(intent.snapshot ? { snapshot: intent.snapshot } : {}), responseUrl: command.response_url }),
  });
  return undefined;
}
