import { readFileSync, writeFileSync } from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import { parse, stringify } from 'yaml';
import { slackNotifier, startBot, type RunningBot } from '../../src/bots/bot';
import { botLogger } from '../../src/bots/logger';
import { runHandle, runProgress } from '../../src/runtime/runs';
import type { RuntimeSettings } from '../../src/runtime/settings';
import { startFleetWorker, type FleetWorker } from '../../src/runtime/worker';
import type { BackupTimings, RestoreClusterResult, SnapshotClusterResult } from '../../src/shared/backups';
import { TEST_SECRETS } from '../support/bot-env';
import { startManagedCluster, type ManagedCluster } from '../support/cluster';
import { waitUntil } from '../support/fleet';
import { buttons, FakeSlack, messageText, type FakeMessage } from '../support/slack-api';
import { buttonClick, formBody, post, signedHeaders, slashCommand, viewSubmission, type Sender } from '../support/slack-requests';
import { startTestTemporal, testSettings, workflowBundlePath, type TestTemporal } from '../support/temporal';

jest.setTimeout(300_000);

const TIMING: Partial<BackupTimings> = { pollIntervalMs: 200, checkWindowMs: 2_000, heartbeatTimeoutMs: 5_000, transferTimeoutMs: 120_000, preparingTimeoutMs: 60_000, preparingStableMs: 300, etcdJoinTimeoutMs: 90_000, healthTimeoutMs: 90_000, rebootTimeoutMs: 90_000 };
const CHANNEL = 'C0DR00000';
const ALICE: Sender = { user: 'U0ALICE00', channel: CHANNEL };
const BOB: Sender = { user: 'U0BOB0000', channel: CHANNEL };
const CAROL: Sender = { user: 'U0CAROL00', channel: CHANNEL };
const MALLORY: Sender = { user: 'U0MALLORY', channel: CHANNEL };
const SECRET = TEST_SECRETS.signingSecret;

let c: ManagedCluster;
let fake: FakeSlack;
let server: TestTemporal;
let settings: RuntimeSettings;
let worker: FleetWorker;
let connection: Connection;
let client: Client;
let bot: RunningBot;
let eventsUrl: string;

beforeAll(async () => {
  fake = await new FakeSlack(TEST_SECRETS.botToken).start();
  // The lightweight simulator (no Kubernetes processes): one control plane is enough to restore.
  c = await startManagedCluster({
    nodes: '1cp',
    cluster: 'demo',
    policy: { approvers: [ALICE.user, BOB.user, CAROL.user], allowSelfApproval: false, gates: { install: [], upgrade: [], 'upgrade-k8s': [], apply: [], restore: ['start'] }, requiredApprovals: { restore: 2 } },
  });
  const doc = parse(readFileSync(c.inventory.path, 'utf8')) as { clusters: Record<string, unknown>[] };
  doc.clusters[0]!.slack = { channel: CHANNEL };
  writeFileSync(c.inventory.path, stringify(doc));
  server = await startTestTemporal(c.t.dir);
  settings = testSettings(server, c.inventory.path);
  worker = await startFleetWorker({ settings, workflowBundlePath: await workflowBundlePath(), setCurrentVersion: true, scheduleTiming: TIMING, notifier: slackNotifier({ secrets: TEST_SECRETS, settings, apiUrl: fake.apiUrl }), log: () => undefined });
  connection = await Connection.connect({ address: server.address });
  client = new Client({ connection, namespace: server.namespace });
  bot = await startBot({ secrets: TEST_SECRETS, settings, mode: 'http', port: 0, host: '127.0.0.1', apiUrl: fake.apiUrl, logger: botLogger({ write: () => undefined }), deps: { timing: { backups: TIMING } } });
  eventsUrl = `http://127.0.0.1:${bot.port}/slack/events`;
}, 180_000);

afterAll(async () => {
  await bot?.stop();
  await worker?.shutdown();
  await connection?.close();
  await server?.stop();
  await c?.t.stop();
  await fake?.stop();
});

/** A signed request to the bot's HTTP receiver. */
async function send(body: string): Promise<number> {
  return (await post(eventsUrl, body, signedHeaders(SECRET, body))).status;
}

/** A signed slash command; resolves to the reply posted to response_url `id`. */
async function command(name: string, text: string, from: Sender, id: string): Promise<string> {
  expect(await send(formBody(slashCommand(name, text, from, fake.responseUrl(id))))).toBe(200);
  return replyTo(id);
}

async function replyTo(id: string): Promise<string> {
  await waitUntil(`the reply to ${id}`, () => fake.responses.some((r) => r.id === id), 60_000);
  return fake.responses.find((r) => r.id === id)!.body.text ?? '';
}

async function clickOn(from: Sender, message: FakeMessage, actionId: string): Promise<number> {
  const blocks = message.blocks as { type: string; elements?: { action_id: string; value: string }[] }[];
  const button = blocks.flatMap((b) => b.elements ?? []).find((e) => e.action_id === actionId)!;
  return send(formBody({ payload: buttonClick(from, message, button) }));
}

const runOf = (reply: string) => /run `([^`]+)`/.exec(reply)?.[1] ?? '';
const statusOf = (operation: string) => fake.channelMessages(CHANNEL).filter((m) => m.text.startsWith(`${operation} demo:`)).at(-1);
const approvalIn = (status: FakeMessage) => fake.thread(CHANNEL, status.ts).find((m) => /Approval needed: restore demo, gate start/.test(m.versions[0]!.text));
const ephemeralsTo = (user: string) => fake.answered('chat.postEphemeral').filter((x) => x.args.user === user).map((x) => String(x.args.text));
const sent = (method: string) => c.t.fleet.nodes().flatMap((n) => n.record.filter((r) => r.method === method).map(() => n.name));

describe('backups from Slack', () => {
  let snapshotId: string;

  it('/snapshot demo starts a snapshot run whose message in the channel ends with the verified snapshot id', async () => {
    const reply = await command('/snapshot', 'demo', ALICE, 'snap');
    expect(reply).toMatch(/^Started snapshot of \*demo\*: run `demo\/snapshot@[0-9a-f-]+`.*Progress and its gates are in <#C0DR00000>/);
    const result = (await runHandle(client, runOf(reply)).result()) as SnapshotClusterResult;
    expect(result).toMatchObject({ outcome: 'verified', snapshot: { requester: ALICE.user, trigger: 'manual', verification: { status: 'verified' } } });
    snapshotId = result.snapshot!.id;
    await waitUntil('the status message to end completed', () => /: completed/.test(statusOf('snapshot')?.text ?? ''), 30_000);
    const status = messageText(statusOf('snapshot')!);
    expect(status).toMatch(/\*snapshot demo\*: \*completed\*/);
    expect(status).toMatch(/requested by <@U0ALICE00>/);
    expect(status.endsWith(`stored and verified: ${snapshotId}`)).toBe(true);
  });

  it('/restore demo SNAPSHOT: the modal says what will happen, its submission starts the restore, an outsider\'s and the requester\'s clicks are refused, two approvals let it complete', async () => {
    const opens = fake.answered('views.open').length;
    expect(await send(formBody(slashCommand('/restore', `demo ${snapshotId}`, ALICE, fake.responseUrl('restore'))))).toBe(200);
    await waitUntil('the restore modal', () => fake.answered('views.open').length > opens, 20_000);
    const view = fake.answered('views.open').at(-1)!.args.view as { callback_id: string; private_metadata: string; blocks: unknown[] };
    expect(messageText({ text: '', blocks: view.blocks })).toMatch(
      new RegExp(`Restore etcd of demo\\* from snapshot \`${snapshotId}\`.*every control plane \\(\`cp-1\`\\) is wiped.*is lost.*needs 2 approvals from distinct approvers \\(<@U0ALICE00>, <@U0BOB0000>, <@U0CAROL00>\\) before it touches a node`, 's'),
    );
    // Nothing starts before the submission.
    expect(statusOf('restore')).toBeUndefined();

    expect(await send(formBody({ payload: viewSubmission(ALICE.user, view) }))).toBe(200);
    const ref = runOf(await replyTo('restore'));
    expect(ref).toMatch(/^demo@/);
    await waitUntil('the approval message with its buttons', () => (statusOf('restore') && approvalIn(statusOf('restore')!) ? buttons(approvalIn(statusOf('restore')!)!).length > 0 : false), 60_000);
    const approval = approvalIn(statusOf('restore')!)!;
    expect(messageText(approval)).toMatch(new RegExp(`restore demo from snapshot ${snapshotId}.*needs 2 approvals from distinct approvers`, 's'));

    // Mallory is no approver; Alice asked for the restore and may not approve it herself.
    for (const [from, expected] of [[MALLORY, /Your \*approve\* was not accepted: <@U0MALLORY> may not decide gates of cluster demo/], [ALICE, /Your \*approve\* was not accepted: <@U0ALICE00> started this run and may not approve it/]] as const) {
      expect(await clickOn(from, approval, 'gate:approve')).toBe(200);
      await waitUntil(`the refusal told to ${from.user}`, () => ephemeralsTo(from.user).length > 0, 20_000);
      expect(ephemeralsTo(from.user).at(-1)).toMatch(expected);
    }
    expect((await runProgress(client, ref)).gate?.decisions).toEqual([]);
    expect(sent('Reset')).toEqual([]);

    // Bob's approval counts, and the gate waits for a second approver; Carol's closes it.
    expect(await clickOn(BOB, approval, 'gate:approve')).toBe(200);
    await waitUntil('Bob\'s approval to be recorded', async () => ((await runProgress(client, ref)).gate?.decisions.length ?? 0) === 1, 20_000);
    expect(sent('Reset')).toEqual([]);
    await waitUntil('the message to show one more approval to go', () => /1 more to go/.test(messageText(approvalIn(statusOf('restore')!)!)), 20_000);
    expect(await clickOn(CAROL, approvalIn(statusOf('restore')!)!, 'gate:approve')).toBe(200);

    const result = (await runHandle(client, ref).result()) as RestoreClusterResult;
    expect(result).toMatchObject({ cluster: 'demo', snapshot: snapshotId, recoveredOn: 'cp-1' });
    expect(sent('Reset')).toEqual(['cp-1']);
    expect(sent('EtcdRecover')).toEqual(['cp-1']);
    const progress = await runProgress(client, ref);
    expect(progress.requester).toBe(ALICE.user);
    expect(progress.gates.at(-1)!.decisions.map((d) => d.user)).toEqual([BOB.user, CAROL.user]);
    await waitUntil('the status message to end completed', () => /: completed/.test(statusOf('restore')?.text ?? ''), 30_000);
    expect(messageText(statusOf('restore')!)).toMatch(new RegExp(`cluster demo is restored from ${snapshotId}, healthy`));
    const decided = approvalIn(statusOf('restore')!)!;
    expect(buttons(decided)).toEqual([]);
    expect(messageText(decided)).toMatch(/<@U0BOB0000> approved at .*\n:white_check_mark: <@U0CAROL00> approved at/);
  });
});
