import { runHandle, runRef } from '../../../runtime/runs';
import { isApprover, progressQuery } from '../../../shared/runs';
import { approverGroupsOf } from '../../authorization';
import { confirmAbortModal } from '../../blocks/modals';
import { who } from '../../blocks/text';
import type { BotDeps } from '../../deps';
import type { CommandArgs } from './slash-command';

/**
 * `/fleet abort RUN`: finds the run and, if it is running, opens a modal that shows where it stands and what
 * stopping it means; the submission sends the abort.
 */
export async function abortCommand(deps: BotDeps, run: string, { command, client }: CommandArgs): Promise<string | undefined> {
  const handle = runHandle(deps.temporal, run);
  const description = await handle.describe().catch(() => undefined);
  if (!description) return `There is no run \`${run}\`. \`/fleet runs\` lists them.`;
  const ref = runRef(description.workflowId, description.runId);
  if (description.status.name !== 'RUNNING') return `Run \`${ref}\` is not running (it is ${description.status.name.toLowerCase()}): there is nothing to abort.`;
  const progress = await deps.temporal.workflow.getHandle(description.workflowId, description.runId).query(progressQuery);
  // The workflow decides (its requester and the cluster's approvers may abort); asked here too, so nobody fills in
  // a modal only to be refused.
  const cluster = deps.inventory().inventory.clusters.find((c) => c.name === progress.cluster);
  const groups = await approverGroupsOf(cluster, command.user_id, client, deps.groups);
  if (command.user_id !== progress.requester && !isApprover(cluster?.policy.approvers ?? [], command.user_id, groups)) {
    return `You may not abort run \`${ref}\`: only the person who started it (${who(progress.requester)}) and the approvers of ${progress.cluster} may.`;
  }
  await client.views.open({ trigger_id: command.trigger_id, view: confirmAbortModal(ref, progress, { cluster: progress.cluster, run: ref, responseUrl: command.response_url }) });
  return undefined;
}
