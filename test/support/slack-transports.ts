import type { AwsHandler } from '@slack/bolt/dist/receivers/AwsLambdaReceiver';
import { apiGatewayEvent, formBody, post, signature, signedHeaders } from './slack-requests';
import type { SocketModeServer } from './socket-mode';

/** How a test plays Slack towards one of the bot's receivers: the same requests, each receiver's way of carrying them. */
export interface SlackTransport {
  readonly name: 'HTTP' | 'Socket Mode' | 'Lambda';
  /** Sends a slash command; the status of its acknowledgement (200: acknowledged). */
  command(fields: Record<string, string>): Promise<number>;
  /** Sends an interaction (a button click, a modal submission); the status of its acknowledgement. */
  interaction(payload: Record<string, unknown>): Promise<number>;
}

/** A transport whose requests are signed with the signing secret (HTTP, Lambda): tests can also forge, age or replay one. */
export interface SignedTransport extends SlackTransport {
  /** Delivers a form body with exactly these headers; the status of the answer. */
  deliver(body: string, headers: Record<string, string>): Promise<number>;
  readonly secret: string;
}

/** Whether requests through this transport carry Slack's signature. */
export function isSigned(via: SlackTransport): via is SignedTransport {
  return 'deliver' in via;
}

function signedTransport(name: 'HTTP' | 'Lambda', secret: string, deliver: (body: string, headers: Record<string, string>) => Promise<number>): SignedTransport {
  const send = (body: string) => deliver(body, signedHeaders(secret, body));
  return { name, secret, deliver, command: (fields) => send(formBody(fields)), interaction: (payload) => send(formBody({ payload })) };
}

/** Signed requests to the HTTP receiver at `url` (`…/slack/events`). */
export function httpTransport(url: string, secret: string): SignedTransport {
  return signedTransport('HTTP', secret, async (body, headers) => (await post(url, body, headers)).status);
}

/** The Lambda handler invoked with signed API Gateway events, as Lambda invokes it behind API Gateway. */
export function lambdaTransport(handler: AwsHandler, secret: string): SignedTransport {
  return signedTransport('Lambda', secret, async (body, headers) => ((await handler(apiGatewayEvent(body, headers), {})) as { statusCode: number }).statusCode);
}

/** Envelopes on a loopback Socket Mode connection; an envelope the app acknowledges counts as 200. */
export function socketTransport(sm: SocketModeServer): SlackTransport {
  return {
    name: 'Socket Mode',
    command: async (fields) => (await sm.send('slash_commands', fields), 200),
    interaction: async (payload) => (await sm.send('interactive', payload), 200),
  };
}

/**
 * Sends one signed request the ways an attacker would, around the genuine one: with a forged signature, signed ten
 * minutes ago, then the genuine request, then the genuine request again (a replay). The four statuses, in that order.
 */
export async function forgedStaleGenuineReplayed(via: SignedTransport, body: string): Promise<number[]> {
  const now = Math.floor(Date.now() / 1000);
  const forged = await via.deliver(body, signedHeaders(via.secret, body, { signature: signature('not-the-signing-secret', now, body) }));
  const stale = await via.deliver(body, signedHeaders(via.secret, body, { timestamp: now - 600 }));
  const headers = signedHeaders(via.secret, body);
  const genuine = await via.deliver(body, headers);
  const replayed = await via.deliver(body, headers);
  return [forged, stale, genuine, replayed];
}
