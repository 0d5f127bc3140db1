import type { webApi } from '@slack/bolt';
import type { Notifier } from '../activities/notify';
import { runRef } from '../runtime/runs';
import type { NotificationBatch, NotificationRefs, RunNotification } from '../shared/notifications';
import type { ClosedGate, OpenGate } from '../shared/runs';
import { gateMessage } from './blocks/gates';
import type { SlackMessage } from './blocks/message';
import { statusMessage, type RunLink } from './blocks/status';
import { chunkLines, clock, escapeText } from './blocks/text';
import { callSlack, type RateLimitBudget } from './slack-calls';

/** Keys of the refs the Slack notifier keeps in the run. */
const CHANNEL_REF = 'slack:channel';
const STATUS_REF = 'slack:status';
const gateRef = (gate: OpenGate) => `slack:gate:${gate.name}@${gate.openedAt}`;

/** A thread message holds at most this much text (Slack cuts longer ones into several anyway). */
const THREAD_TEXT_MAX = 3_000;

export interface SlackNotifierOptions {
  /** A Web API client with the bot token, built with `rejectRateLimitedCalls: true` (we wait out 429s ourselves). */
  client: webApi.WebClient;
  /** The cluster's channel (`slack.channel` in the inventory); clusters without one are not posted. */
  channelOf(cluster: string): string | undefined;
  /** A link to a run in the Temporal UI, when its address is known. */
  runUrl?(workflowId: string, runId: string): string | undefined;
  /** How long one delivery may wait out rate limits before it gives up and lets Temporal retry it (default 90 s). */
  maxWaitMs?: number;
  sleep?: (ms: number) => Promise<void>;
  onRateLimited?: (method: string, retryAfterMs: number) => void;
}

/**
 * Run notifications in Slack: one status message per run in the cluster's channel, redrawn in place; a thread under
 * it with every event, a batch at a time (so a burst of node events is a few messages, not a flood); a message per
 * gate with its buttons, replaced by who decided what and when. Message ids come back as refs, which the run keeps
 * and hands back, so any worker (or a Lambda invocation) can continue where another left off.
 */
export class SlackNotifier implements Notifier {
  /** Refs of runs that still send one notification at a time (started before batches existed): best effort. */
  private readonly legacyRefs = new Map<string, NotificationRefs>();

  constructor(private readonly opts: SlackNotifierOptions) {}

  async notify(n: RunNotification): Promise<void> {
    const refs = await this.deliver({ notifications: [n], refs: this.legacyRefs.get(n.runId) ?? {} });
    this.legacyRefs.set(n.runId, { ...this.legacyRefs.get(n.runId), ...refs });
    if (this.legacyRefs.size > 1_000) this.legacyRefs.delete(this.legacyRefs.keys().next().value!);
  }

  async deliver(batch: NotificationBatch): Promise<NotificationRefs> {
    const first = batch.notifications[0];
    const last = batch.notifications.at(-1);
    if (!first || !last) return {};
    const channel = batch.refs[CHANNEL_REF] ?? this.opts.channelOf(first.cluster);
    if (!channel) return {};
    const budget: RateLimitBudget = { deadline: Date.now() + (this.opts.maxWaitMs ?? 90_000), ...(this.opts.sleep ? { sleep: this.opts.sleep } : {}), ...(this.opts.onRateLimited ? { onRateLimited: this.opts.onRateLimited } : {}) };
    const client = this.opts.client;
    const url = this.opts.runUrl?.(first.workflowId, first.runId);
    const run: RunLink & { cluster: string; operation: string } = { ref: runRef(first.workflowId, first.runId), cluster: first.cluster, operation: first.operation, ...(url ? { url } : {}) };
    const refs: NotificationRefs = {};
    /** Posts to the channel, or into the thread (`broadcast`: also shown in the channel). */
    const post = async (message: { text: string; blocks?: SlackMessage['blocks'] }, thread?: { ts: string; broadcast?: boolean }): Promise<string> => {
      const args = thread ? (thread.broadcast ? { channel, ...message, thread_ts: thread.ts, reply_broadcast: true } : { channel, ...message, thread_ts: thread.ts }) : { channel, ...message };
      const res = await callSlack('chat.postMessage', () => client.chat.postMessage(args), budget);
      if (!res.ts) throw new Error('chat.postMessage answered without a ts');
      return res.ts;
    };
    const update = async (ts: string, message: SlackMessage) => {
      await callSlack('chat.update', () => client.chat.update({ channel, ts, ...message }), budget);
    };

    let statusTs = batch.refs[STATUS_REF];
    let statusDrawn = false;
    if (!statusTs) {
      statusTs = await post(statusMessage(last.progress, run));
      Object.assign(refs, { [CHANNEL_REF]: channel, [STATUS_REF]: statusTs });
      statusDrawn = true;
    }
    const threadTs = statusTs;

    // The thread keeps the batch's order: lines are posted together up to each new gate, which is its own message.
    let lines: string[] = [];
    const flush = async () => {
      for (const text of chunkLines(lines, THREAD_TEXT_MAX)) await post({ text }, { ts: threadTs });
      lines = [];
    };
    const gateUpdates = new Map<string, OpenGate | ClosedGate>();
    for (const n of batch.notifications) {
      const gate = n.gate;
      if (gate && n.kind === 'gate-opened' && !batch.refs[gateRef(gate)] && !refs[gateRef(gate)]) {
        await flush();
        // Broadcast: the question shows in the channel as well as in the thread, where people will look for it.
        refs[gateRef(gate)] = await post(gateMessage(gate, run), { ts: threadTs, broadcast: true });
        continue;
      }
      if (gate) gateUpdates.set(gateRef(gate), gate);
      lines.push(threadLine(n));
    }
    await flush();
    for (const [key, gate] of gateUpdates) {
      const ts = batch.refs[key] ?? refs[key];
      if (ts) await update(ts, gateMessage(gate, run));
    }
    if (!statusDrawn || batch.notifications.length > 1) await update(statusTs, statusMessage(last.progress, run));
    return refs;
  }
}

/** One event in the thread: `*10:02:03* cp-1: ready on v1.10.9`. */
export function threadLine(n: RunNotification): string {
  const at = clock(n.progress.events.at(-1)?.at);
  return `${at ? `*${at}* ` : ''}${n.node ? `\`${escapeText(n.node)}\` ` : ''}${escapeText(n.message)}`;
}
