import { FleetError } from '../errors';
import type { SnapshotMetadata } from '../shared/backups';
import type { SnapshotStore } from './store';

/**
 * The snapshots of a cluster as the store holds them: each object `<cluster>/<id>.snap[.zst].age` with its record
 * `<cluster>/<id>.json`. The record is written only after the object is complete, so a snapshot whose upload failed
 * has no record and is never listed; a record is the only way a snapshot is found.
 */

/** The object key of a snapshot. */
export function objectKey(cluster: string, id: string, compression: 'none' | 'zstd'): string {
  return `${cluster}/${id}.snap${compression === 'zstd' ? '.zst' : ''}.age`;
}

/** The key of a snapshot's metadata record. */
export function recordKey(cluster: string, id: string): string {
  return `${cluster}/${id}.json`;
}

/** No snapshot of that id, or none at all. */
export class NoSnapshotError extends FleetError {
  constructor(message: string) {
    super('no_snapshot', message);
  }
}

/** Reads one record; undefined when the snapshot has none. */
export async function readRecord(store: SnapshotStore, cluster: string, id: string): Promise<SnapshotMetadata | undefined> {
  const text = await store.readText(recordKey(cluster, id));
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as SnapshotMetadata;
  } catch {
    throw new FleetError('record_corrupt', `the metadata record of snapshot ${id} in ${store.url} is not valid JSON`);
  }
}

/** Writes (or replaces) a snapshot's record. */
export async function writeRecord(store: SnapshotStore, meta: SnapshotMetadata): Promise<void> {
  await store.writeText(recordKey(meta.cluster, meta.id), `${JSON.stringify(meta, null, 2)}\n`);
}

/** Every snapshot of a cluster that has a record, newest first. */
export async function listSnapshots(store: SnapshotStore, cluster: string): Promise<SnapshotMetadata[]> {
  const keys = (await store.list(`${cluster}/`)).filter((k) => k.endsWith('.json'));
  const records = await Promise.all(keys.map((k) => readRecord(store, cluster, k.slice(cluster.length + 1, -'.json'.length))));
  return records.filter((r): r is SnapshotMetadata => r !== undefined && r.cluster === cluster).sort((a, b) => b.takenAt.localeCompare(a.takenAt) || b.id.localeCompare(a.id));
}

/**
 * The snapshot a restore or drill uses: `latest` is the newest verified one; a named one must exist and, unless
 * `allowUnverified`, be verified. Refusals say what there is instead.
 */
export function chooseSnapshot(snapshots: SnapshotMetadata[], cluster: string, from: string, allowUnverified = false): SnapshotMetadata {
  if (snapshots.length === 0) throw new NoSnapshotError(`cluster ${cluster} has no snapshots in its store: take one with \`talos-fleet snapshot ${cluster}\``);
  if (from === 'latest') {
    const verified = snapshots.find((s) => s.verification.status === 'verified');
    if (!verified) {
      throw new NoSnapshotError(`cluster ${cluster} has no verified snapshot (${snapshots.length} unverified or failed, newest ${snapshots[0]!.id}); name one with --from ID --allow-unverified to use it anyway`);
    }
    return verified;
  }
  const found = snapshots.find((s) => s.id === from);
  if (!found) throw new NoSnapshotError(`cluster ${cluster} has no snapshot ${from}; newest: ${snapshots.slice(0, 3).map((s) => s.id).join(', ')}`);
  if (found.verification.status !== 'verified' && !allowUnverified) {
    throw new FleetError('snapshot_unverified', `snapshot ${from} is ${found.verification.status}${found.verification.detail ? ` (${found.verification.detail})` : ''}: it is not offered for restore; pass --allow-unverified to use it anyway (it is still checked before anything is reset)`);
  }
  return found;
}
