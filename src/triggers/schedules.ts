import { createHash } from 'node:crypto';
import { ScheduleNotFoundError, ScheduleOverlapPolicy, type Client, type ScheduleDescription, type ScheduleOptions } from '@temporalio/client';
import { FleetError } from '../errors';
import type { LoadedInventory } from '../fleet/inventory';
import type { BackupTimings, DrillClusterInput, SnapshotClusterInput } from '../shared/backups';
import { sideWorkflowId } from '../shared/names';
import { CLUSTER, OPERATION, REQUESTER } from '../shared/search-attributes';

/**
 * Temporal Schedules made from the inventory: a snapshot schedule per cluster with `backups.schedule`, a drill
 * schedule per cluster with `backups.drill.schedule`. Reconciling creates what is missing, updates what changed
 * (keeping a schedule's paused state: pausing is an operator's decision, not the inventory's) and deletes the
 * schedules of this deployment (its task queue) that the inventory no longer names. Overlapping runs are skipped,
 * and the catch-up window is always set: the SDK's documented default contradicts itself.
 */

/** Schedule ids are the workflow ids their runs start with (the server appends each run's scheduled time). */
export type ScheduleKind = 'snapshot' | 'drill';

/** One schedule the inventory asks for. */
export interface DesiredSchedule {
  id: string;
  cluster: string;
  kind: ScheduleKind;
  cron: string;
  timezone: string;
  catchupWindowMs: number;
}

/** What a reconciliation did, by schedule id. */
export interface ReconcileReport {
  created: string[];
  updated: string[];
  unchanged: string[];
  deleted: string[];
}

/** What `schedules list` shows of one schedule. */
export interface ScheduleStatus {
  id: string;
  cluster: string;
  kind: string;
  cron: string;
  paused: boolean;
  note?: string;
  nextRuns: string[];
  recentRuns: { scheduledAt: string; workflowId: string }[];
}

const MEMO_KEY = 'talosFleet';

/** The schedules an inventory asks for (pure). */
export function desiredSchedules(inv: LoadedInventory): DesiredSchedule[] {
  return inv.inventory.clusters.flatMap((c) => {
    const b = c.backups;
    if (!b) return [];
    const out: DesiredSchedule[] = [];
    if (b.schedule) out.push({ id: sideWorkflowId(c.name, 'snapshot'), cluster: c.name, kind: 'snapshot', cron: b.schedule, timezone: b.timezone, catchupWindowMs: b.catchupWindow });
    if (b.drill) out.push({ id: sideWorkflowId(c.name, 'drill'), cluster: c.name, kind: 'drill', cron: b.drill.schedule, timezone: b.timezone, catchupWindowMs: b.catchupWindow });
    return out;
  });
}

/** A schedule name as users type it (`prod/snapshot`) or its id (`talos-fleet/prod/snapshot`). */
export function scheduleId(name: string): string {
  return name.startsWith('talos-fleet/') ? name : `talos-fleet/${name}`;
}

function options(d: DesiredSchedule, taskQueue: string, timing?: Partial<BackupTimings>): ScheduleOptions {
  const args: [SnapshotClusterInput] | [DrillClusterInput] =
    d.kind === 'snapshot' ? [{ cluster: d.cluster, requester: 'schedule', trigger: 'schedule', ...(timing ? { timing } : {}) }] : [{ cluster: d.cluster, requester: 'schedule', ...(timing ? { timing } : {}) }];
  // What the schedule should be, hashed: describe() gives cron expressions back as calendars, so specs are compared by this.
  const fingerprint = createHash('sha256').update(JSON.stringify({ d, taskQueue, args })).digest('hex').slice(0, 16);
  return {
    scheduleId: d.id,
    spec: { cronExpressions: [d.cron], timezone: d.timezone },
    action: {
      type: 'startWorkflow',
      workflowType: d.kind === 'snapshot' ? 'snapshotCluster' : 'drillCluster',
      workflowId: d.id,
      taskQueue,
      args,
      memo: { [MEMO_KEY]: { fingerprint } },
      typedSearchAttributes: [
        { key: CLUSTER, value: d.cluster },
        { key: OPERATION, value: d.kind },
        { key: REQUESTER, value: 'schedule' },
      ],
      staticSummary: `scheduled ${d.kind} of ${d.cluster}`,
    },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: d.catchupWindowMs, pauseOnFailure: false },
    memo: { [MEMO_KEY]: { taskQueue, cluster: d.cluster, kind: d.kind } },
  };
}

function fingerprintOf(description: ScheduleDescription): string | undefined {
  const action = description.action as { memo?: Record<string, unknown> };
  return (action.memo?.[MEMO_KEY] as { fingerprint?: string } | undefined)?.fingerprint;
}

/** The ids of this deployment's schedules (created by a reconciliation with this task queue). */
async function ourSchedules(client: Client, taskQueue: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const s of client.schedule.list()) {
    const memo = s.memo?.[MEMO_KEY] as { taskQueue?: string } | undefined;
    if (s.scheduleId.startsWith('talos-fleet/') && memo?.taskQueue === taskQueue) ids.push(s.scheduleId);
  }
  return ids;
}

/** Makes the Temporal Schedules match the inventory (see the module comment); `timing` goes to every run (tests). */
export async function reconcileSchedules(client: Client, inv: LoadedInventory, taskQueue: string, opts: { timing?: Partial<BackupTimings> } = {}): Promise<ReconcileReport> {
  const report: ReconcileReport = { created: [], updated: [], unchanged: [], deleted: [] };
  const desired = desiredSchedules(inv);
  for (const d of desired) {
    const wanted = options(d, taskQueue, opts.timing);
    const handle = client.schedule.getHandle(d.id);
    let current: ScheduleDescription | undefined;
    try {
      current = await handle.describe();
    } catch (err) {
      if (!(err instanceof ScheduleNotFoundError)) throw err;
    }
    if (!current) {
      await client.schedule.create(wanted);
      report.created.push(d.id);
      continue;
    }
    const wantedPrint = (wanted.action.memo?.[MEMO_KEY] as { fingerprint: string }).fingerprint;
    if (fingerprintOf(current) === wantedPrint) {
      report.unchanged.push(d.id);
      continue;
    }
    await handle.update((prev) => ({ ...prev, spec: wanted.spec, action: wanted.action, policies: wanted.policies }));
    report.updated.push(d.id);
  }
  const keep = new Set(desired.map((d) => d.id));
  for (const id of await ourSchedules(client, taskQueue)) {
    if (keep.has(id)) continue;
    await client.schedule.getHandle(id).delete();
    report.deleted.push(id);
  }
  return report;
}

/** The inventory's schedules as Temporal has them now (describe: consistent, unlike list). */
export async function scheduleStatuses(client: Client, inv: LoadedInventory): Promise<ScheduleStatus[]> {
  const out: ScheduleStatus[] = [];
  for (const d of desiredSchedules(inv)) {
    try {
      const s = await client.schedule.getHandle(d.id).describe();
      out.push({
        id: d.id,
        cluster: d.cluster,
        kind: d.kind,
        cron: d.cron,
        paused: s.state.paused,
        ...(s.state.note ? { note: s.state.note } : {}),
        nextRuns: s.info.nextActionTimes.slice(0, 3).map((t) => t.toISOString()),
        recentRuns: s.info.recentActions.slice(-3).map((a) => ({ scheduledAt: a.scheduledAt.toISOString(), workflowId: a.action.workflow.workflowId })),
      });
    } catch (err) {
      if (!(err instanceof ScheduleNotFoundError)) throw err;
      out.push({ id: d.id, cluster: d.cluster, kind: d.kind, cron: d.cron, paused: false, note: 'not created yet: run `talos-fleet schedules sync`', nextRuns: [], recentRuns: [] });
    }
  }
  return out;
}

/** Pauses or unpauses one schedule, with who and why in its note. */
export async function setPaused(client: Client, name: string, paused: boolean, note: string): Promise<void> {
  const handle = client.schedule.getHandle(scheduleId(name));
  try {
    if (paused) await handle.pause(note);
    else await handle.unpause(note);
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) throw new FleetError('unknown_schedule', `there is no schedule ${scheduleId(name)}: \`talos-fleet schedules list\` shows the inventory's`);
    throw err;
  }
}
