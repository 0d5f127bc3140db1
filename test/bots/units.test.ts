import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { gateMessage } from '../../src/bots/blocks/gates';
import { statusMessage } from '../../src/bots/blocks/status';
import { chunkLines } from '../../src/bots/blocks/text';
import { parseCommand } from '../../src/bots/commands';
import { botMode, redact, slackSecretsFromEnv } from '../../src/bots/config';
import { COMMANDS } from '../../src/bots/listeners/commands';
import { botLogger } from '../../src/bots/logger';
import { EVENTS_PATH } from '../../src/bots/receivers';
import { ReplayGuard, SIGNATURE_WINDOW_MS } from '../../src/bots/replay';
import { validateInventory } from '../../src/fleet/schema';
import type { ClosedGate, OpenGate, RunProgress } from '../../src/shared/runs';
import { buttons, messageText } from '../support/slack-api';
import { signature } from '../support/slack-requests';

describe('slash command parsing', () => {
  it('reads every command and subcommand, normalizing versions', () => {
    expect(parseCommand('/upgrade', 'prod')).toEqual({ kind: 'start', operation: 'upgrade', cluster: 'prod' });
    expect(parseCommand('/upgrade', ' Prod  1.11.5 ')).toEqual({ kind: 'start', operation: 'upgrade', cluster: 'prod', version: 'v1.11.5' });
    expect(parseCommand('/upgrade-k8s', 'prod v1.34.2')).toEqual({ kind: 'start', operation: 'upgrade-k8s', cluster: 'prod', version: '1.34.2' });
    expect(parseCommand('/snapshot', 'prod')).toEqual({ kind: 'start', operation: 'snapshot', cluster: 'prod' });
    expect(parseCommand('/restore', 'prod snap-1')).toEqual({ kind: 'restore', cluster: 'prod', snapshot: 'snap-1' });
    expect(parseCommand('/fleet', '')).toEqual({ kind: 'help' });
    expect(parseCommand('/fleet', 'status')).toEqual({ kind: 'status' });
    expect(parseCommand('/fleet', 'runs prod')).toEqual({ kind: 'runs', cluster: 'prod' });
    expect(parseCommand('/fleet', 'plan upgrade prod v1.12.0')).toEqual({ kind: 'plan-upgrade', cluster: 'prod', version: 'v1.12.0' });
    expect(parseCommand('/fleet', 'abort prod@01a23171-0fe4-7127-abe8-88841c7ae5c5')).toEqual({ kind: 'abort', run: 'prod@01a23171-0fe4-7127-abe8-88841c7ae5c5' });
  });

  it('says what is wrong and how to write it right', () => {
    const error = (command: string, text: string) => (parseCommand(command, text) as { error: string }).error;
    expect(error('/upgrade-k8s', 'prod')).toMatch(/^Which Kubernetes version\? Write it as `\/upgrade-k8s CLUSTER VERSION`/);
    expect(error('/upgrade', 'prod v1.11 extra')).toMatch(/^Unexpected `extra`/);
    expect(error('/upgrade', 'prod_1')).toMatch(/`prod_1` is not a cluster name/);
    expect(error('/restore', 'prod ../etc/passwd')).toMatch(/is not a snapshot id/);
    expect(error('/fleet', 'plan restore prod')).toMatch(/Only upgrades can be planned/);
    expect(error('/fleet', 'abort')).toMatch(/^Which run\?/);
    expect(error('/deploy', 'prod')).toMatch(/`\/deploy` is not a talos-fleet command/);
  });
});

describe('secrets', () => {
  let dir: string;
  beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'talos-fleet-secrets-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('come from the environment or from files, and a wrong one is named by its variable, never echoed', () => {
    writeFileSync(join(dir, 'bot'), 'xoxb-from-a-file\n');
    expect(slackSecretsFromEnv({ SLACK_BOT_TOKEN_FILE: join(dir, 'bot'), SLACK_SIGNING_SECRET: 's3cret' })).toEqual({ botToken: 'xoxb-from-a-file', signingSecret: 's3cret' });
    expect(slackSecretsFromEnv({})).toBeUndefined();
    expect(() => slackSecretsFromEnv({ SLACK_BOT_TOKEN: 'xapp-1-pasted-in-the-wrong-place' })).toThrow(/^SLACK_BOT_TOKEN does not hold a token starting with xoxb-/);
    expect(() => slackSecretsFromEnv({ SLACK_BOT_TOKEN: 'xapp-1-pasted-in-the-wrong-place' })).not.toThrow(/pasted/);
    expect(() => slackSecretsFromEnv({ SLACK_BOT_TOKEN_FILE: join(dir, 'missing') })).toThrow(/SLACK_BOT_TOKEN_FILE points at .*missing, which cannot be read \(ENOENT\)/);
    expect(() => botMode({ botToken: 'xoxb-1' })).toThrow(/HTTP mode verifies every request: set SLACK_SIGNING_SECRET/);
    expect(botMode({ botToken: 'xoxb-1', appToken: 'xapp-1' })).toBe('socket');
  });

  it('are cut from every log line, with anything token-shaped', () => {
    const lines: string[] = [];
    const logger = botLogger({ secrets: { botToken: 'xoxb-1-2-abc', signingSecret: 'sign-me' }, write: (l) => void lines.push(l) });
    logger.info('body', { token: 'xoxb-9-9-other', secret: 'sign-me', app: 'xapp-1-A-2-x' });
    expect(lines.join('\n')).not.toMatch(/xoxb-9|sign-me|xapp-1-A/);
    expect(redact('Bearer xoxb-1-2-abc')).toBe('Bearer [redacted]');
  });
});

describe('the replay guard', () => {
  it('admits a signed request once, refuses it again within the window, and forgets it after', () => {
    let now = 1_000_000;
    const guard = new ReplayGuard(() => now);
    const ts = String(Math.floor(Date.now() / 1000));
    const sig = signature('secret', Number(ts), 'body');
    expect(guard.check('secret', 'body', ts, sig)).toBe(true);
    expect(guard.check('secret', 'body', ts, sig)).toBe(false);
    // A forged request is left to Bolt to refuse, and not remembered.
    expect(guard.check('secret', 'body', ts, 'v0=0000')).toBe(true);
    expect(guard.check('secret', 'body', ts, 'v0=0000')).toBe(true);
    now += SIGNATURE_WINDOW_MS + 1;
    expect(guard.admit(ts, sig)).toBe(true);
  });
});

describe('the inventory slack block', () => {
  it('takes a channel and, per operation, users and user groups; bad ids are reported with their path', () => {
    const cluster = { name: 'prod', endpoint: 'https://10.0.0.1:6443', talosVersion: 'v1.10.9', secrets: 's', talosconfig: 't', nodes: [{ name: 'cp-1', address: '10.0.0.1', role: 'controlplane' }], policy: { approvers: ['U0ALICE00'] } };
    const ok = validateInventory({ clusters: [{ ...cluster, slack: { channel: 'C0OPS0000', start: { upgrade: { users: ['U0OPS0000'], groups: ['S0SRE0000'] } } } }] });
    expect(ok.inventory?.clusters[0]!.slack).toEqual({ channel: 'C0OPS0000', start: { upgrade: { users: ['U0OPS0000'], groups: ['S0SRE0000'] } } });
    const bad = validateInventory({ clusters: [{ ...cluster, slack: { channel: '#ops', start: { upgrade: { users: ['alice'] }, deploy: {} } } }] });
    expect(bad.problems?.map((p) => `${p.path}: ${p.message}`)).toEqual([
      'clusters[0].slack.channel: must be a Slack channel id such as C0123ABCD (channel details → bottom of About)',
      'clusters[0].slack.start.upgrade.users[0]: must be a Slack user id such as U0123ABCD (profile → ⋮ → Copy member ID)',
      'clusters[0].slack.start: unknown field "deploy"',
    ]);
  });
});

const gate: OpenGate = { name: 'start', kind: 'approval', summary: 'upgrade prod from v1.10.9 to v1.11.5 <in 1 hop>', choices: ['approve', 'reject'], openedAt: '2026-12-01T10:00:00.000Z', approvalsNeeded: 2, decisions: [{ user: 'U0ALICE00', choice: 'approve', at: '2026-12-01T10:01:00.000Z' }] };
const run = { ref: 'prod@01a2', cluster: 'prod', operation: 'restore' };

describe('messages', () => {
  it('a gate asks with its buttons and the approvals so far, and once decided says who decided what and when', () => {
    const open = gateMessage(gate, run);
    expect(buttons(open)).toEqual(['gate:approve', 'gate:reject']);
    expect(messageText(open)).toMatch(/<@U0ALICE00> approved at 2026-12-01 10:01:00 UTC/);
    expect(messageText(open)).toMatch(/needs 2 approvals from distinct approvers, 1 more to go/);
    expect(messageText(open)).toMatch(/&lt;in 1 hop&gt;/);
    const closed: ClosedGate = { ...gate, decisions: [...gate.decisions, { user: 'bob', choice: 'approve', at: '2026-12-01T10:02:00.000Z' }], outcome: 'approve', closedAt: '2026-12-01T10:02:00.000Z' };
    const done = gateMessage(closed, run);
    expect(buttons(done)).toEqual([]);
    expect(messageText(done)).toMatch(/<@U0ALICE00> approved at 2026-12-01 10:01:00 UTC\n:white_check_mark: `bob` approved at 2026-12-01 10:02:00 UTC/);
    expect(messageText(gateMessage({ ...gate, decisions: [], outcome: 'timed-out', closedAt: '2026-12-01T11:00:00.000Z' }, run))).toMatch(/not answered in time/);
  });

  it('the status message lists every node even when there are hundreds, within Slack\'s block limits', () => {
    const progress: RunProgress = { cluster: 'big', operation: 'upgrade', requester: 'U0ALICE00', status: 'running', phase: 'hop-1', nodes: Array.from({ length: 300 }, (_, i) => ({ name: `w-${i + 1}`, address: '10.0.0.1', role: 'worker', state: 'pending', detail: 'waiting for its batch' })), gates: [], events: [] };
    const m = statusMessage(progress, { ref: 'big@1', url: 'http://ui/x' });
    expect(m.blocks.length).toBeLessThanOrEqual(50);
    for (const b of m.blocks) expect(JSON.stringify(b).length).toBeLessThan(3_100);
    expect(messageText(m)).toMatch(/`w-300` worker — pending/);
    expect(messageText(m)).toMatch(/<http:\/\/ui\/x\|big@1> in the Temporal UI/);
  });

  it('thread text is cut into messages at line boundaries', () => {
    const chunks = chunkLines(Array.from({ length: 100 }, (_, i) => `line ${i} ${'x'.repeat(80)}`), 3_000);
    expect(chunks.length).toBe(4);
    expect(chunks.join('\n').split('\n')).toHaveLength(100);
  });
});

describe('the Slack app manifests', () => {
  it('declare exactly the commands the bot registers, the scopes it uses, interactivity, and Socket Mode or request URLs', () => {
    for (const [file, socket] of [['manifest.yaml', true], ['manifest-http.yaml', false]] as const) {
      const m = parse(readFileSync(join(__dirname, '..', '..', 'slack', file), 'utf8')) as Manifest;
      expect(m.features.slash_commands.map((c) => c.command)).toEqual([...COMMANDS]);
      for (const c of m.features.slash_commands) expect(c.description.length).toBeLessThanOrEqual(100);
      expect(m.oauth_config.scopes.bot).toEqual(['commands', 'chat:write', 'usergroups:read']);
      expect(m.settings.interactivity.is_enabled).toBe(true);
      expect(m.settings.socket_mode_enabled).toBe(socket);
      const urls = [m.settings.interactivity.request_url, ...m.features.slash_commands.map((c) => c.url)];
      expect(urls.every((u) => (socket ? u === undefined : u?.endsWith(EVENTS_PATH)))).toBe(true);
    }
  });
});

interface Manifest {
  features: { slash_commands: { command: string; description: string; url?: string }[] };
  oauth_config: { scopes: { bot: string[] } };
  settings: { interactivity: { is_enabled: boolean; request_url?: string }; socket_mode_enabled: boolean };
}
