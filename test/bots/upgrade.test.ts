import { readFileSync, writeFileSync } from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import { parse, stringify } from 'yaml';
import { createBotLambdaHandler, slackNotifier, startBot, type RunningBot } from '../../src/bots/bot';
import { botLogger } from '../../src/bots/logger';
import { listRuns, runHandle, runProgress } from '../../src/runtime/runs';
import type { RuntimeSettings } from '../../src/runtime/settings';
import { startFleetWorker, type FleetWorker } from '../../src/runtime/worker';
import type { UpgradeTimings } from '../../src/shared/upgrade';
import { TEST_SECRETS } from '../support/bot-env';
import { startManagedCluster, type ManagedCluster } from '../support/cluster';
import { waitUntil } from '../support/fleet';
import { buttons, FakeSlack, messageText, type FakeMessage } from '../support/slack-api';
import { clickOn, formBody, slashCommand, type Sender } from '../support/slack-requests';
import { forgedStaleGenuineReplayed, httpTransport, isSigned, lambdaTransport, socketTransport, type SignedTransport, type SlackTransport } from '../support/slack-transports';
import { SocketModeServer } from '../support/socket-mode';
import { startTestTemporal, testSettings, workflowBundlePath, type TestTemporal } from '../support/temporal';

jest.setTimeout(300_000);

const TIMING: Partial<UpgradeTimings> = { pollIntervalMs: 200, checkWindowMs: 2_000, heartbeatTimeoutMs: 5_000, nodeUpgradeTimeoutMs: 30_000, healthTimeoutMs: 60_000 };
const CHANNEL = 'C0PROD000';
const ALICE: Sender = { user: 'U0ALICE00', channel: CHANNEL };
const BOB: Sender = { user: 'U0BOB0000', channel: CHANNEL };
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
let socketBot: RunningBot;
let sm: SocketModeServer;
let closeLambda: (() => Promise<void>) | undefined;
/** The same bot's three receivers, each reached as Slack reaches it. */
let http: SignedTransport;
let socket: SlackTransport;
let lambda: SignedTransport;

beforeAll(async () => {
  fake = await new FakeSlack(TEST_SECRETS.botToken, TEST_SECRETS.appToken).start();
  sm = await new SocketModeServer().start();
  fake.socketUrl = sm.url;
  c = await startManagedCluster({
    // Three control planes: the upgrade hands etcd leadership over before it upgrades the leader.
    nodes: '3cp,1w',
    cluster: 'demo',
    policy: { approvers: [ALICE.user, BOB.user], allowSelfApproval: false, gates: { install: [], upgrade: ['start'], 'upgrade-k8s': [], apply: [], restore: [] }, canaryCount: 1, workerBatchSize: 1 },
  });
  const doc = parse(readFileSync(c.inventory.path, 'utf8')) as { clusters: Record<string, unknown>[] };
  doc.clusters[0]!.slack = { channel: CHANNEL };
  writeFileSync(c.inventory.path, stringify(doc));
  server = await startTestTemporal(c.t.dir);
  settings = testSettings(server, c.inventory.path);
  worker = await startFleetWorker({ settings, workflowBundlePath: await workflowBundlePath(), setCurrentVersion: true, notifier: slackNotifier({ secrets: TEST_SECRETS, settings, apiUrl: fake.apiUrl }), log: () => undefined });
  connection = await Connection.connect({ address: server.address });
  client = new Client({ connection, namespace: server.namespace });
  const botOptions = { secrets: TEST_SECRETS, settings, apiUrl: fake.apiUrl, logger: botLogger({ write: () => undefined }), deps: { timing: { upgrade: TIMING } } };
  bot = await startBot({ ...botOptions, mode: 'http', port: 0, host: '127.0.0.1' });
  http = httpTransport(`http://127.0.0.1:${bot.port}/slack/events`, SECRET);
  socketBot = await startBot({ ...botOptions, mode: 'socket' });
  await sm.connected;
  socket = socketTransport(sm);
  const fn = await createBotLambdaHandler(botOptions);
  closeLambda = fn.close;
  lambda = lambdaTransport(fn.handler, SECRET);
}, 180_000);

afterAll(async () => {
  await bot?.stop();
  await socketBot?.stop();
  await sm?.stop();
  await closeLambda?.();
  await worker?.shutdown();
  await connection?.close();
  await server?.stop();
  await c?.t.stop();
  await fake?.stop();
});

/** The first reply posted to response_url `id`. */
async function replyTo(id: string): Promise<string> {
  await waitUntil(`the reply to ${id}`, () => fake.repliesTo(id).length > 0, 60_000);
  return fake.repliesTo(id)[0]!;
}

/** A slash command over HTTP, acknowledged; its reply (posted to response_url `id`). */
async function command(text: string, from: Sender, id: string, name = '/upgrade'): Promise<string> {
  expect(await http.command(slashCommand(name, text, from, fake.responseUrl(id)))).toBe(200);
  return replyTo(id);
}

/** `completed` or the run's failure, or after `ms` an error that says where the run stands. */
async function outcome(ref: string, ms = 120_000): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => void runProgress(client, ref).then((p) => reject(new Error(`run ${ref} did not end within ${ms} ms: ${JSON.stringify({ status: p.status, phase: p.phase, gate: p.gate?.name, events: p.events.slice(-5) })}`)), reject), ms)));
  try {
    return await Promise.race([runHandle(client, ref).result().then(() => 'completed', (err: Error) => err.message), late]);
  } finally {
    clearTimeout(timer);
  }
}

const statusOf = (ref: string) => fake.channelMessages(CHANNEL).find((m) => messageText(m).includes(ref));
const gateIn = (status: FakeMessage, name: RegExp) => fake.thread(CHANNEL, status.ts).find((m) => name.test(m.versions[0]!.text));
const calls = (method: string, since: number) => c.t.fleet.calls(method, since).map((r) => r.node);
/** The upgrade runs' status messages in the channel (each upgrade's snapshot run has one of its own). */
const upgradeStatuses = () => fake.channelMessages(CHANNEL).filter((m) => m.text.startsWith('upgrade demo:'));
const runsOfDemo = async () => (await listRuns(client, { cluster: 'demo' })).map((r) => r.id);

/**
 * `/upgrade demo VERSION` by Alice through one receiver, to the end: the run starts, the approval is asked in its
 * thread, Bob (an approver) clicks Approve, every node is upgraded and the status message ends completed listing
 * each. Through a signed receiver the command is first sent forged and stale, and sent again after it was accepted
 * (a replay): each of those is refused, and only the genuine one starts a run or gets a reply.
 */
async function upgradeToCompletion(via: SlackTransport, from: string, version: string, id: string): Promise<void> {
  const runsBefore = await runsOfDemo();
  const statusesBefore = upgradeStatuses().length;
  const since = Date.now();
  const fields = slashCommand('/upgrade', `demo ${version}`, ALICE, fake.responseUrl(id));
  if (isSigned(via)) expect(await forgedStaleGenuineReplayed(via, formBody(fields))).toEqual([401, 401, 200, 401]);
  else expect(await via.command(fields)).toBe(200);
  const reply = await replyTo(id);
  expect(reply).toMatch(/^Started upgrade of \*demo\*: run `demo@/);
  const ref = /run `([^`]+)`/.exec(reply)![1]!;
  await waitUntil('the approval message', () => (statusOf(ref) ? gateIn(statusOf(ref)!, /gate start/) !== undefined : false), 60_000);
  const approval = gateIn(statusOf(ref)!, /gate start/)!;
  expect(messageText(approval)).toContain(`upgrade demo from ${from} to ${version}`);
  expect(await via.interaction(clickOn(BOB, approval, 'gate:approve'))).toBe(200);
  expect(await outcome(ref)).toBe('completed');
  await waitUntil('the status message to end completed', () => /: completed/.test(statusOf(ref)!.text), 30_000);
  const status = messageText(statusOf(ref)!);
  expect(status).toMatch(/\*upgrade demo\*: \*completed\* · phase `completed` · 4\/4 nodes done/);
  for (const node of ['`cp-1` controlplane', '`cp-2` controlplane', '`cp-3` controlplane', '`w-1` worker']) expect(status).toContain(`${node} — done: upgraded to ${version}`);
  expect(messageText(gateIn(statusOf(ref)!, /gate start/)!)).toMatch(/<@U0BOB0000> approved/);
  expect(calls('Upgrade', since).sort()).toEqual(['cp-1', 'cp-2', 'cp-3', 'w-1']);

  // Only the genuine command did anything: one run more in Temporal, one reply, one more upgrade status message.
  await waitUntil('the run in the listing', async () => (await runsOfDemo()).includes(ref), 20_000);
  expect((await runsOfDemo()).sort()).toEqual([...runsBefore, ref].sort());
  expect(fake.repliesTo(id)).toEqual([reply]);
  expect(upgradeStatuses()).toHaveLength(statusesBefore + 1);
}

describe('upgrades from Slack', () => {
  it('/fleet plan upgrade shows the plan from the worker and starts nothing', async () => {
    const reply = await command('plan upgrade demo v1.10.10', ALICE, 'plan', '/fleet');
    expect(reply).toMatch(/^\*Plan: upgrade demo to v1\.10\.10\* \(nothing was started\)/);
    expect(reply).toMatch(/upgrade demo from v1\.10\.9 to v1\.10\.10 in 1 hop/);
    expect(calls('Upgrade', 0)).toEqual([]);
    expect(await command('plan upgrade demo v1.9.6', ALICE, 'plan-down', '/fleet')).toMatch(/cannot be planned: .*downgrades are not planned/);
  });

  it('/upgrade demo VERSION over HTTP: forged, stale and replayed commands start nothing; the run starts, the approval is asked, an approver clicks, and the status message ends completed with every node', async () => {
    await upgradeToCompletion(http, 'v1.10.9', 'v1.10.10', 'up-http');
  });

  it('/upgrade demo VERSION over Socket Mode: the same start, approval and completed status message', async () => {
    await upgradeToCompletion(socket, 'v1.10.10', 'v1.10.11', 'up-socket');
  });

  it('/upgrade demo VERSION through the Lambda handler with signed API Gateway events: forged, stale and replayed commands start nothing; the same start, approval and completed status message', async () => {
    await upgradeToCompletion(lambda, 'v1.10.11', 'v1.10.12', 'up-lambda');
  });

  it('a decision gate\'s Roll back button, clicked twice by an approver, sends the node one Rollback; a non-approver\'s click changes nothing', async () => {
    await c.t.fleet.fault('w-1', 'upgrade-fails-to-boot');
    const since = Date.now();
    const ref = /run `([^`]+)`/.exec(await command('demo v1.10.13', ALICE, 'up-decision'))![1]!;
    await waitUntil('the approval message', () => (statusOf(ref) ? gateIn(statusOf(ref)!, /gate start/) !== undefined : false), 60_000);
    expect(await http.interaction(clickOn(BOB, gateIn(statusOf(ref)!, /gate start/)!, 'gate:approve'))).toBe(200);
    await waitUntil('the decision message', () => gateIn(statusOf(ref)!, /Decision needed/) !== undefined, 120_000);
    const decision = gateIn(statusOf(ref)!, /Decision needed/)!;
    expect(buttons(decision)).toEqual(['gate:retry', 'gate:rollback', 'gate:skip', 'gate:abort']);
    expect(messageText(decision)).toMatch(/node `w-1`.*came back on v1\.10\.12, not v1\.10\.13/s);

    expect(await http.interaction(clickOn(MALLORY, decision, 'gate:rollback'))).toBe(200);
    await waitUntil('the refusal', () => fake.answered('chat.postEphemeral').some((e) => e.args.user === MALLORY.user), 20_000);
    expect((await runProgress(client, ref)).gate?.decisions).toEqual([]);
    expect(calls('Rollback', since)).toEqual([]);

    // A double click: two requests, one Update id, one decision, one Rollback, and no error shown to Bob.
    expect(await Promise.all([http.interaction(clickOn(BOB, decision, 'gate:rollback')), http.interaction(clickOn(BOB, decision, 'gate:rollback'))])).toEqual([200, 200]);
    expect(await outcome(ref)).not.toBe('completed');
    expect(calls('Rollback', since)).toEqual(['w-1']);
    const progress = await runProgress(client, ref);
    expect(progress.error).toMatch(/w-1 was rolled back \(decided by U0BOB0000\)/);
    expect(progress.gates.at(-1)!.decisions.map((d) => [d.user, d.choice])).toEqual([[BOB.user, 'rollback']]);
    expect(fake.answered('chat.postEphemeral').filter((e) => e.args.user === BOB.user)).toEqual([]);
    await waitUntil('the decision message to show who decided', () => buttons(gateIn(statusOf(ref)!, /Decision needed/)!).length === 0, 30_000);
    expect(messageText(gateIn(statusOf(ref)!, /Decision needed/)!)).toMatch(/:rewind: <@U0BOB0000> chose to roll back at/);
    await waitUntil('the status message to end failed', () => /: failed/.test(statusOf(ref)!.text), 30_000);
  });
});
