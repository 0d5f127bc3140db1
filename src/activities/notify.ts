import type { NotificationBatch, NotificationRefs, RunNotification } from '../shared/notifications';

/** Where run notifications go: the worker log, and Slack when it is configured. */
export interface Notifier {
  notify(notification: RunNotification): Promise<void>;
  /**
   * Delivers a run's batch in order and returns refs to what it posted (merged into the run's refs). Notifiers
   * without it get each notification of the batch through `notify`, in order.
   */
  deliver?(batch: NotificationBatch): Promise<NotificationRefs | void>;
}

/** Delivers a batch through one notifier: its own `deliver`, or `notify` once per notification. */
export async function deliverBatch(notifier: Notifier, batch: NotificationBatch): Promise<NotificationRefs> {
  if (notifier.deliver) return (await notifier.deliver(batch)) ?? {};
  for (const n of batch.notifications) await notifier.notify(n);
  return {};
}

/** Writes one line per notification, e.g. `2026-12-01T10:00:00Z demo/install 3f2a…: gate start opened`. */
export class LogNotifier implements Notifier {
  constructor(private readonly write: (line: string) => void = (line) => process.stdout.write(`${line}\n`)) {}

  async notify(n: RunNotification): Promise<void> {
    this.write(`${new Date().toISOString()} ${n.cluster}/${n.operation} ${n.runId.slice(0, 8)}: ${n.node ? `${n.node}: ` : ''}${n.message}`);
  }
}

/** Sends every notification to each notifier in turn; one failing does not keep the others from hearing. */
export class Notifiers implements Notifier {
  constructor(private readonly notifiers: Notifier[]) {}

  async notify(n: RunNotification): Promise<void> {
    const results = await Promise.allSettled(this.notifiers.map((x) => x.notify(n)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  async deliver(batch: NotificationBatch): Promise<NotificationRefs> {
    const results = await Promise.allSettled(this.notifiers.map((x) => deliverBatch(x, batch)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    return Object.assign({}, ...results.map((r) => (r.status === 'fulfilled' ? r.value : {}))) as NotificationRefs;
  }
}

/** The notification activities: retried by Temporal with backoff when a notifier fails (Slack rate limits, outages). */
export function notifyActivities(notifier: Notifier) {
  return {
    /** One notification (runs started before batches existed still call it). */
    async notify(notification: RunNotification): Promise<void> {
      await notifier.notify(notification);
    },
    /** A run's batch of notifications, in order; returns the refs of what was posted. */
    async deliverNotifications(batch: NotificationBatch): Promise<NotificationRefs> {
      return deliverBatch(notifier, batch);
    },
  };
}
