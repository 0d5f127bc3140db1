import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TEST_SECRETS } from '../support/bot-env';
import { waitUntil } from '../support/fleet';
import { buttons, FakeSlack, messageText } from '../support/slack-api';
import { slashCommand } from '../support/slack-requests';
import { SocketModeServer } from '../support/socket-mode';
import { freePort } from '../support/temporal';
import { BIN } from '../support/cli';

jest.setTimeout(300_000);

const CHANNEL = 'C0DEV0000';
const ME = { user: 'U0DEVUSER', channel: CHANNEL };

describe('talos-fleet dev with Slack tokens in the environment', () => {
  it('starts the bot in Socket Mode, answers /fleet status, and its worker posts a run started from Slack to the demo channel', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'talos-fleet-dev-slack-'));
    const fake = await new FakeSlack(TEST_SECRETS.botToken, TEST_SECRETS.appToken).start();
    const sm = await new SocketModeServer().start();
    fake.socketUrl = sm.url;
    const base = `127.${140 + Number(process.env.JEST_WORKER_ID ?? '1')}.${1 + Math.floor(Math.random() * 250)}.11`;
    const [temporalPort, uiPort] = [await freePort(), await freePort()];
    const dev = spawn(process.execPath, [BIN, 'dev', '--dir', join(dir, '.dev'), '--nodes', '1cp', '--base-address', base, '--temporal-port', String(temporalPort), '--ui-port', String(uiPort), '--time-scale', '0.05'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, TEMPORAL_ADDRESS: '', SLACK_BOT_TOKEN: TEST_SECRETS.botToken, SLACK_APP_TOKEN: TEST_SECRETS.appToken, SLACK_API_URL: fake.apiUrl, TALOS_FLEET_SLACK_CHANNEL: CHANNEL, TALOS_FLEET_SLACK_USERS: ME.user, SLACK_LOG_LEVEL: 'warn' },
    });
    let out = '';
    dev.stdout.on('data', (c: Buffer) => (out += c.toString()));
    dev.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((resolve) => dev.once('exit', (code) => resolve(code)));
    try {
      await waitUntil('talos-fleet dev to be ready', () => out.includes('talos-fleet dev is ready') || dev.exitCode !== null, 180_000);
      expect(out).toContain(`Slack bot      Socket Mode, demo runs post to ${CHANNEL}`);
      await sm.connected;

      await sm.send('slash_commands', slashCommand('/fleet', 'status', ME, fake.responseUrl('status')));
      await waitUntil('the status reply', () => fake.responses.some((r) => r.id === 'status'), 30_000);
      expect(fake.responses.find((r) => r.id === 'status')!.body.text).toMatch(/^\*demo\*: Talos v1\.\d+\.\d+, 1 node, <#C0DEV0000>\n {4}no runs yet$/);

      // The user in TALOS_FLEET_SLACK_USERS is an approver of the demo cluster: they may start it, and its worker posts it.
      await sm.send('slash_commands', slashCommand('/fleet', 'install demo', ME, fake.responseUrl('install')));
      await waitUntil('the approval message in the demo channel', () => fake.messages.some((m) => m.channel === CHANNEL && buttons(m).includes('gate:approve')), 60_000);
      const status = fake.channelMessages(CHANNEL).find((m) => m.text.startsWith('install demo:'))!;
      expect(messageText(status)).toMatch(/requested by <@U0DEVUSER>/);
      expect(out).not.toContain(TEST_SECRETS.botToken);
      expect(out).not.toContain(TEST_SECRETS.appToken);
    } finally {
      dev.kill('SIGINT');
      const code = await exited;
      // On a failure, what dev printed last says why it did not stop cleanly.
      expect({ code, lastOutput: code === 0 ? '' : out.split('\n').slice(-30).join('\n') }).toEqual({ code: 0, lastOutput: '' });
      await sm.stop();
      await fake.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
