import { readFileSync, writeFileSync } from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import { parse, stringify } from 'yaml';
import { slackNotifier, startBot, type RunningBot } from '../../src/bots/bot';
import { botLogger } from '../../src/bots/logger';
import { runHandle, runProgress } from '../../src/runtime/runs';
import type { RuntimeSettings } from '../../src/runtime/settings';
import { startFleetWorker, type FleetWorker } from '../../src/runtime/worker';
import type { UpgradeTimings } from '../../src/shared/upgrade';
import { TEST_SECRETS } from '../support/bot-env';
import { startManagedCluster, type ManagedCluster } from '../support/cluster';
import { waitUntil } from '../support/fleet';
import { buttons, FakeSlack, messageText, type FakeMessage } from '../support/slack-api';
import { buttonClick, formBody, post, signedHeaders, slashCommand, type Sender } from '../support/slack-requests';
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
let eventsUrl: string;

beforeAll(async () => {
  fake = await new FakeSlack(TEST_SECRETS.botToken).start();
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
  bot = await startBot({ secrets: TEST_SECRETS, settings, mode: 'http', port: 0, host: '127.0.0.1', apiUrl: fake.apiUrl, logger: botLogger({ write: () => undefined }), deps: { timing: { upgrade: TIMING } } });
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

async function command(text: string, from: Sender, id: string, name = '/upgrade'): Promise<string> {
  const body = formBody(slashCommand(name, text, from, fake.responseUrl(id)));
  expect((await post(eventsUrl, body, signedHeaders(SECRET, body))).status).toBe(200);
  await waitUntil(`the reply to ${id}`, () => fake.responses.some((r) => r.id === id), 60_000);
  return fake.responses.find((r) => r.id === id)!.body.text ?? '';
}

async function clickOn(from: Sender, message: FakeMessage, actionId: string): Promise<number> {
  const blocks = message.blocks as { type: string; elements?: { action_id: string; value: string }[] }[];
  const button = blocks.flatMap((b) => b.elements ?? []).find((e) => e.action_id === actionId)!;
  const body = formBody({ payload: buttonClick(from, message, button) });
  return (await post(eventsUrl, body, signedHeaders(SECRET, body))).status;
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

describe('upgrades from Slack', () => {
  it('/fleet plan upgrade shows the plan from the worker and starts nothing', async () => {
    const reply = await command('plan upgrade demo v1.10.10', ALICE, 'plan', '/fleet');
    expect(reply).toMatch(/^\*Plan: upgrade demo to v1\.10\.10\* \(nothing was started\)/);
    expect(reply).toMatch(/upgrade demo from v1\.10\.9 to v1\.10\.10 in 1 hop/);
    expect(calls('Upgrade', 0)).toEqual([]);
    expect(await command('plan upgrade demo v1.9.6', ALICE, 'plan-down', '/fleet')).toMatch(/cannot be planned: .*downgrades are not planned/);
  });

  it('/upgrade demo VERSION: the run starts, the approval is asked, an approver clicks, and the status message ends completed with every node', async () => {
    const reply = await command('demo v1.10.10', ALICE, 'up-1');
    const ref = /run `([^`]+)`/.exec(reply)![1]!;
    await waitUntil('the status message', () => statusOf(ref) !== undefined, 60_000);
    await waitUntil('the approval message', () => gateIn(statusOf(ref)!, /gate start/) !== undefined, 60_000);
    const approval = gateIn(statusOf(ref)!, /gate start/)!;
    expect(messageText(approval)).toMatch(/upgrade demo from v1\.10\.9 to v1\.10\.10/);
    expect(await clickOn(BOB, approval, 'gate:approve')).toBe(200);
    expect(await outcome(ref)).toBe('completed');
    await waitUntil('the status message to end completed', () => /: completed/.test(statusOf(ref)!.text), 30_000);
    const status = messageText(statusOf(ref)!);
    expect(status).toMatch(/\*upgrade demo\*: \*completed\* · phase `completed` · 4\/4 nodes done/);
    for (const node of ['cp-1', 'cp-2', 'cp-3']) expect(status).toMatch(new RegExp(`\`${node}\` controlplane — done: upgraded to v1\\.10\\.10`));
    expect(status).toMatch(/`w-1` worker — done: upgraded to v1\.10\.10/);
    expect(messageText(gateIn(statusOf(ref)!, /gate start/)!)).toMatch(/<@U0BOB0000> approved/);
  });

  it('a decision gate\'s Roll back button, clicked twice by an approver, sends the node one Rollback; a non-approver\'s click changes nothing', async () => {
    await c.t.fleet.fault('w-1', 'upgrade-fails-to-boot');
    const since = Date.now();
    const ref = /run `([^`]+)`/.exec(await command('demo v1.10.11', ALICE, 'up-2'))![1]!;
    await waitUntil('the approval message', () => (statusOf(ref) ? gateIn(statusOf(ref)!, /gate start/) !== undefined : false), 60_000);
    expect(await clickOn(BOB, gateIn(statusOf(ref)!, /gate start/)!, 'gate:approve')).toBe(200);
    await waitUntil('the decision message', () => gateIn(statusOf(ref)!, /Decision needed/) !== undefined, 120_000);
    const decision = gateIn(statusOf(ref)!, /Decision needed/)!;
    expect(buttons(decision)).toEqual(['gate:retry', 'gate:rollback', 'gate:skip', 'gate:abort']);
    expect(messageText(decision)).toMatch(/node `w-1`.*came back on v1\.10\.10, not v1\.10\.11/s);

    expect(await clickOn(MALLORY, decision, 'gate:rollback')).toBe(200);
    await waitUntil('the refusal', () => fake.answered('chat.postEphemeral').some((e) => e.args.user === MALLORY.user), 20_000);
    expect((await runProgress(client, ref)).gate?.decisions).toEqual([]);
    expect(calls('Rollback', since)).toEqual([]);

    // A double click: two requests, one Update id, one decision, one Rollback, and no error shown to Bob.
    expect(await Promise.all([clickOn(BOB, decision, 'gate:rollback'), clickOn(BOB, decision, 'gate:rollback')])).toEqual([200, 200]);
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
