import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { FleetError } from '../errors';
import { runRef, startMutatingRun, type StartedRun } from '../runtime/runs';
import { runUrl, type RuntimeSettings } from '../runtime/settings';
import type { InstallClusterInput } from '../shared/install';
import { sideWorkflowId } from '../shared/names';
import { CLUSTER, OPERATION, REQUESTER } from '../shared/search-attributes';
import type { UpgradeClusterInput, UpgradeKubernetesInput } from '../shared/upgrade';
import type { BotDeps } from './deps';

/** The workflow type of a snapshot run (issue 11's `snapshotCluster`). */
export const SNAPSHOT_WORKFLOW = 'snapshotCluster';

/** An operation the bot starts, with what it needs. */
export type StartRequest =
  | { operation: 'install'; cluster: string }
  | { operation: 'upgrade'; cluster: string; version?: string }
  | { operation: 'upgrade-k8s'; cluster: string; version: string }
  | { operation: 'snapshot'; cluster: string }
  | { operation: 'restore'; cluster: string; snapshot?: string };

/** A run the bot started: its reference and link for the reply. */
export interface BotStartedRun {
  ref: string;
  url?: string;
}

/**
 * Starts a run by workflow type name, with the requester's Slack user id recorded in its input and search
 * attributes. Mutating operations share the cluster's workflow id (Temporal refuses a second one while one runs);
 * a snapshot has a workflow id of its own, which may run beside them.
 */
export async function startRun(deps: BotDeps, request: StartRequest, requester: string): Promise<BotStartedRun> {
  const { temporal, settings } = deps;
  const { cluster } = request;
  let started: { workflowId: string; runId: string };
  switch (request.operation) {
    case 'install': {
      const input: InstallClusterInput = { cluster, requester, ...(deps.timing?.install ? { timing: deps.timing.install } : {}) };
      started = await startMutatingRun(temporal, settings, { operation: 'install', cluster, requester, args: [input], summary: `install ${cluster} (from Slack)` });
      break;
    }
    case 'upgrade': {
      const input: UpgradeClusterInput = { cluster, requester, ...(request.version ? { toVersion: request.version } : {}), ...(deps.timing?.upgrade ? { timing: deps.timing.upgrade } : {}) };
      started = await startMutatingRun(temporal, settings, { operation: 'upgrade', cluster, requester, args: [input], summary: `upgrade ${cluster} to ${request.version ?? 'the inventory\'s version'} (from Slack)` });
      break;
    }
    case 'upgrade-k8s': {
      const input: UpgradeKubernetesInput = { cluster, requester, toVersion: request.version, ...(deps.timing?.upgrade ? { timing: deps.timing.upgrade } : {}) };
      started = await startMutatingRun(temporal, settings, { operation: 'upgrade-k8s', cluster, requester, args: [input], summary: `upgrade Kubernetes of ${cluster} to ${request.version} (from Slack)` });
      break;
    }
    case 'restore': {
      // RestoreClusterInput of issue 11 (src/shared/backups.ts): a snapshot id, or `latest` (the newest verified one).
      const input = { cluster, requester, from: request.snapshot ?? 'latest' };
      started = await startMutatingRun(temporal, settings, { operation: 'restore', cluster, requester, args: [input], summary: `restore ${cluster} from ${request.snapshot ?? 'the latest snapshot'} (from Slack)` });
      break;
    }
    case 'snapshot':
      // SnapshotClusterInput of issue 11: taken by a person.
      started = await startSideRun(temporal, settings, { cluster, requester, workflowType: SNAPSHOT_WORKFLOW, args: [{ cluster, requester, trigger: 'manual' }], summary: `snapshot ${cluster} (from Slack)` });
      break;
  }
  const url = runUrl(settings, started.workflowId, started.runId);
  return { ref: runRef(started.workflowId, started.runId), ...(url ? { url } : {}) };
}

/** Starts a non-mutating run (a snapshot): one at a time per cluster and operation, beside any mutating run. */
export async function startSideRun(client: Client, settings: RuntimeSettings, opts: { cluster: string; requester: string; workflowType: string; args: unknown[]; summary: string }): Promise<Pick<StartedRun, 'workflowId' | 'runId'>> {
  const workflowId = sideWorkflowId(opts.cluster, 'snapshot');
  try {
    const handle = await client.workflow.start(opts.workflowType, {
      workflowId,
      taskQueue: settings.taskQueue,
      args: opts.args,
      workflowIdConflictPolicy: 'FAIL',
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      typedSearchAttributes: [
        { key: CLUSTER, value: opts.cluster },
        { key: OPERATION, value: 'snapshot' },
        { key: REQUESTER, value: opts.requester },
      ],
      staticSummary: opts.summary,
    });
    return { workflowId, runId: handle.firstExecutionRunId };
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      throw new FleetError('run_in_progress', `a snapshot of ${opts.cluster} is already running; its result will be in the channel`);
    }
    throw err;
  }
}
