import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LogLevel, webApi, type Logger } from '@slack/bolt';
import type { AwsHandler } from '@slack/bolt/dist/receivers/AwsLambdaReceiver';
import type { LoadedInventory } from '../fleet/inventory';
import { inventorySource } from '../fleet/source';
import { connectClient } from '../runtime/runs';
import { runUrl, type RuntimeSettings } from '../runtime/settings';
import { createBotApp } from './app';
import { GroupDirectory } from './authorization';
import { botMode, type BotMode, type SlackSecrets } from './config';
import type { BotDeps } from './deps';
import { botLogger } from './logger';
import { SlackNotifier } from './notifier';
import { httpReceiver, lambdaHandler, lambdaReceiver, socketModeReceiver } from './receivers';
import { slackApiUrl } from './slack-calls';

/** How to run the bot. */
export interface BotOptions {
  secrets: SlackSecrets;
  settings: RuntimeSettings;
  mode?: BotMode;
  /** HTTP mode: the port to listen on (0: any free one). */
  port?: number;
  /** HTTP mode: the address to listen on (default all interfaces). */
  host?: string;
  apiUrl?: string;
  logger?: Logger;
  identity?: { botId: string; botUserId: string };
  /** Overrides of what the listeners use (tests pass short timings). */
  deps?: Partial<Omit<BotDeps, 'temporal' | 'settings'>>;
}

/** A running bot. */
export interface RunningBot {
  mode: BotMode;
  /** HTTP mode: where it listens. */
  port?: number;
  stop(): Promise<void>;
}

function logLevel(env: NodeJS.ProcessEnv): LogLevel {
  const level = env.SLACK_LOG_LEVEL?.toLowerCase();
  return (Object.values(LogLevel) as string[]).includes(level ?? '') ? (level as LogLevel) : LogLevel.INFO;
}

async function depsFor(opts: BotOptions): Promise<{ deps: BotDeps; close: () => Promise<void> }> {
  const { client, close } = await connectClient(opts.settings);
  const inventory: () => LoadedInventory = opts.deps?.inventory ?? inventorySource(opts.settings.inventoryPath);
  return { deps: { groups: new GroupDirectory(), ...opts.deps, temporal: client, settings: opts.settings, inventory }, close };
}

/**
 * Starts the bot in Socket Mode (the default when an app token is set) or over HTTP. It only starts, updates and
 * queries workflows; the run's messages are posted by the worker's Slack notifier.
 */
export async function startBot(opts: BotOptions): Promise<RunningBot> {
  const mode = botMode(opts.secrets, opts.mode);
  if (mode === 'lambda') throw new Error('the Lambda mode has no server to start: use createBotLambdaHandler');
  const apiUrl = opts.apiUrl ?? slackApiUrl();
  const logger = opts.logger ?? botLogger({ secrets: opts.secrets, level: logLevel(process.env) });
  const { deps, close } = await depsFor(opts);
  try {
    const receiver = mode === 'socket' ? socketModeReceiver(opts.secrets, logger, apiUrl) : httpReceiver(opts.secrets, logger);
    const app = createBotApp(receiver, { secrets: opts.secrets, apiUrl, logger, deps, ...(opts.identity ? { identity: opts.identity } : {}) });
    let port: number | undefined;
    if (mode === 'http') {
      const server = (await app.start({ port: opts.port ?? 3000, ...(opts.host ? { host: opts.host } : {}) })) as Server;
      port = (server.address() as AddressInfo).port;
    } else {
      await app.start();
    }
    return {
      mode,
      ...(port !== undefined ? { port } : {}),
      async stop() {
        await app.stop().catch(() => undefined);
        await close();
      },
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/**
 * The bot as an AWS Lambda handler for API Gateway or a function URL: the same listeners, with Bolt answering only
 * once a listener has finished (they start or update a workflow and return, well within Slack's 3 seconds).
 */
export async function createBotLambdaHandler(opts: Omit<BotOptions, 'mode' | 'port' | 'host'>): Promise<{ handler: AwsHandler; close: () => Promise<void> }> {
  botMode(opts.secrets, 'lambda');
  const apiUrl = opts.apiUrl ?? slackApiUrl();
  const logger = opts.logger ?? botLogger({ secrets: opts.secrets, level: logLevel(process.env) });
  const { deps, close } = await depsFor(opts);
  const receiver = lambdaReceiver(opts.secrets, logger);
  createBotApp(receiver, { secrets: opts.secrets, apiUrl, logger, deps, ...(opts.identity ? { identity: opts.identity } : {}) });
  return { handler: await lambdaHandler(receiver, opts.secrets), close };
}

/**
 * The worker's Slack notifier: posts each run of a cluster with a `slack.channel` to that channel. Its client
 * waits out rate limits itself (Retry-After), so it is built with `rejectRateLimitedCalls`.
 */
export function slackNotifier(opts: { secrets: SlackSecrets; settings: Pick<RuntimeSettings, 'inventoryPath' | 'uiUrl' | 'namespace'>; inventory?: () => LoadedInventory; apiUrl?: string; sleep?: (ms: number) => Promise<void>; maxWaitMs?: number }): SlackNotifier {
  const inventory = opts.inventory ?? inventorySource(opts.settings.inventoryPath);
  const client = new webApi.WebClient(opts.secrets.botToken, { slackApiUrl: opts.apiUrl ?? slackApiUrl(), rejectRateLimitedCalls: true, retryConfig: { retries: 2, factor: 2, minTimeout: 500, maxTimeout: 2_000 }, logLevel: webApi.LogLevel.ERROR });
  return new SlackNotifier({
    client,
    channelOf: (cluster) => inventory().inventory.clusters.find((c) => c.name === cluster)?.slack?.channel,
    runUrl: (workflowId, runId) => runUrl(opts.settings, workflowId, runId),
    ...(opts.sleep ? { sleep: opts.sleep } : {}),
    ...(opts.maxWaitMs !== undefined ? { maxWaitMs: opts.maxWaitMs } : {}),
  });
}
