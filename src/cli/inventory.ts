import type { Command } from 'commander';
import { ValidationError } from '../errors';
import { checkInventoryFiles, loadInventory, resolveInventoryPath } from '../fleet/inventory';
import { printJson } from './output';

/** `talos-fleet inventory check`: the schema, then the files it points at; every problem with its path. */
export function registerInventory(program: Command): void {
  const inventory = program.command('inventory').description('the inventory of clusters (fleet.yaml)');
  inventory
    .command('check')
    .description('validate the inventory and the key material it points at')
    .option('--inventory <path>', 'the inventory (default: $TALOS_FLEET_INVENTORY or ./fleet.yaml)')
    .option('--json', 'print JSON')
    .action((opts: { inventory?: string; json?: boolean }) => {
      const loaded = loadInventory(resolveInventoryPath(opts.inventory));
      const problems = checkInventoryFiles(loaded);
      if (problems.length) throw new ValidationError(`inventory ${loaded.path}`, problems);
      const clusters = loaded.inventory.clusters.map((c) => ({
        name: c.name,
        controlPlanes: c.nodes.filter((n) => n.role === 'controlplane').length,
        workers: c.nodes.filter((n) => n.role === 'worker').length,
        talosVersion: c.talosVersion,
      }));
      if (opts.json) return printJson({ path: loaded.path, valid: true, clusters });
      process.stdout.write(`${loaded.path} is valid: ${clusters.map((c) => `${c.name} (${c.controlPlanes} control planes, ${c.workers} workers, Talos ${c.talosVersion})`).join('; ') || 'no clusters'}\n`);
    });
}
