import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { createBotLambdaHandler, slackNotifier, startBot, type RunningBot } from '../../src/bots/bot';
import { botLogger } from '../../src/bots/logger';
import { listRuns, runHandle, runProgress } from '../../src/runtime/runs';
import type { RuntimeSettings } from '../../src/runtime/settings';
import { startFleetWorker, type FleetWorker } from '../../src/runtime/worker';
import type { InstallTimings } from '../../src/shared/install';
import { REQUESTER } from '../../src/shared/search-attributes';
import { TEST_SECRETS, multiClusterInventory } from '../support/bot-env';
import { startFleet, waitUntil, type TestFleet } from '../support/fleet';
import { secretsInHistories } from '../support/secrets-scan';
import { buttons, FakeSlack, messageText, type FakeMessage } from '../support/slack-api';
import { clickOn, formBody, signature, signedHeaders, slashCommand, viewSubmission, type Sender } from '../support/slack-requests';
import { httpTransport, lambdaTransport, type SignedTransport } from '../support/slack-transports';
import { SocketModeServer } from '../support/socket-mode';
import { startTestTemporal, testSettings, workflowBundlePath, type TestTemporal } from '../support/temporal';

jest.setTimeout(240_000);

const TIMING: Partial<InstallTimings> = { pollIntervalMs: 200, checkWindowMs: 2_000, heartbeatTimeoutMs: 5_000, nodeInstallTimeoutMs: 60_000, etcdJoinTimeoutMs: 60_000, healthTimeoutMs: 90_000 };
const CHANNEL = 'C0OPS0000';
const ALICE: Sender = { user: 'U0ALICE00', channel: CHANNEL };
const BOB: Sender = { user: 'U0BOB0000', channel: CHANNEL };
const OPERATOR: Sender = { user: 'U0OPERATOR', channel: CHANNEL };
const MALLORY: Sender = { user: 'U0MALLORY', channel: CHANNEL };
const CAROL: Sender = { user: 'U0CAROL00', channel: CHANNEL };
const SECRET = TEST_SECRETS.signingSecret;

const fleets: TestFleet[] = [];
let dir: string;
let fake: FakeSlack;
let server: TestTemporal;
let settings: RuntimeSettings;
let worker: FleetWorker;
let connection: Connection;
let client: Client;
let httpBot: RunningBot;
let http: SignedTransport;
const logged: string[] = [];
const logger = botLogger({ secrets: TEST_SECRETS, write: (line) => void logged.push(line) });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'talos-fleet-bot-'));
  fake = await new FakeSlack(TEST_SECRETS.botToken, TEST_SECRETS.appToken).start();
  for (const nodes of ['1cp,1w', '1cp', '1cp']) fleets.push(await startFleet({ nodes, state: 'maintenance' }));
  const slack = { channel: CHANNEL, start: { install: { users: [OPERATOR.user] } } };
  const policy = { approvers: [ALICE.user, BOB.user], allowSelfApproval: false };
  const inventoryPath = await multiClusterInventory(dir, [
    { name: 'web', fleet: fleets[0]!, slack, policy },
    { name: 'sock', fleet: fleets[1]!, slack, policy },
    // fn lets members of a user group start runs (the operator is one), and members of another approve (Carol is
    // one); Slack is asked who is in each (usergroups.users.list).
    { name: 'fn', fleet: fleets[2]!, slack: { channel: CHANNEL, start: { install: { groups: ['S0SRE0000'] } } }, policy: { ...policy, approvers: [...policy.approvers, 'S0APPROVE'] } },
  ]);
  fake.groups.set('S0SRE0000', [OPERATOR.user]);
  fake.groups.set('S0APPROVE', [CAROL.user]);
  server = await startTestTemporal(dir);
  settings = { ...testSettings(server, inventoryPath), uiUrl: 'http://localhost:8233' };
  const notifier = slackNotifier({ secrets: TEST_SECRETS, settings, apiUrl: fake.apiUrl });
  worker = await startFleetWorker({ settings, workflowBundlePath: await workflowBundlePath(), setCurrentVersion: true, notifier, log: () => undefined });
  connection = await Connection.connect({ address: server.address });
  client = new Client({ connection, namespace: server.namespace });
  httpBot = await startBot({ secrets: TEST_SECRETS, settings, mode: 'http', port: 0, host: '127.0.0.1', apiUrl: fake.apiUrl, logger, deps: { timing: { install: TIMING } } });
  http = httpTransport(`http://127.0.0.1:${httpBot.port}/slack/events`, SECRET);
}, 180_000);

afterAll(async () => {
  await httpBot?.stop();
  await worker?.shutdown();
  const leaked = client ? await secretsInHistories(client, Object.values(TEST_SECRETS)) : [];
  await connection?.close();
  await server?.stop();
  for (const f of fleets) await f.stop();
  await fake?.stop();
  rmSync(dir, { recursive: true, force: true });
  expect(leaked.filter((f) => f.includes('secret of the bundle'))).toEqual([]);
  expect(logged.filter((l) => Object.values(TEST_SECRETS).some((s) => l.includes(s)))).toEqual([]);
});

/** A signed slash command over HTTP; its reply goes to response_url `id`. */
const httpCommand = (command: string, text: string, from: Sender, id: string) => http.command(slashCommand(command, text, from, fake.responseUrl(id)));

/** The reply posted to response_url `id`. */
async function replyTo(id: string): Promise<string> {
  await waitUntil(`the reply to ${id}`, () => fake.repliesTo(id).length > 0, 20_000);
  return fake.repliesTo(id)[0]!;
}

const runOf = (reply: string) => /run `([^`]+)`/.exec(reply)?.[1] ?? '';

/** The status message of a cluster's latest run (the top-level message in the channel). */
function statusMessage(cluster: string): FakeMessage | undefined {
  return fake.channelMessages(CHANNEL).filter((m) => m.text.startsWith(`install ${cluster}:`)).at(-1);
}

/** The gate message in the thread of a cluster's latest run. */
function gateMessage(cluster: string, gate = 'start'): FakeMessage | undefined {
  const status = statusMessage(cluster);
  return status ? fake.thread(CHANNEL, status.ts).filter((m) => m.text.includes(`gate ${gate}`) && m.versions[0]!.text.includes('needed')).at(-1) : undefined;
}

const ephemeralsTo = (user: string) => fake.answered('chat.postEphemeral').filter((c) => c.args.user === user).map((c) => String(c.args.text));
const startedRuns = async () => (await listRuns(client)).length;

describe('the Slack bot', () => {
  it('answers bad input with what is wrong and how to write it, and starts nothing', async () => {
    const before = await startedRuns();
    const cases: [string, string, Sender, RegExp][] = [
      ['/upgrade', '', ALICE, /Which cluster\? Write it as `\/upgrade CLUSTER \[VERSION\]`/],
      ['/upgrade', 'nosuch v1.11.0', ALICE, /There is no cluster `nosuch` in the inventory\. Clusters: `web`, `sock`, `fn`/],
      ['/upgrade', 'web 1.x', ALICE, /`1\.x` is not a Talos version such as v1\.11\.5/],
      ['/upgrade-k8s', 'web', ALICE, /Which Kubernetes version\?/],
      ['/fleet', 'frobnicate', ALICE, /`\/fleet frobnicate` is not a subcommand.*`status`, `runs`, `plan`/],
      ['/fleet', 'install web', MALLORY, /You may not install \*web\*: ask <@U0OPERATOR>, <@U0ALICE00>, <@U0BOB0000>, or have your member id added to `slack.start.install` of cluster web/],
      ['/fleet', 'install fn', MALLORY, /You may not install \*fn\*: ask <!subteam\^S0SRE0000>, <@U0ALICE00>/],
    ];
    for (const [i, [command, text, from, expected]] of cases.entries()) {
      expect(await httpCommand(command, text, from, `bad-${i}`)).toBe(200);
      expect(await replyTo(`bad-${i}`)).toMatch(expected);
    }
    expect(await startedRuns()).toBe(before);
    expect(fake.answered('usergroups.users.list').map((c) => c.args.usergroup).sort()).toEqual(['S0APPROVE', 'S0SRE0000']);
  });

  it('over HTTP: a command starts the install, the approval is asked in the thread, refused clicks change nothing, an approver\'s click lets it finish', async () => {
    expect(await httpCommand('/fleet', 'install web', ALICE, 'web-start')).toBe(200);
    const reply = await replyTo('web-start');
    expect(reply).toMatch(/^Started install of \*web\*: run `web@[0-9a-f-]+` \(<http:\/\/localhost:8233\/namespaces\/default\/workflows\/talos-fleet%2Fweb\/.+\|Temporal UI>\)\. Progress and its gates are in <#C0OPS0000>\./);
    const ref = runOf(reply);

    await waitUntil('the approval message with its buttons', () => (gateMessage('web') ? buttons(gateMessage('web')!).length > 0 : false), 60_000);
    const gate = gateMessage('web')!;
    expect(buttons(gate)).toEqual(['gate:approve', 'gate:reject']);
    expect(gate.reply_broadcast).toBe(true);
    expect(messageText(gate)).toMatch(/Approval needed: install web, gate `start`.*\n.*install Talos v1\.10\.9/s);
    expect(messageText(statusMessage('web')!)).toMatch(/requested by <@U0ALICE00>/);

    // Mallory is not an approver; Alice started the run and the policy forbids self-approval.
    for (const [from, expected] of [[MALLORY, /Your \*approve\* was not accepted: <@U0MALLORY> may not decide gates of cluster web; approvers: <@U0ALICE00>, <@U0BOB0000>/], [ALICE, /Your \*approve\* was not accepted: <@U0ALICE00> started this run and may not approve it/]] as const) {
      expect(await http.interaction(clickOn(from, gate, 'gate:approve'))).toBe(200);
      await waitUntil(`the refusal told to ${from.user}`, () => ephemeralsTo(from.user).length > 0, 20_000);
      expect(ephemeralsTo(from.user).at(-1)).toMatch(expected);
    }
    // Bob's click, forged (wrong secret) or stale (signed ten minutes ago), is refused by the receiver.
    const bobClick = formBody({ payload: clickOn(BOB, gate, 'gate:approve') });
    const forged = signedHeaders('not-the-signing-secret', bobClick);
    expect(await http.deliver(bobClick, forged)).toBe(401);
    const tenMinutesAgo = Math.floor(Date.now() / 1000) - 600;
    expect(await http.deliver(bobClick, signedHeaders(SECRET, bobClick, { timestamp: tenMinutesAgo }))).toBe(401);
    const waiting = await runProgress(client, ref);
    expect(waiting.status).toBe('waiting');
    expect(waiting.gate?.decisions).toEqual([]);
    expect(buttons(gateMessage('web')!)).toEqual(['gate:approve', 'gate:reject']);

    // Bob's real click is accepted once; the same request sent again is refused as a replay.
    const headers = signedHeaders(SECRET, bobClick);
    expect(await http.deliver(bobClick, headers)).toBe(200);
    expect(await http.deliver(bobClick, headers)).toBe(401);

    await runHandle(client, ref).result();
    await waitUntil('the status message to say completed', () => /: completed/.test(statusMessage('web')!.text), 30_000);
    const status = messageText(statusMessage('web')!);
    expect(status).toMatch(/\*install web\*: \*completed\* · phase `completed` · 2\/2 nodes done/);
    expect(status).toMatch(/`cp-1` controlplane — done/);
    expect(status).toMatch(/`w-1` worker — done/);
    expect(status).toMatch(/gate \*start\*: approve by <@U0BOB0000>/);
    const decided = gateMessage('web')!;
    expect(buttons(decided)).toEqual([]);
    expect(messageText(decided)).toMatch(/:white_check_mark: <@U0BOB0000> approved at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/);
    // The run records who asked and who approved; the thread has its events; one message in the channel per run.
    const progress = await runProgress(client, ref);
    expect(progress.requester).toBe(ALICE.user);
    expect(progress.gates.map((g) => g.decisions.map((d) => [d.user, d.choice]))).toEqual([[[BOB.user, 'approve']]]);
    const thread = fake.thread(CHANNEL, statusMessage('web')!.ts).map((m) => m.text).join('\n');
    expect(thread).toMatch(/bootstrapping etcd on cp-1/);
    expect(thread).toMatch(/cluster web is installed and healthy/);
    expect(fake.channelMessages(CHANNEL).filter((m) => m.text.startsWith('install web:'))).toHaveLength(1);
    expect(fake.calls.every((c) => c.authorized)).toBe(true);
  });

  it('over Socket Mode: the same start and approval, and an abort confirmed in a modal stops the run', async () => {
    const sm = await new SocketModeServer().start();
    fake.socketUrl = sm.url;
    const bot = await startBot({ secrets: TEST_SECRETS, settings, mode: 'socket', apiUrl: fake.apiUrl, logger, deps: { timing: { install: TIMING } } });
    try {
      await sm.connected;
      const started = await sm.send('slash_commands', slashCommand('/fleet', 'install sock', OPERATOR, fake.responseUrl('sock-start')));
      expect(started.payload).toEqual({});
      const ref = runOf(await replyTo('sock-start'));
      expect(ref).toMatch(/^sock@/);
      await waitUntil('the approval message', () => (gateMessage('sock') ? buttons(gateMessage('sock')!).length > 0 : false), 60_000);

      await sm.send('interactive', clickOn(ALICE, gateMessage('sock')!, 'gate:approve'));
      await waitUntil('the approval to close the gate', async () => (await runProgress(client, ref)).gates.length === 1, 20_000);
      expect((await runProgress(client, ref)).gates[0]!.decisions.map((d) => d.user)).toEqual([ALICE.user]);

      // Mallory may not abort (neither requester nor approver): told so, no modal.
      const opens = fake.answered('views.open').length;
      await sm.send('slash_commands', slashCommand('/fleet', 'abort sock', MALLORY, fake.responseUrl('sock-abort-mallory')));
      expect(await replyTo('sock-abort-mallory')).toMatch(/You may not abort run `sock@.+`: only the person who started it \(<@U0OPERATOR>\) and the approvers of sock may/);
      expect(fake.answered('views.open').length).toBe(opens);
      // `/fleet abort` opens a modal saying what will happen; submitting it sends the abort with its reason.
      await sm.send('slash_commands', slashCommand('/fleet', 'abort sock', ALICE, fake.responseUrl('sock-abort')));
      await waitUntil('the abort modal', () => fake.answered('views.open').length > opens, 20_000);
      const view = fake.answered('views.open').at(-1)!.args.view as { callback_id: string; private_metadata: string; blocks: unknown[] };
      expect(messageText({ text: '', blocks: view.blocks })).toMatch(/Abort the install of sock.*no further node is touched/s);
      expect((await runProgress(client, ref)).abortedBy).toBeUndefined();
      await sm.send('interactive', viewSubmission(ALICE.user, view, { reason: { 'reason-input': { type: 'plain_text_input', value: 'wrong cluster' } } }));
      expect(await replyTo('sock-abort')).toMatch(/Abort of `sock@.+` requested: the run stops at the next safe point/);
      await expect(runHandle(client, ref).result()).rejects.toThrow();
      expect((await runProgress(client, ref)).error).toBe(`aborted by ${ALICE.user}: wrong cluster`);
      await waitUntil('the status message to say aborted', () => /: aborted/.test(statusMessage('sock')?.text ?? ''), 30_000);
    } finally {
      await bot.stop();
      await sm.stop();
    }
  });

  it('through the Lambda handler with API Gateway events: the same start, an approval by a member of an approver group; forged, stale and replayed events are refused', async () => {
    const { handler, close } = await createBotLambdaHandler({ secrets: TEST_SECRETS, settings, apiUrl: fake.apiUrl, logger, deps: { timing: { install: TIMING } } });
    const fn = lambdaTransport(handler, SECRET);
    try {
      expect(await fn.command(slashCommand('/fleet', 'install fn', OPERATOR, fake.responseUrl('fn-start')))).toBe(200);
      const ref = runOf(await replyTo('fn-start'));
      await waitUntil('the approval message', () => (gateMessage('fn') ? buttons(gateMessage('fn')!).length > 0 : false), 60_000);

      const approve = formBody({ payload: clickOn(CAROL, gateMessage('fn')!, 'gate:approve') });
      const now = Math.floor(Date.now() / 1000);
      expect(await fn.deliver(approve, signedHeaders(SECRET, approve, { signature: signature('forged', now, approve) }))).toBe(401);
      expect(await fn.deliver(approve, signedHeaders(SECRET, approve, { timestamp: now - 600 }))).toBe(401);
      expect((await runProgress(client, ref)).gate?.decisions).toEqual([]);
      const headers = signedHeaders(SECRET, approve);
      expect(await fn.deliver(approve, headers)).toBe(200);
      expect(await fn.deliver(approve, headers)).toBe(401);

      await runHandle(client, ref).result();
      const progress = await runProgress(client, ref);
      expect(progress.gates.map((g) => g.decisions.map((d) => d.user))).toEqual([[CAROL.user]]);
      await waitUntil('the status message to say completed', () => /: completed/.test(statusMessage('fn')?.text ?? ''), 30_000);
    } finally {
      await close();
    }
  });

  it('opens a confirmation modal for /restore that says what a restore destroys, and starts the restore only once it is submitted', async () => {
    const before = await startedRuns();
    const opens = fake.answered('views.open').length;
    expect(await httpCommand('/restore', 'web snap-2026-12-01', ALICE, 'restore')).toBe(200);
    await waitUntil('the restore modal', () => fake.answered('views.open').length > opens, 20_000);
    const view = fake.answered('views.open').at(-1)!.args.view as { callback_id: string; private_metadata: string; blocks: unknown[] };
    expect(view.callback_id).toBe('confirm-restore');
    expect(messageText({ text: '', blocks: view.blocks })).toMatch(/Restore etcd of web\* from snapshot `snap-2026-12-01`.*etcd on every control plane \(`cp-1`\) is wiped.*written to Kubernetes after the snapshot was taken is lost/s);
    expect(await startedRuns()).toBe(before);

    // Submitting the modal starts the restore as the submitter, from the snapshot named in the command.
    expect(await http.interaction(viewSubmission(ALICE.user, view))).toBe(200);
    const ref = runOf(await replyTo('restore'));
    const handle = runHandle(client, ref);
    try {
      const started = await handle.describe();
      expect(started.type).toBe('restoreCluster');
      expect(started.typedSearchAttributes.get(REQUESTER)).toBe(ALICE.user);
      const history = await handle.fetchHistory();
      const input = history.events![0]!.workflowExecutionStartedEventAttributes!.input!.payloads![0]!.data!;
      expect(JSON.parse(Buffer.from(input).toString('utf8'))).toEqual({ cluster: 'web', requester: ALICE.user, from: 'snap-2026-12-01' });
    } finally {
      // Cluster web has no backups block, so its restore fails at its plan; ended here in case it has not yet.
      await handle.terminate('test: web has nothing to restore from').catch(() => undefined);
    }
  });
});
