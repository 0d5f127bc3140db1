import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, Worker } from '@temporalio/worker';
import { stringify } from 'yaml';
import { wrapActivities } from '../../src/activities/failures';
import { notifyActivities } from '../../src/activities/notify';
import { slackNotifier } from '../../src/bots/bot';
import { TEST_SECRETS } from '../support/bot-env';
import { FakeSlack, messageText } from '../support/slack-api';
import { startTestTemporal, type TestTemporal } from '../support/temporal';
import type { BurstInput } from './workflows/burst';

jest.setTimeout(180_000);

const CHANNEL = 'C0BURST00';
let dir: string;
let fake: FakeSlack;
let server: TestTemporal;
let connection: Connection;
let client: Client;
let worker: Worker;
let running: Promise<void>;
const taskQueue = `burst-${randomUUID()}`;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'talos-fleet-burst-'));
  const inventoryPath = join(dir, 'fleet.yaml');
  // The notifier only needs the cluster's channel; the rest of the file is never read.
  writeFileSync(inventoryPath, stringify({ clusters: [{ name: 'burst', endpoint: 'https://10.0.0.1:6443', talosVersion: 'v1.10.9', secrets: 's', talosconfig: 't', nodes: [{ name: 'n-1', address: '10.0.0.1', role: 'controlplane' }], policy: { approvers: ['U0REQUEST'] }, slack: { channel: CHANNEL } }] }));
  fake = await new FakeSlack(TEST_SECRETS.botToken).start();
  server = await startTestTemporal(dir);
  const notifier = slackNotifier({ secrets: TEST_SECRETS, settings: { inventoryPath, namespace: server.namespace }, apiUrl: fake.apiUrl });
  const bundle = await bundleWorkflowCode({ workflowsPath: require.resolve('./workflows/burst'), logger: { log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined } });
  const nativeConnection = await NativeConnection.connect({ address: server.address });
  worker = await Worker.create({ connection: nativeConnection, namespace: server.namespace, taskQueue, workflowBundle: bundle, activities: wrapActivities(notifyActivities(notifier)) });
  running = worker.run().finally(() => nativeConnection.close());
  connection = await Connection.connect({ address: server.address });
  client = new Client({ connection, namespace: server.namespace });
}, 120_000);

afterAll(async () => {
  worker?.shutdown();
  await running;
  await connection?.close();
  await server?.stop();
  await fake?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('the Slack notifier under a rate limit', () => {
  it('delivers a burst of 200 node events at one message per second: none lost, in order, in a few thread messages', async () => {
    fake.rateLimit(['chat.postMessage', 'chat.update'], 1_000);
    await client.workflow.execute('notificationBurst', { workflowId: `burst-${randomUUID()}`, taskQueue, args: [{ cluster: 'burst', events: 200 } satisfies BurstInput], workflowExecutionTimeout: '2 minutes' });

    const [status, ...others] = fake.channelMessages(CHANNEL);
    expect(others).toEqual([]);
    expect(messageText(status!)).toMatch(/\*upgrade burst\*: \*completed\*/);
    const thread = fake.thread(CHANNEL, status!.ts);
    const events = thread.flatMap((m) => m.text.split('\n')).map((line) => /event (\d+) of 200/.exec(line)?.[1]).filter((n): n is string => n !== undefined).map(Number);
    expect(events).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    expect(thread.at(-1)!.text).toMatch(/every event was reported/);
    // Batched: a handful of thread messages, not one per event.
    expect(thread.length).toBeLessThanOrEqual(15);

    // Slack said "wait" and was obeyed: after each 429, the next call of that method came no sooner than Retry-After.
    const limited = fake.calls.filter((c) => c.status === 429);
    expect(limited.length).toBeGreaterThan(0);
    for (const l of limited) {
      const next = fake.calls.find((c) => c.method === l.method && c.at > l.at);
      expect(next!.at - l.at).toBeGreaterThanOrEqual(l.retryAfter! * 1_000);
    }
  });
});
