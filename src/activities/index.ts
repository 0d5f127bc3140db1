import type { ActivityDeps } from './deps';
import { applyActivities } from './apply';
import { wrapActivities } from './failures';
import { installActivities } from './install';
import { kubernetesProofActivities } from './kubernetes-proof';
import { lifecycleActivities } from './lifecycle';
import { notifyActivities } from './notify';
import { restoreActivities } from './restore';
import { snapshotActivities } from './snapshots';
import { upgradeActivities } from './upgrade';
import { kubernetesUpgradeActivities } from './upgrade-k8s';

/** Every activity the workflows use, bound to the worker's dependencies; workflows import this type only. */
export function createActivities(deps: ActivityDeps) {
  return wrapActivities({
    ...installActivities(deps),
    ...upgradeActivities(deps),
    ...lifecycleActivities(deps),
    ...kubernetesUpgradeActivities(deps),
    ...applyActivities(deps),
    ...notifyActivities(deps.notifier),
    ...snapshotActivities(deps),
    ...restoreActivities(deps),
    ...kubernetesProofActivities(deps),
  });
}

export type Activities = ReturnType<typeof createActivities>;
