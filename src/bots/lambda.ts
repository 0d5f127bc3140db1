import type { AwsEvent, AwsHandler } from '@slack/bolt/dist/receivers/AwsLambdaReceiver';
import { runtimeSettings } from '../runtime/settings';
import { createBotLambdaHandler } from './bot';
import { slackSecretsFromEnv } from './config';

let ready: Promise<AwsHandler> | undefined;

/**
 * The Slack bot as an AWS Lambda function (API Gateway or a function URL; request URL `…/slack/events`). Configured
 * from the function's environment at cold start: `SLACK_BOT_TOKEN`, `SLACK_SIGNING_SECRET` (or their `_FILE`s),
 * Temporal's `TEMPORAL_*` variables or `temporal.toml`, `TALOS_FLEET_INVENTORY`, `TEMPORAL_TASK_QUEUE`.
 */
export const handler: AwsHandler = async (event: AwsEvent, context: unknown) => {
  ready ??= (async () => {
    const secrets = slackSecretsFromEnv();
    if (!secrets) throw new Error('SLACK_BOT_TOKEN (or SLACK_BOT_TOKEN_FILE) is not set');
    return (await createBotLambdaHandler({ secrets, settings: runtimeSettings() })).handler;
  })();
  ready.catch(() => (ready = undefined));
  return (await ready)(event, context);
};
