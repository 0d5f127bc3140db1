import type { Client } from '@temporalio/client';
import type { LoadedInventory } from '../fleet/inventory';
import type { RuntimeSettings } from '../runtime/settings';
import type { BackupTimings } from '../shared/backups';
import type { InstallTimings } from '../shared/install';
import type { UpgradeTimings } from '../shared/upgrade';
import type { GroupDirectory } from './authorization';

/** What the listeners work with: Temporal, the inventory, Slack user groups. They never reach a Talos node. */
export interface BotDeps {
  temporal: Client;
  settings: RuntimeSettings;
  /** The inventory as it is now (reloaded when the file changes). */
  inventory(): LoadedInventory;
  groups: GroupDirectory;
  /** Waits of the runs the bot starts (the dev deployment and tests pass short polls). */
  timing?: { install?: Partial<InstallTimings>; upgrade?: Partial<UpgradeTimings>; backups?: Partial<BackupTimings> };
  /** The upgrade planner (`plan upgrade`); by default a planning workflow on the worker. */
  planUpgrade?(cluster: string, version: string): Promise<string>;
}
