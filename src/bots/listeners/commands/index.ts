import type { App } from '@slack/bolt';
import type { BotDeps } from '../../deps';
import { slashCommand } from './slash-command';

/** The slash commands of the app manifest (slack/manifest.yaml). */
export const COMMANDS = ['/upgrade', '/upgrade-k8s', '/snapshot', '/restore', '/fleet'] as const;

const ANY_COMMAND = new RegExp(`^(${COMMANDS.map((c) => c.replace(/[-/]/g, '\\$&')).join('|')})$`);

/** Registers every slash command as one listener: Bolt runs each listener's middleware for every request, before the ack. */
export function register(app: App, deps: BotDeps): void {
  app.command(ANY_COMMAND, slashCommand(deps));
}
