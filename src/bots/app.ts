import { App, type Logger, type Receiver } from '@slack/bolt';
import type { SlackSecrets } from './config';
import type { BotDeps } from './deps';
import { register as registerActions } from './listeners/actions';
import { register as registerCommands } from './listeners/commands';
import { register as registerViews } from './listeners/views';

/** What the app needs besides its receiver. */
export interface BotAppOptions {
  secrets: SlackSecrets;
  /** The Web API base URL (`SLACK_API_URL`). */
  apiUrl: string;
  logger: Logger;
  deps: BotDeps;
  /** The bot's ids, when known: Bolt then skips `auth.test` at start (tests, Lambda cold starts). */
  identity?: { botId: string; botUserId: string };
}

/**
 * The Bolt app: the same listeners whatever the receiver (Socket Mode, HTTP, Lambda). Web API calls from listeners
 * are interactive, so they retry briefly, never for Slack's default half hour.
 */
export function createBotApp(receiver: Receiver, opts: BotAppOptions): App {
  const app = new App({
    receiver,
    token: opts.secrets.botToken,
    logger: opts.logger,
    // No conversation state is kept: Bolt's default store would look each request's channel up (and reject with a
    // new Error) before the listener can acknowledge.
    convoStore: false,
    clientOptions: { slackApiUrl: opts.apiUrl, retryConfig: { retries: 2, factor: 2, minTimeout: 200, maxTimeout: 1_000 } },
    ...(opts.identity ?? {}),
  });
  registerCommands(app, opts.deps);
  registerActions(app, opts.deps);
  registerViews(app, opts.deps);
  app.error(async (err) => opts.logger.error(`unhandled: ${err.stack ?? err.message}`));
  return app;
}
