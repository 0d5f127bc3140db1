import { statSync } from 'node:fs';
import { loadInventory, type LoadedInventory } from './inventory';

/**
 * The inventory as it is on disk now: loaded again when the file changes, so a long-lived worker sees edits
 * (a new approver, a new node) without a restart; an invalid edit fails the activities that read it, loudly.
 */
export function inventorySource(path: string): () => LoadedInventory {
  let loaded: { stamp: string; inventory: LoadedInventory } | undefined;
  return () => {
    const s = statSync(path);
    const stamp = `${s.mtimeMs}:${s.size}`;
    if (!loaded || loaded.stamp !== stamp) loaded = { stamp, inventory: loadInventory(path) };
    return loaded.inventory;
  };
}
