import { webApi } from '@slack/bolt';
import { FleetError } from '../errors';
import { delay } from '../time';

/** The Web API base URL: `SLACK_API_URL` (GovSlack: `https://slack-gov.com/api/`; tests: a loopback fake), else Slack's. */
export function slackApiUrl(env: NodeJS.ProcessEnv = process.env): string {
  const url = env.SLACK_API_URL?.trim() || 'https://slack.com/api/';
  // web-api joins method names onto the base: without the trailing slash `chat.postMessage` would replace `api`.
  return url.endsWith('/') ? url : `${url}/`;
}

/** Slack's error codes that retrying cannot fix, and what to do about each. */
const PERMANENT: Record<string, string> = {
  not_in_channel: 'the bot is not a member of the channel: invite it there (`/invite @talos-fleet`)',
  channel_not_found: 'the channel does not exist or the bot cannot see it: check `slack.channel` in the inventory and invite the bot',
  is_archived: 'the channel is archived: unarchive it or set another `slack.channel`',
  invalid_auth: 'Slack does not accept the bot token (SLACK_BOT_TOKEN): reinstall the app and copy its Bot User OAuth Token',
  not_authed: 'no bot token was sent: set SLACK_BOT_TOKEN or SLACK_BOT_TOKEN_FILE',
  token_revoked: 'the bot token was revoked: reinstall the app and copy its new Bot User OAuth Token',
  account_inactive: 'the bot token belongs to a deactivated app or workspace',
  missing_scope: 'the app lacks a scope it needs: reinstall it from slack/manifest.yaml',
  msg_too_long: 'a message was too long for Slack',
  invalid_blocks: 'Slack refused the message blocks',
};

/** A Web API failure as our error: Slack's code, what to do, and whether a retry can help (never the token). */
export function slackFailure(method: string, err: unknown): FleetError {
  const e = err as { code?: string; data?: { error?: string; response_metadata?: { messages?: string[] } }; message?: string };
  if (e.code === webApi.ErrorCode.PlatformError && e.data?.error) {
    const code = e.data.error;
    const hint = PERMANENT[code];
    const detail = e.data.response_metadata?.messages?.join('; ');
    return new FleetError(`slack_${code}`, `Slack refused ${method} (${code})${hint ? `: ${hint}` : ''}${detail ? ` [${detail}]` : ''}`, { cause: err, retryable: !hint });
  }
  return new FleetError('slack_unreachable', `Slack's Web API did not answer ${method}: ${e.message ?? String(err)}`, { cause: err, retryable: true });
}

/** How long a call may keep waiting out rate limits, and how it waits (tests inject both). */
export interface RateLimitBudget {
  /** Epoch ms after which a rate limit is no longer waited out but reported (the activity is retried later). */
  deadline: number;
  sleep?: (ms: number) => Promise<void>;
  /** Told of every wait (tests, logs). */
  onRateLimited?: (method: string, retryAfterMs: number) => void;
}

/**
 * Makes one Web API call, waiting as long as Slack's `Retry-After` says whenever it answers 429 (the client is
 * built with `rejectRateLimitedCalls`, so the wait is ours and visible), then calling again; every other failure
 * becomes a {@link slackFailure}.
 */
export async function callSlack<T>(method: string, call: () => Promise<T>, budget: RateLimitBudget): Promise<T> {
  const sleep = budget.sleep ?? ((ms: number) => delay(ms));
  for (;;) {
    try {
      return await call();
    } catch (err) {
      const e = err as { code?: string; retryAfter?: number };
      if (e.code !== webApi.ErrorCode.RateLimitedError) throw slackFailure(method, err);
      const waitMs = Math.max(1, e.retryAfter ?? 1) * 1_000;
      if (Date.now() + waitMs > budget.deadline) {
        throw new FleetError('slack_rate_limited', `Slack rate-limited ${method} for ${waitMs / 1000} s (Retry-After), longer than this attempt may wait; it is retried`, { cause: err, retryable: true });
      }
      budget.onRateLimited?.(method, waitMs);
      await sleep(waitMs);
    }
  }
}
