import { randomUUID } from 'node:crypto';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { FleetError } from '../errors';
import type { RuntimeSettings } from '../runtime/settings';
import { OPERATION } from '../shared/search-attributes';

/** The workflow type that plans an upgrade without changing anything (`src/workflows/plan.ts`). */
export const PLAN_UPGRADE_WORKFLOW = 'planUpgradeRun';

/**
 * `plan upgrade` through Temporal: a short workflow on the worker, which reads the nodes (the bot never talks to a
 * node nor holds key material) and returns the plan, or why the upgrade cannot work.
 */
export async function planUpgradeViaTemporal(client: Client, settings: RuntimeSettings, cluster: string, toVersion: string): Promise<string> {
  try {
    return await client.workflow.execute<(input: { cluster: string; toVersion: string }) => Promise<string>>(PLAN_UPGRADE_WORKFLOW, {
      workflowId: `talos-fleet-plan/${cluster}/${randomUUID()}`,
      taskQueue: settings.taskQueue,
      args: [{ cluster, toVersion }],
      workflowExecutionTimeout: '2 minutes',
      // No cluster attribute: a plan is not one of the cluster's runs (`runs`, `/fleet status` leave it out).
      typedSearchAttributes: [{ key: OPERATION, value: 'plan' }],
      staticSummary: `plan the upgrade of ${cluster} to ${toVersion}`,
    });
  } catch (err) {
    if (err instanceof WorkflowFailedError) {
      let cause: Error | undefined = err.cause;
      while (cause?.cause instanceof Error && /Activity task failed/.test(cause.message)) cause = cause.cause;
      throw new FleetError('plan_refused', `The upgrade of ${cluster} to ${toVersion} cannot be planned: ${cause?.message ?? err.message}`);
    }
    throw err;
  }
}
