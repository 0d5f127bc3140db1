import type { AllMiddlewareArgs, SlackCommandMiddlewareArgs } from '@slack/bolt';
import { FleetError } from '../../../errors';
import { helpText, parseCommand, type Intent } from '../../commands';
import type { BotDeps } from '../../deps';
import { explain } from '../../reply';
import { abortCommand } from './abort';
import { fleetRuns, fleetStatus } from './fleet-status';
import { planUpgrade } from './plan-upgrade';
import { restoreCommand } from './restore';
import { startCommand } from './start-run';

/** Arguments every command handler gets. */
export type CommandArgs = AllMiddlewareArgs & SlackCommandMiddlewareArgs;

async function handle(deps: BotDeps, intent: Intent, args: CommandArgs): Promise<string | undefined> {
  switch (intent.kind) {
    case 'help':
      return helpText();
    case 'status':
      return fleetStatus(deps, intent.cluster);
    case 'runs':
      return fleetRuns(deps, intent.cluster);
    case 'plan-upgrade':
      return planUpgrade(deps, intent.cluster, intent.version);
    case 'start':
      return startCommand(deps, intent, args);
    case 'restore':
      return restoreCommand(deps, intent, args);
    case 'abort':
      return abortCommand(deps, intent.run, args);
  }
}

/**
 * Every slash command: acknowledged first (Slack's 3 seconds), then parsed, checked and carried out; the answer is
 * an ephemeral reply to the person who typed it. Bad input and refusals start nothing.
 */
export function slashCommand(deps: BotDeps) {
  return async (args: CommandArgs): Promise<void> => {
    const { ack, command, respond, logger } = args;
    await ack();
    // Let every other request that has arrived be acknowledged before this one's work starts: under a burst, acks
    // come first (Slack's 3 seconds), the work can wait its turn.
    await new Promise((resolve) => setImmediate(resolve));
    let text: string | undefined;
    try {
      const intent = parseCommand(command.command, command.text);
      text = 'error' in intent ? intent.error : await handle(deps, intent, args);
    } catch (err) {
      // Our own errors (a run already going, a plan refused) are answers; anything else is a fault, logged with its stack.
      if (!(err instanceof FleetError)) logger.error(`${command.command} ${command.text}: ${(err as Error).stack ?? String(err)}`);
      text = explain(err);
    }
    if (text) await respond({ response_type: 'ephemeral', text }).catch((err: Error) => logger.error(`reply to ${command.command} failed: ${err.message}`));
  };
}
