import { createHmac, randomUUID } from 'node:crypto';
import type { AwsEventV1 } from '@slack/bolt/dist/receivers/AwsLambdaReceiver';

/** Slack's request signature: `v0=` HMAC-SHA256 of `v0:<timestamp>:<raw body>` with the signing secret. */
export function signature(secret: string, timestamp: number, body: string): string {
  return `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
}

/** The headers Slack sends with a form-encoded request, signed (or with the timestamp and signature given). */
export function signedHeaders(secret: string, body: string, opts: { timestamp?: number; signature?: string } = {}): Record<string, string> {
  const timestamp = opts.timestamp ?? Math.floor(Date.now() / 1000);
  return { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': String(timestamp), 'x-slack-signature': opts.signature ?? signature(secret, timestamp, body) };
}

/** Who sends a request, and from where. */
export interface Sender {
  user: string;
  channel: string;
}

/** A slash command's fields, as Slack sends them. */
export function slashCommand(command: string, text: string, from: Sender, responseUrl: string): Record<string, string> {
  return {
    token: 'deprecated-verification-token',
    team_id: 'T0FAKE',
    team_domain: 'fake',
    channel_id: from.channel,
    channel_name: 'ops',
    user_id: from.user,
    user_name: from.user.toLowerCase(),
    command,
    text,
    api_app_id: 'A0FAKE',
    is_enterprise_install: 'false',
    response_url: responseUrl,
    trigger_id: `${Date.now()}.${randomUUID()}`,
  };
}

/** A click on a message button, as the `payload` of a block_actions interaction. */
export function buttonClick(from: Sender, message: { ts: string }, button: { action_id: string; value: string }): Record<string, unknown> {
  return {
    type: 'block_actions',
    user: { id: from.user, username: from.user.toLowerCase(), name: from.user.toLowerCase(), team_id: 'T0FAKE' },
    api_app_id: 'A0FAKE',
    token: 'deprecated-verification-token',
    container: { type: 'message', message_ts: message.ts, channel_id: from.channel, is_ephemeral: false },
    trigger_id: `${Date.now()}.${randomUUID()}`,
    team: { id: 'T0FAKE', domain: 'fake' },
    channel: { id: from.channel, name: 'ops' },
    message: { type: 'message', ts: message.ts, text: '' },
    response_url: 'http://127.0.0.1:9/unused',
    actions: [{ type: 'button', action_id: button.action_id, block_id: 'gate-actions', value: button.value, text: { type: 'plain_text', text: button.action_id }, action_ts: `${Date.now() / 1000}` }],
  };
}

/** The payload of a click on the button `actionId` of a message (a gate's Approve, Roll back...); throws when it has none. */
export function clickOn(from: Sender, message: { ts: string; blocks: unknown[] }, actionId: string): Record<string, unknown> {
  const blocks = message.blocks as { elements?: { action_id: string; value: string }[] }[];
  const button = blocks.flatMap((b) => b.elements ?? []).find((e) => e.action_id === actionId);
  if (!button) throw new Error(`the message has no ${actionId} button`);
  return buttonClick(from, message, button);
}

/** A modal's submission, as the `payload` of a view_submission interaction. */
export function viewSubmission(user: string, view: { callback_id: string; private_metadata: string }, values: Record<string, Record<string, { type: string; value: string | null }>> = {}): Record<string, unknown> {
  return {
    type: 'view_submission',
    team: { id: 'T0FAKE', domain: 'fake' },
    user: { id: user, username: user.toLowerCase(), name: user.toLowerCase(), team_id: 'T0FAKE' },
    api_app_id: 'A0FAKE',
    token: 'deprecated-verification-token',
    trigger_id: `${Date.now()}.${randomUUID()}`,
    view: { id: 'V0FAKE', type: 'modal', callback_id: view.callback_id, private_metadata: view.private_metadata, state: { values }, hash: 'h' },
  };
}

/** Form-encodes a command's fields, or an interaction as `payload=<json>`. */
export function formBody(fields: Record<string, string> | { payload: Record<string, unknown> }): string {
  const params = new URLSearchParams();
  if ('payload' in fields && typeof fields.payload === 'object') params.set('payload', JSON.stringify(fields.payload));
  else for (const [k, v] of Object.entries(fields as Record<string, string>)) params.set(k, v);
  return params.toString();
}

/** Posts a body to the bot's HTTP receiver with the given headers; the status, the answer and how long it took. */
export async function post(url: string, body: string, headers: Record<string, string>): Promise<{ status: number; text: string; ms: number }> {
  const started = performance.now();
  const res = await fetch(url, { method: 'POST', headers, body });
  const text = await res.text();
  return { status: res.status, text, ms: performance.now() - started };
}

/** An API Gateway (REST, payload 1.0) event carrying a signed Slack request, as Lambda hands it to the handler. */
export function apiGatewayEvent(body: string, headers: Record<string, string>): AwsEventV1 {
  return {
    resource: '/slack/events',
    path: '/slack/events',
    httpMethod: 'POST',
    headers: { Host: 'abc123.execute-api.eu-west-1.amazonaws.com', 'Content-Type': headers['content-type']!, 'X-Slack-Request-Timestamp': headers['x-slack-request-timestamp']!, 'X-Slack-Signature': headers['x-slack-signature']! },
    multiValueHeaders: {},
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: null,
    stageVariables: null,
    requestContext: { resourcePath: '/slack/events', httpMethod: 'POST', stage: 'prod', requestId: randomUUID() },
    body: Buffer.from(body).toString('base64'),
    isBase64Encoded: true,
  };
}
