import type { App } from '@slack/bolt';
import type { BotDeps } from '../../deps';
import { slashCommand } from './slash-command';

/** The slash commands of the app manifest (slack/manifest.yaml). */
export const COMMANDS = ['/upgrade', '/upgrade-k8s', '/snapshot', '/restore', '/fleet'] as const;

/** Registers every slash command. */
export function register(app: App, deps: BotDeps): void {
  const callback = slashCommand(deps);
  for (const command of COMMANDS) app.command(command, callback);
}
