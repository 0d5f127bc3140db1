import type { Command } from 'commander';
import { clusterKubernetes } from '../activities/kubernetes-access';
import { LogNotifier } from '../activities/notify';
import { FleetError } from '../errors';
import { FleetConnector } from '../fleet/connect';
import { loadInventory } from '../fleet/inventory';
import { runtimeSettings } from '../runtime/settings';
import type { UpgradeKubernetesInput } from '../shared/upgrade';
import { describeKubernetesPlan, KubernetesUpgradeRefusal, planKubernetesUpgrade } from '../upgrade/kubernetes-plan';
import { readKubernetesState } from '../upgrade/kubernetes-state';
import { printJson } from './output';
import { devTiming, startAndMaybeFollow, withRuntimeOptions, type RuntimeOptions } from './runs';

/** `talos-fleet plan upgrade-k8s` and `talos-fleet upgrade-k8s`. */
export function registerUpgradeKubernetes(program: Command): void {
  const plan = program.commands.find((c) => c.name() === 'plan') ?? program.command('plan').description('show what an operation would do, changing nothing');
  withRuntimeOptions(plan.command('upgrade-k8s <cluster>').description('plan a Kubernetes upgrade: each component on each node in order, or why it cannot work'))
    .requiredOption('--to <version>', 'target Kubernetes version, e.g. 1.34.1 (one minor at a time)')
    .action(async (cluster: string, opts: RuntimeOptions & { to: string }) => {
      const inv = loadInventory(runtimeSettings({ ...(opts.devDir ? { devDir: opts.devDir } : {}), ...(opts.inventory ? { inventory: opts.inventory } : {}) }).inventoryPath);
      const connector = new FleetConnector(() => inv);
      try {
        const deps = { inventory: () => inv, connector, notifier: new LogNotifier() };
        const state = await readKubernetesState(cluster, inv.cluster(cluster).nodes, connector.cluster(cluster), await clusterKubernetes(deps, cluster));
        const planned = planKubernetesUpgrade(state, opts.to);
        if (opts.json) printJson(planned);
        else process.stdout.write(`${describeKubernetesPlan(planned)}\n`);
      } catch (err) {
        if (err instanceof KubernetesUpgradeRefusal) throw new FleetError('upgrade_refused', err.message);
        throw err;
      } finally {
        connector.close();
      }
    });

  withRuntimeOptions(program.command('upgrade-k8s <cluster>').description('upgrade a cluster\'s Kubernetes by one minor (or a patch), component by component, node by node, without reboots'))
    .requiredOption('--to <version>', 'target Kubernetes version, e.g. 1.34.1 (one minor at a time)')
    .option('--wait', 'follow the run until it ends; exit non-zero if it fails')
    .option('--as <user>', 'who starts the run (default: $TALOS_FLEET_USER or your login name)')
    .action(async (cluster: string, opts: RuntimeOptions & { to: string; wait?: boolean }) =>
      startAndMaybeFollow(opts, {
        operation: 'upgrade-k8s',
        cluster,
        summary: `upgrade Kubernetes of ${cluster} to ${opts.to}`,
        args: (requester, settings): [UpgradeKubernetesInput] => [{ cluster, requester, toVersion: opts.to, ...devTiming(settings) }],
      }),
    );
}
