import type { Command } from 'commander';
import { startBot } from '../bots/bot';
import { slackSecretsFromEnv, type BotMode } from '../bots/config';
import { FleetError } from '../errors';
import { runtimeSettings } from '../runtime/settings';
import { untilSignal } from './signals';

interface BotOptions {
  mode?: string;
  port: string;
  host?: string;
  inventory?: string;
  devDir?: string;
}

/**
 * `talos-fleet bot`: the Slack app, in Socket Mode (with SLACK_APP_TOKEN; no public URL) or over HTTP (with
 * SLACK_SIGNING_SECRET, behind an ingress), until SIGTERM/SIGINT. Secrets come only from the environment or files.
 */
export function registerBot(program: Command): void {
  program
    .command('bot')
    .description('run the Slack bot: slash commands and gate buttons start and answer runs (tokens from SLACK_* variables)')
    .option('--mode <mode>', 'socket or http (default: socket when SLACK_APP_TOKEN is set, else http)')
    .option('--port <port>', 'HTTP mode: port to listen on', process.env.PORT ?? '3000')
    .option('--host <host>', 'HTTP mode: address to listen on (default: all)')
    .option('--inventory <path>', 'the inventory (default: $TALOS_FLEET_INVENTORY, the dev deployment\'s, or ./fleet.yaml)')
    .option('--dev-dir <dir>', 'use the deployment of a running `talos-fleet dev` in DIR')
    .action(async (opts: BotOptions) => {
      if (opts.mode && opts.mode !== 'socket' && opts.mode !== 'http') throw new FleetError('invalid_option', `--mode must be socket or http, not "${opts.mode}" (for AWS Lambda, deploy src/bots/lambda.ts)`);
      const secrets = slackSecretsFromEnv();
      if (!secrets) throw new FleetError('slack_config', 'the bot needs SLACK_BOT_TOKEN (or SLACK_BOT_TOKEN_FILE), plus SLACK_APP_TOKEN for Socket Mode or SLACK_SIGNING_SECRET for HTTP; see README: Slack');
      const stopping = untilSignal();
      const settings = runtimeSettings({ ...(opts.devDir ? { devDir: opts.devDir } : {}), ...(opts.inventory ? { inventory: opts.inventory } : {}) });
      const bot = await startBot({ secrets, settings, ...(opts.mode ? { mode: opts.mode as BotMode } : {}), port: Number(opts.port), ...(opts.host ? { host: opts.host } : {}) });
      process.stderr.write(`Slack bot ready (${bot.mode === 'socket' ? 'Socket Mode' : `HTTP on port ${bot.port}, path /slack/events`}); Temporal ${settings.connection.address ?? 'localhost:7233'}, inventory ${settings.inventoryPath}\n`);
      const signal = await stopping;
      process.stderr.write(`${signal}: stopping the bot\n`);
      await bot.stop();
    });
}
