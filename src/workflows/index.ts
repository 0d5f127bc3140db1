/** Every workflow the worker registers (the entry of the workflow bundle). */
export { installCluster } from './install';
export { upgradeCluster } from './upgrade';
export { upgradeKubernetes } from './upgrade-kubernetes';
export { applyConfig } from './apply';
export { planUpgradeRun } from './plan';
export { snapshotCluster } from './snapshot';
export { restoreCluster } from './restore';
export { drillCluster } from './drill';
