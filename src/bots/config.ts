import { readFileSync } from 'node:fs';
import { FleetError } from '../errors';

/** The app's secrets. Never logged, never passed to a workflow, never put in a message. */
export interface SlackSecrets {
  /** Bot User OAuth Token (`xoxb-…`): every Web API call. */
  botToken: string;
  /** Signing secret: verifies HTTP and Lambda requests (not needed in Socket Mode). */
  signingSecret?: string;
  /** App-level token (`xapp-…`, scope `connections:write`): Socket Mode only. */
  appToken?: string;
}

/** How the bot receives Slack's requests. */
export type BotMode = 'socket' | 'http' | 'lambda';

function secret(env: NodeJS.ProcessEnv, name: string, prefix?: string): string | undefined {
  const fileVar = `${name}_FILE`;
  let value = env[name]?.trim();
  if (!value && env[fileVar]) {
    try {
      value = readFileSync(env[fileVar], 'utf8').trim();
    } catch (err) {
      throw new FleetError('slack_secret_unreadable', `${fileVar} points at ${env[fileVar]}, which cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  }
  if (value && prefix && !value.startsWith(prefix)) {
    // Only the variable and the expected shape: the value itself is never repeated.
    throw new FleetError('slack_secret_invalid', `${env[name] ? name : fileVar} does not hold a token starting with ${prefix} (check that the right token went into the right variable)`);
  }
  return value || undefined;
}

/**
 * The secrets from the environment: each from `NAME` or from the file `NAME_FILE` names (a mounted secret), so they
 * never appear on a command line. Undefined when no bot token is configured at all (Slack is off).
 */
export function slackSecretsFromEnv(env: NodeJS.ProcessEnv = process.env): SlackSecrets | undefined {
  const botToken = secret(env, 'SLACK_BOT_TOKEN', 'xoxb-');
  const signingSecret = secret(env, 'SLACK_SIGNING_SECRET');
  const appToken = secret(env, 'SLACK_APP_TOKEN', 'xapp-');
  if (!botToken) {
    if (signingSecret || appToken) throw new FleetError('slack_config', 'SLACK_SIGNING_SECRET or SLACK_APP_TOKEN is set but SLACK_BOT_TOKEN (or SLACK_BOT_TOKEN_FILE) is not: the bot needs its Bot User OAuth Token');
    return undefined;
  }
  return { botToken, ...(signingSecret ? { signingSecret } : {}), ...(appToken ? { appToken } : {}) };
}

/** The mode to run in: the one asked for, else Socket Mode when an app token is there, else HTTP. Checks the secrets it needs. */
export function botMode(secrets: SlackSecrets, asked?: BotMode): BotMode {
  const mode = asked ?? (secrets.appToken ? 'socket' : 'http');
  if (mode === 'socket' && !secrets.appToken) throw new FleetError('slack_config', 'Socket Mode needs the app-level token: set SLACK_APP_TOKEN (xapp-…, scope connections:write) or SLACK_APP_TOKEN_FILE');
  if (mode !== 'socket' && !secrets.signingSecret) throw new FleetError('slack_config', `${mode === 'http' ? 'HTTP' : 'Lambda'} mode verifies every request: set SLACK_SIGNING_SECRET (Basic Information → Signing Secret) or SLACK_SIGNING_SECRET_FILE`);
  return mode;
}

/** Token-shaped strings, so a log line that happens to hold one is cut before it is written. */
const TOKEN_SHAPES = /\b(xox[abposr]-[A-Za-z0-9-]+|xapp-[A-Za-z0-9-]+)/g;

/** Replaces anything token-shaped, and the given secrets themselves, with `[redacted]`. */
export function redact(text: string, secrets?: SlackSecrets): string {
  let out = text.replace(TOKEN_SHAPES, '[redacted]');
  for (const s of [secrets?.signingSecret, secrets?.botToken, secrets?.appToken]) if (s) out = out.split(s).join('[redacted]');
  return out;
}
