import { Client, Connection, WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { FleetError } from '../errors';
import { clusterWorkflowId, sideWorkflowId, type MutatingOperation } from '../shared/names';
import { abortUpdate, decideUpdate, progressQuery, type DecideInput, type DecideResult, type RunProgress } from '../shared/runs';
import { CLUSTER, OPERATION, REQUESTER } from '../shared/search-attributes';
import type { RuntimeSettings } from './settings';

/** How entry points (CLI, bot) talk to Temporal: start, find, decide, abort and list runs. */
export async function connectClient(settings: RuntimeSettings): Promise<{ client: Client; close: () => Promise<void> }> {
  const connection = await Connection.connect(settings.connection).catch((err: Error) => {
    throw new FleetError('temporal_unreachable', `cannot reach Temporal at ${settings.connection.address ?? 'localhost:7233'} (${err.message}): start \`talos-fleet dev\`, or set TEMPORAL_ADDRESS / a temporal.toml profile`);
  });
  return { client: new Client({ connection, namespace: settings.namespace }), close: () => connection.close() };
}

/** The id users see and pass back (`demo@6f1c…`): the workflow id without its prefix, then the run id. */
export function runRef(workflowId: string, runId: string): string {
  return `${workflowId.replace(/^talos-fleet\//, '')}@${runId}`;
}

/** A run reference: a cluster name (its latest mutating run), or `CLUSTER@RUNID` as printed when a run starts. */
export function parseRunRef(ref: string): { workflowId: string; runId?: string } {
  const [id, runId] = ref.split('@', 2);
  if (!id) throw new FleetError('invalid_run', `"${ref}" is not a run: give a cluster name or a run id as printed when it started (CLUSTER@RUNID)`);
  const workflowId = id.startsWith('talos-fleet/') ? id : `talos-fleet/${id}`;
  return runId ? { workflowId, runId } : { workflowId };
}

/** The workflow function name of each operation. */
export const WORKFLOW_TYPES: Record<MutatingOperation, string> = {
  install: 'installCluster',
  upgrade: 'upgradeCluster',
  'upgrade-k8s': 'upgradeKubernetes',
  apply: 'applyConfig',
  restore: 'restoreCluster',
};

/** The workflow function name of each operation that may run beside a mutating one. */
export const SIDE_WORKFLOW_TYPES: Record<'snapshot' | 'drill', string> = {
  snapshot: 'snapshotCluster',
  drill: 'drillCluster',
};

/** A run that was started: its handle and the reference to give the user. */
export interface StartedRun {
  handle: WorkflowHandle;
  workflowId: string;
  runId: string;
  ref: string;
}

/**
 * Starts a cluster's mutating operation. The cluster's single workflow id makes Temporal refuse a second one while
 * one runs; the refusal names the running run and who started it.
 */
export async function startMutatingRun(client: Client, settings: RuntimeSettings, opts: { operation: MutatingOperation; cluster: string; requester: string; args: unknown[]; summary: string }): Promise<StartedRun> {
  const workflowId = clusterWorkflowId(opts.cluster);
  try {
    const handle = await client.workflow.start(WORKFLOW_TYPES[opts.operation], {
      workflowId,
      taskQueue: settings.taskQueue,
      args: opts.args,
      workflowIdConflictPolicy: 'FAIL',
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      typedSearchAttributes: [
        { key: CLUSTER, value: opts.cluster },
        { key: OPERATION, value: opts.operation },
        { key: REQUESTER, value: opts.requester },
      ],
      staticSummary: opts.summary,
    });
    return { handle, workflowId, runId: handle.firstExecutionRunId, ref: runRef(workflowId, handle.firstExecutionRunId) };
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      const running = await client.workflow.getHandle(workflowId).describe();
      const operation = running.typedSearchAttributes.get(OPERATION) ?? running.type;
      const requester = running.typedSearchAttributes.get(REQUESTER) ?? 'someone';
      throw new FleetError(
        'run_in_progress',
        `cluster ${opts.cluster} already has a running ${operation} (run ${runRef(workflowId, running.runId)}, started by ${requester} at ${running.startTime.toISOString()}); wait for it to end or abort it with \`talos-fleet abort ${runRef(workflowId, running.runId)}\``,
      );
    }
    throw err;
  }
}

/** The mutating run a cluster has running now (strongly consistent: a describe, not a visibility query). */
export async function runningMutation(client: Client, cluster: string): Promise<{ operation: string; ref: string } | undefined> {
  const workflowId = clusterWorkflowId(cluster);
  try {
    const d = await client.workflow.getHandle(workflowId).describe();
    if (d.status.name !== 'RUNNING') return undefined;
    return { operation: d.typedSearchAttributes.get(OPERATION) ?? d.type, ref: runRef(workflowId, d.runId) };
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}

/**
 * Starts a snapshot or drill of a cluster (workflow id `talos-fleet/CLUSTER/snapshot`), beside any mutating run.
 * One of each runs at a time; a second is refused, naming the running one.
 */
export async function startSideRun(client: Client, settings: RuntimeSettings, opts: { operation: 'snapshot' | 'drill'; cluster: string; requester: string; args: unknown[]; summary: string }): Promise<StartedRun> {
  const workflowId = sideWorkflowId(opts.cluster, opts.operation);
  try {
    const handle = await client.workflow.start(SIDE_WORKFLOW_TYPES[opts.operation], {
      workflowId,
      taskQueue: settings.taskQueue,
      args: opts.args,
      workflowIdConflictPolicy: 'FAIL',
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      typedSearchAttributes: [
        { key: CLUSTER, value: opts.cluster },
        { key: OPERATION, value: opts.operation },
        { key: REQUESTER, value: opts.requester },
      ],
      staticSummary: opts.summary,
    });
    return { handle, workflowId, runId: handle.firstExecutionRunId, ref: runRef(workflowId, handle.firstExecutionRunId) };
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      const running = await client.workflow.getHandle(workflowId).describe();
      throw new FleetError('run_in_progress', `a ${opts.operation} of ${opts.cluster} is already running (run ${runRef(workflowId, running.runId)}, started by ${running.typedSearchAttributes.get(REQUESTER) ?? 'someone'} at ${running.startTime.toISOString()})`);
    }
    throw err;
  }
}

/** The handle of a run named by a reference. */
export function runHandle(client: Client, ref: string): WorkflowHandle {
  const { workflowId, runId } = parseRunRef(ref);
  return client.workflow.getHandle(workflowId, runId);
}

/** Asks a run for its progress (needs a running worker). */
export async function runProgress(client: Client, ref: string): Promise<RunProgress> {
  return runHandle(client, ref).query(progressQuery);
}

/** The reason a gate refused an answer, from the workflow's validator. */
function refusal(err: unknown): never {
  if (err instanceof WorkflowUpdateFailedError) {
    const cause = err.cause as { message?: string; type?: string } | undefined;
    throw new FleetError(`gate_refused:${cause?.type ?? 'unknown'}`, cause?.message ?? err.message);
  }
  throw err;
}

/**
 * Answers a run's open gate. `updateId` de-duplicates: the same click or command delivered twice counts once.
 * A refusal (not an approver, self-approval, no open gate) changes nothing and leaves no trace in the history.
 */
export async function decide(client: Client, ref: string, input: DecideInput, updateId?: string): Promise<DecideResult> {
  return runHandle(client, ref)
    .executeUpdate(decideUpdate, { args: [input], ...(updateId ? { updateId } : {}) })
    .catch(refusal);
}

/** Asks a run to stop at its next safe point (`groups`: the user groups the entry point found the user in). */
export async function abortRun(client: Client, ref: string, user: string, reason?: string, groups?: string[]): Promise<string> {
  return runHandle(client, ref)
    .executeUpdate(abortUpdate, { args: [{ user, ...(reason ? { reason } : {}), ...(groups?.length ? { groups } : {}) }] })
    .catch(refusal);
}

/** One line of `talos-fleet runs`. */
export interface RunSummary {
  id: string;
  cluster: string;
  /** The operation (`install`, `upgrade`, ...), or the workflow type for runs started by other means. */
  operation: string;
  status: string;
  requester?: string;
  start: string;
  end?: string;
}

/** The runs of one cluster or of all of them, newest first (Temporal visibility is eventually consistent). */
export async function listRuns(client: Client, opts: { cluster?: string; limit?: number } = {}): Promise<RunSummary[]> {
  const query = opts.cluster ? `${CLUSTER.name} = "${opts.cluster.replace(/"/g, '')}"` : `${CLUSTER.name} IS NOT NULL`;
  const out: RunSummary[] = [];
  for await (const w of client.workflow.list({ query })) {
    const requester = w.typedSearchAttributes.get(REQUESTER);
    out.push({
      id: runRef(w.workflowId, w.runId),
      cluster: w.typedSearchAttributes.get(CLUSTER) ?? '',
      operation: w.typedSearchAttributes.get(OPERATION) ?? w.type,
      status: w.status.name.toLowerCase(),
      ...(requester ? { requester } : {}),
      start: w.startTime.toISOString(),
      ...(w.closeTime ? { end: w.closeTime.toISOString() } : {}),
    });
    if (out.length >= (opts.limit ?? 50)) break;
  }
  return out;
}
