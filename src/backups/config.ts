import { contextIdentity, type ClientIdentity } from '../config/talosconfig';
import { FleetError } from '../errors';
import type { LoadedInventory } from '../fleet/inventory';
import type { BackupsSpec } from '../fleet/schema';
import { loadTalosconfig } from '../talos/talosconfig';
import { AgeIdentity } from './age';
import { openStore, type SnapshotStore } from './store';

/** A cluster's backup settings as the activities and the CLI use them: the store, the keys, the snapshot identity. */
export interface ClusterBackups {
  cluster: string;
  spec: BackupsSpec;
  store: SnapshotStore;
  /** The age identity that decrypts (read from its file on each call; never kept in a workflow). */
  identity(): AgeIdentity;
  /** The client identity EtcdSnapshot uses: the `os:etcd:backup` talosconfig where there is one, else the admin one. */
  snapshotIdentity(): { identity: ClientIdentity; leastPrivilege: boolean };
}

const stores = new Map<string, SnapshotStore>();

/** The backups block of a cluster, or an error saying how to add one. */
export function clusterBackups(inv: LoadedInventory, cluster: string): ClusterBackups {
  const spec = inv.cluster(cluster).backups;
  if (!spec) throw new FleetError('no_backups', `cluster ${cluster} has no backups block in ${inv.path}: add one with a store, recipients and an identity (see examples/fleet.yaml)`);
  let store = stores.get(spec.store);
  if (!store) {
    store = openStore(spec.store);
    stores.set(spec.store, store);
  }
  return {
    cluster,
    spec,
    store,
    identity: () => AgeIdentity.fromFile(inv.file(spec.identity)),
    snapshotIdentity: () => {
      if (!spec.talosconfig) return { identity: inv.identity(cluster), leastPrivilege: false };
      const path = inv.file(spec.talosconfig);
      const { name, identity } = contextIdentity(loadTalosconfig(path), undefined, `talosconfig ${path}`);
      if (!identity) throw new FleetError('talosconfig_context', `backup talosconfig ${path} context "${name}" has no ca, crt and key`);
      return { identity, leastPrivilege: true };
    },
  };
}
