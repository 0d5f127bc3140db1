import type { Command } from 'commander';
import { FleetError } from '../errors';
import { FleetConnector } from '../fleet/connect';
import { loadInventory } from '../fleet/inventory';
import { runtimeSettings } from '../runtime/settings';
import type { UpgradeClusterInput } from '../shared/upgrade';
import { describePlan, UpgradeRefusal } from '../upgrade/plan';
import { planClusterUpgrade } from '../upgrade/state';
import { printJson } from './output';
import { devTiming, startAndMaybeFollow, withRuntimeOptions, type RuntimeOptions } from './runs';

/** `talos-fleet plan upgrade` and `talos-fleet upgrade`. */
export function registerUpgrade(program: Command): void {
  const plan = program.command('plan').description('show what an operation would do, changing nothing');
  withRuntimeOptions(plan.command('upgrade <cluster>').description('plan a rolling Talos upgrade: the path, the order, the gates, or why it cannot work'))
    .requiredOption('--to <version>', 'target Talos version, e.g. v1.12.4')
    .action(async (cluster: string, opts: RuntimeOptions & { to: string }) => {
      const inv = loadInventory(runtimeSettings({ ...(opts.devDir ? { devDir: opts.devDir } : {}), ...(opts.inventory ? { inventory: opts.inventory } : {}) }).inventoryPath);
      const connector = new FleetConnector(() => inv);
      try {
        const planned = await planClusterUpgrade(connector, inv, cluster, opts.to);
        if (opts.json) printJson(planned.plan);
        else process.stdout.write(`${describePlan(planned.plan)}\n`);
      } catch (err) {
        if (err instanceof UpgradeRefusal) throw new FleetError('upgrade_refused', err.message);
        throw err;
      } finally {
        connector.close();
      }
    });

  withRuntimeOptions(program.command('upgrade <cluster>').description('roll a cluster to a Talos version, node by node, with its gates'))
    .requiredOption('--to <version>', 'target Talos version, e.g. v1.12.4')
    .option('--wait', 'follow the run until it ends; exit non-zero if it fails')
    .option('--as <user>', 'who starts the run (default: $TALOS_FLEET_USER or your login name)')
    .action(async (cluster: string, opts: RuntimeOptions & { to: string; wait?: boolean }) =>
      startAndMaybeFollow(opts, {
        operation: 'upgrade',
        cluster,
        summary: `upgrade ${cluster} to ${opts.to}`,
        args: (requester, settings): [UpgradeClusterInput] => [{ cluster, requester, toVersion: opts.to, ...devTiming(settings) }],
      }),
    );
}
