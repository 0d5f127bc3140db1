import { LogNotifier, Notifiers, type Notifier } from '../activities/notify';
import type { RuntimeSettings } from '../runtime/settings';
import { slackNotifier } from './bot';
import { slackSecretsFromEnv } from './config';

/** The worker's notifiers: the log, and Slack too when `SLACK_BOT_TOKEN` (or `_FILE`) is set. */
export function notifiersFromEnv(settings: Pick<RuntimeSettings, 'inventoryPath' | 'uiUrl' | 'namespace'>, env: NodeJS.ProcessEnv = process.env): Notifier {
  const secrets = slackSecretsFromEnv(env);
  return secrets ? new Notifiers([new LogNotifier(), slackNotifier({ secrets, settings })]) : new LogNotifier();
}
