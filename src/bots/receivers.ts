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
  const receiver = new SocketModeReceiver({ appToken: secrets.appToken!, logger, installerOptions: { clientOptions: { slackApiUrl: apiUrl } } });
  handleReconnectFailures(receiver.client, logger);
  return receiver;
}

/** The parts of @slack/socket-mode's client that its reconnect goes through (not in its typings). */
interface ReconnectingClient {
  shuttingDown?: boolean;
  delayReconnectAttempt(start: () => Promise<unknown>): Promise<unknown>;
}

/**
 * @slack/socket-mode (3.1.0 here) reconnects with `start().then(...)` and no rejection handler
 * (slackapi/node-slack-sdk#2656): a reconnect that fails, or one that a `disconnect()` (the bot stopping) races,
 * rejects unhandled and Node ends the whole process with exit code 1 (seen as `talos-fleet dev` failing its Ctrl-C
 * once in CI). Here a reconnect's failure is handled: while the client shuts down it is the expected end of that
 * reconnect; otherwise it is logged, and the client's own close handling starts the next attempt.
 */
function handleReconnectFailures(client: SocketModeReceiver['client'], logger: Logger): void {
  const c = client as unknown as ReconnectingClient;
  const delay = c.delayReconnectAttempt.bind(client);
  c.delayReconnectAttempt = (start) =>
    delay(function (this: ReconnectingClient) {
      return start.apply(this).catch((err: unknown) => {
        if (!c.shuttingDown) logger.warn(`Socket Mode reconnect failed: ${err instanceof Error ? err.message : String(err)}; the client reconnects when its WebSocket closes again`);
        return undefined;
      });
    });
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
