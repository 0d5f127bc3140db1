import type { AllMiddlewareArgs, SlackViewMiddlewareArgs, ViewSubmitAction } from '@slack/bolt';
import { mayStart } from '../../authorization';
import type { ConfirmMetadata } from '../../blocks/modals';
import { startedText } from '../../blocks/replies';
import type { BotDeps } from '../../deps';
import { explain, replyTo } from '../../reply';
import { startRun } from '../../start';
import { findCluster } from '../commands/cluster';

/** The restore modal's submission: checked again (the inventory may have changed), then the restore starts. */
export function confirmRestore(deps: BotDeps) {
  return async ({ ack, body, view, client, logger }: AllMiddlewareArgs & SlackViewMiddlewareArgs<ViewSubmitAction>): Promise<void> => {
    await ack();
    const meta = JSON.parse(view.private_metadata) as ConfirmMetadata;
    let text: string;
    try {
      const cluster = findCluster(deps.inventory(), meta.cluster);
      if (typeof cluster === 'string') text = cluster;
      else {
        const verdict = await mayStart(cluster, 'restore', body.user.id, client, deps.groups);
        text = verdict.allowed ? startedText('restore', cluster, await startRun(deps, { operation: 'restore', cluster: cluster.name, ...(meta.snapshot ? { snapshot: meta.snapshot } : {}) }, body.user.id)) : verdict.reason;
      }
    } catch (err) {
      logger.error(`restore ${meta.cluster}: ${(err as Error).stack ?? String(err)}`);
      text = explain(err);
    }
    await replyTo(meta.responseUrl, text).catch((err: Error) => logger.error(`reply to the restore modal failed: ${err.message}`));
  };
}
