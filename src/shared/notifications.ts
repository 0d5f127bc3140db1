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
