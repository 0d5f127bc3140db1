import type { LoadedInventory } from '../../../fleet/inventory';
import type { ClusterSpec } from '../../../fleet/schema';

/** The cluster a command names, or the reply that says there is none. */
export function findCluster(inventory: LoadedInventory, name: string): ClusterSpec | string {
  const found = inventory.inventory.clusters.find((c) => c.name === name);
  if (found) return found;
  const known = inventory.inventory.clusters.map((c) => `\`${c.name}\``);
  return `There is no cluster \`${name}\` in the inventory. ${known.length ? `Clusters: ${known.join(', ')}.` : 'It lists no clusters yet.'}`;
}
