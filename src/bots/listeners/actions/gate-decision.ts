import type { AllMiddlewareArgs, BlockButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import { FleetError } from '../../../errors';
import { decide, parseRunRef } from '../../../runtime/runs';
import type { GateChoice } from '../../../shared/runs';
import { GATE_ACTION_PREFIX, type GateButtonValue } from '../../blocks/ids';
import { approverGroupsOf } from '../../authorization';
import { mentionIds } from '../../blocks/text';
import type { BotDeps } from '../../deps';
import { explain } from '../../reply';

type ButtonArgs = AllMiddlewareArgs & SlackActionMiddlewareArgs<BlockButtonAction>;

function parseValue(value: string | undefined): GateButtonValue | undefined {
  try {
    const v = JSON.parse(value ?? '') as Partial<GateButtonValue>;
    return typeof v.r === 'string' && typeof v.g === 'string' && typeof v.o === 'string' ? (v as GateButtonValue) : undefined;
  } catch {
    return undefined;
  }
}

/** The cluster of a run reference (`prod@…` → `prod`). */
function clusterOf(ref: string): string {
  return parseRunRef(ref).workflowId.replace(/^talos-fleet\//, '');
}

/**
 * The Update id of a click: the run, the gate (name and when it opened), the clicker and the choice. A double click,
 * or Slack delivering the same click twice, sends the same id, and Temporal applies it once.
 */
export function clickUpdateId(value: GateButtonValue, user: string, choice: GateChoice): string {
  const { runId } = parseRunRef(value.r);
  return `slack:${runId ?? value.r}:${value.g}@${value.o}:${user}:${choice}`;
}

/**
 * A gate button: acknowledged first, then a `decide` Update carrying the clicker's Slack user id (and the approver
 * user groups they are in). The workflow's
 * validator decides; a refusal (not an approver, self-approval, gate no longer open) changes nothing and comes
 * back as an ephemeral reply to the clicker. The message itself is redrawn by the run's notifications.
 */
export function gateDecision(deps: BotDeps) {
  return async ({ ack, body, action, client, logger }: ButtonArgs): Promise<void> => {
    await ack();
    const choice = action.action_id.slice(GATE_ACTION_PREFIX.length) as GateChoice;
    const user = body.user.id;
    const channel: string | undefined = body.channel?.id ?? (body.container as { channel_id?: string } | undefined)?.channel_id;
    const tell = async (text: string) => {
      if (channel) await client.chat.postEphemeral({ channel, user, text }).catch((err: Error) => logger.error(`ephemeral reply failed: ${err.message}`));
    };
    const value = parseValue(action.value);
    if (!value) return tell('This button does not carry a run: it was not posted by talos-fleet.');
    try {
      const cluster = deps.inventory().inventory.clusters.find((c) => c.name === clusterOf(value.r));
      const groups = await approverGroupsOf(cluster, user, client, deps.groups);
      await decide(deps.temporal, value.r, { gate: value.g, choice, user, ...(groups.length ? { groups } : {}) }, clickUpdateId(value, user, choice));
    } catch (err) {
      if (err instanceof FleetError && err.code.startsWith('gate_refused:')) return tell(`Your *${choice}* was not accepted: ${mentionIds(err.message)}`);
      const message = (err as Error).message ?? '';
      if (/already completed|not found/i.test(message)) return tell(`Run \`${value.r}\` has already ended: there is nothing left to decide.`);
      logger.error(`decide ${value.r} ${choice} by ${user}: ${(err as Error).stack ?? message}`);
      return tell(explain(err));
    }
  };
}
