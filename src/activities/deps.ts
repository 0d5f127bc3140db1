import type { FleetConnector } from '../fleet/connect';
import type { LoadedInventory } from '../fleet/inventory';
import type { Notifier } from './notify';

/** What activities need from the worker that runs them; tests pass the same real parts pointed at a simulated fleet. */
export interface ActivityDeps {
  /** The inventory as it is now (reloaded when the file changes). */
  inventory(): LoadedInventory;
  /** Talos clients made from the inventory's key material. */
  connector: FleetConnector;
  notifier: Notifier;
  /** The cluster's running mutating run (install, upgrade, restore...), if any: scheduled snapshots skip a restore. */
  runningMutation?(cluster: string): Promise<{ operation: string; ref: string } | undefined>;
}
