import type { Operation } from './names';
import type { ClosedGate, OpenGate, RunProgress } from './runs';

/** What a run tells the people who follow it (`alarm`: something needs attention though the run goes on, such as stale backups); one notifier interface carries it to the log, the CLI or Slack. */
export type NotificationKind = 'started' | 'phase' | 'node' | 'gate-opened' | 'gate-reminder' | 'gate-closed' | 'completed' | 'failed' | 'aborted' | 'alarm';

/** One notification: what happened, and the run's whole progress at that moment (so a status message can be redrawn). */
export interface RunNotification {
  workflowId: string;
  runId: string;
  cluster: string;
  operation: Operation;
  kind: NotificationKind;
  message: string;
  node?: string;
  gate?: OpenGate | ClosedGate;
  progress: RunProgress;
}

/**
 * What notifiers posted for a run (the Slack status message's channel and ts, a gate message's ts), kept by the
 * run and handed back with its next batch, so notifiers keep no state of their own: a serverless worker has none,
 * and a restarted one would otherwise post a second status message.
 */
export type NotificationRefs = Record<string, string>;

/** The notifications of one run that are delivered together, oldest first, and the refs from earlier batches. */
export interface NotificationBatch {
  notifications: RunNotification[];
  refs: NotificationRefs;
}

/** At most this many notifications go in one batch (keeps the activity's input small in the history). */
export const MAX_NOTIFICATION_BATCH = 25;
