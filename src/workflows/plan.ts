import { proxyActivities, setWorkflowOptions } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { describePlan } from '../upgrade/plan';

/** The input of {@link planUpgradeRun}. */
export interface PlanUpgradeInput {
  cluster: string;
  toVersion: string;
}

const { planRollingUpgrade } = proxyActivities<Activities>({ startToCloseTimeout: '1 minute', retry: { maximumAttempts: 3 } });

/**
 * An upgrade plan for entry points that hold no key material (the Slack bot): the worker reads the nodes and plans,
 * changing nothing; the result is the plan as text, or the planner's refusal as the failure.
 */
export async function planUpgradeRun(input: PlanUpgradeInput): Promise<string> {
  const planned = await planRollingUpgrade({ cluster: input.cluster, toVersion: input.toVersion });
  return describePlan(planned.plan);
}

// A plan takes seconds; it finishes on the build it started on.
setWorkflowOptions({ versioningBehavior: 'PINNED' }, planUpgradeRun);
