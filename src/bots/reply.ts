import { FleetError } from '../errors';

/**
 * An ephemeral reply through a command's `response_url` (valid for 30 minutes, 5 uses), for answers that come
 * after the command's own `respond` is out of reach (a modal's submission).
 */
export async function replyTo(responseUrl: string, text: string): Promise<void> {
  const res = await fetch(responseUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ response_type: 'ephemeral', replace_original: false, text }) });
  if (!res.ok) throw new FleetError('slack_response_url', `Slack refused the reply to the command (HTTP ${res.status})`);
}

/** The message a user sees for an error: ours as written, anything else as an unexpected failure. */
export function explain(err: unknown): string {
  if (err instanceof FleetError) return err.message.replace(/`talos-fleet abort ([^`]+)`/g, '`/fleet abort $1`');
  return `Something went wrong on our side (${(err as Error)?.message ?? String(err)}); the bot's log has the details.`;
}
