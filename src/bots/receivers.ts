import { AwsLambdaReceiver, HTTPReceiver, SocketModeReceiver, type Logger } from '@slack/bolt';
import type { AwsEvent, AwsHandler } from '@slack/bolt/dist/receivers/AwsLambdaReceiver';
import type { SlackSecrets } from './config';
import { guardRequests, ReplayGuard } from './replay';

/** The path Slack posts commands and interactions to in HTTP and Lambda mode (the manifest's request URLs). */
export const EVENTS_PATH = '/slack/events';

/**
 * HTTP: Bolt's HTTPReceiver (signature and timestamp verified by Bolt; replays refused by our guard). It answers
 * Slack as soon as a listener calls `ack()`, and the listener carries on.
 */
export function httpReceiver(secrets: SlackSecrets, logger: Logger, guard = new ReplayGuard()): HTTPReceiver {
  const signingSecret = secrets.signingSecret!;
  const receiver = new HTTPReceiver({ signingSecret, endpoints: EVENTS_PATH, logger, processBeforeResponse: false });
  receiver.requestListener = guardRequests(receiver.requestListener, signingSecret, guard, logger);
  return receiver;
}

/**
 * Socket Mode: Bolt's SocketModeReceiver opens a WebSocket to Slack (the URL from `apps.connections.open` on
 * `apiUrl`, with the app-level token), so the bot needs no public address; each envelope is acknowledged on it.
 */
export function socketModeReceiver(secrets: SlackSecrets, logger: Logger, apiUrl: string): SocketModeReceiver {
  return new SocketModeReceiver({ appToken: secrets.appToken!, logger, installerOptions: { clientOptions: { slackApiUrl: apiUrl } } });
}

/** AWS Lambda: Bolt's AwsLambdaReceiver, which verifies each event and answers only once the listener has finished. */
export function lambdaReceiver(secrets: SlackSecrets, logger: Logger): AwsLambdaReceiver {
  return new AwsLambdaReceiver({ signingSecret: secrets.signingSecret!, logger });
}

function header(event: AwsEvent, name: string): string | undefined {
  const key = Object.keys(event.headers ?? {}).find((k) => k.toLowerCase() === name);
  return key ? event.headers[key] : undefined;
}

/**
 * The Lambda handler: the receiver's, behind the replay guard. A Lambda instance remembers only the requests it
 * served itself; a replay that reaches another instance still cannot start a second run or count a click twice
 * (one workflow id per cluster, one Update id per click).
 */
export async function lambdaHandler(receiver: AwsLambdaReceiver, secrets: SlackSecrets, guard = new ReplayGuard()): Promise<AwsHandler> {
  const handler = await receiver.start();
  return async (event, context) => {
    const raw = event.body ? (event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body) : '';
    if (!guard.check(secrets.signingSecret!, raw, header(event, 'x-slack-request-timestamp'), header(event, 'x-slack-signature'))) return { statusCode: 401, body: '' };
    return handler(event, context);
  };
}
