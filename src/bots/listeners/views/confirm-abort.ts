import type { AllMiddlewareArgs, SlackViewMiddlewareArgs, ViewSubmitAction } from '@slack/bolt';
import { FleetError } from '../../../errors';
import { abortRun } from '../../../runtime/runs';
import { approverGroupsOf } from '../../authorization';
import { REASON_BLOCK, REASON_INPUT } from '../../blocks/ids';
import type { ConfirmMetadata } from '../../blocks/modals';
import { mentionIds } from '../../blocks/text';
import type { BotDeps } from '../../deps';
import { explain, replyTo } from '../../reply';

/** The abort modal's submission: the abort Update with the submitter's user id and reason; the workflow decides. */
export function confirmAbort(deps: BotDeps) {
  return async ({ ack, body, view, client, logger }: AllMiddlewareArgs & SlackViewMiddlewareArgs<ViewSubmitAction>): Promise<void> => {
    await ack();
    const meta = JSON.parse(view.private_metadata) as ConfirmMetadata;
    const reason = view.state.values[REASON_BLOCK]?.[REASON_INPUT]?.value ?? undefined;
    let text: string;
    try {
      const cluster = deps.inventory().inventory.clusters.find((c) => c.name === meta.cluster);
      const groups = await approverGroupsOf(cluster, body.user.id, client, deps.groups);
      const answer = await abortRun(deps.temporal, meta.run!, body.user.id, reason || undefined, groups);
      text = `Abort of \`${meta.run}\` requested: ${answer}.`;
    } catch (err) {
      if (err instanceof FleetError && err.code.startsWith('gate_refused:')) text = `The abort was not accepted: ${mentionIds(err.message)}`;
      else {
        logger.error(`abort ${meta.run}: ${(err as Error).stack ?? String(err)}`);
        text = explain(err);
      }
    }
    await replyTo(meta.responseUrl, text).catch((err: Error) => logger.error(`reply to the abort modal failed: ${err.message}`));
  };
}
