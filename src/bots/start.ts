import { runRef, startMutatingRun, startSideRun, type StartedRun } from '../runtime/runs';
import { runUrl } from '../runtime/settings';
import type { RestoreClusterInput, SnapshotClusterInput } from '../shared/backups';
import type { InstallClusterInput } from '../shared/install';
import type { UpgradeClusterInput, UpgradeKubernetesInput } from '../shared/upgrade';
import type { BotDeps } from './deps';

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
 * Starts a run, with the requester's Slack user id recorded in its input and search attributes. Mutating operations
 * share the cluster's workflow id (Temporal refuses a second one while one runs); a snapshot has a workflow id of its
 * own, which may run beside them.
 */
export async function startRun(deps: BotDeps, request: StartRequest, requester: string): Promise<BotStartedRun> {
  const { temporal, settings } = deps;
  const { cluster } = request;
  const backupTiming = deps.timing?.backups ? { timing: deps.timing.backups } : {};
  let started: StartedRun;
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
      const input: RestoreClusterInput = { cluster, requester, from: request.snapshot ?? 'latest', ...backupTiming };
      started = await startMutatingRun(temporal, settings, { operation: 'restore', cluster, requester, args: [input], summary: `restore ${cluster} from ${request.snapshot ?? 'the latest snapshot'} (from Slack)` });
      break;
    }
    case 'snapshot': {
      const input: SnapshotClusterInput = { cluster, requester, trigger: 'manual', ...backupTiming };
      started = await startSideRun(temporal, settings, { operation: 'snapshot', cluster, requester, args: [input], summary: `snapshot ${cluster} (from Slack)` });
      break;
    }
  }
  const url = runUrl(settings, started.workflowId, started.runId);
  return { ref: runRef(started.workflowId, started.runId), ...(url ? { url } : {}) };
}
