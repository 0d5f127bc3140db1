import type { RunNotification } from '../shared/notifications';

/** Where run notifications go: the worker log until Slack is configured, then Slack too. */
export interface Notifier {
  notify(notification: RunNotification): Promise<void>;
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
}

/** The notification activity: retried by Temporal with backoff when a notifier fails (Slack rate limits, outages). */
export function notifyActivities(notifier: Notifier) {
  return {
    async notify(notification: RunNotification): Promise<void> {
      await notifier.notify(notification);
    },
  };
}
