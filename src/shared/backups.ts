/**
 * Inputs, results and records of the backup operations (snapshot, restore, drill), shared by workflows, activities,
 * the CLI and the bot. Imported by workflows, so it must stay free of Node built-ins and I/O. Nothing here is secret:
 * recipients are age public keys, and the store is named by a URL without credentials.
 */

/** A snapshot id from its cluster, time and run id: `prod-20261201T030000Z-3f2a` (ids sort by time; stable on replay). */
export function snapshotId(cluster: string, at: Date, runId: string): string {
  const stamp = at.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${cluster}-${stamp}-${runId.replace(/-/g, '').slice(0, 4)}`;
}

/** What a snapshot holds, counted in a throwaway etcd restored from it (the census). */
export interface SnapshotContent {
  /** etcd's revision at the snapshot. */
  revision: number;
  /** Keys in the snapshot (the live keyspace, not every revision). */
  keys: number;
  /** Of those, keys Kubernetes rewrites or expires by itself after a restore (events, leases): not compared exactly. */
  volatileKeys: number;
  /** The Kubernetes registry (`/registry/`): whether it is there, its key count, and keys per resource. */
  registry: { present: boolean; keys: number; resources: Record<string, number> };
}

/** Where a snapshot stands: verified after its upload (read back, decrypted, hashes and trailer checked), or not. */
export interface SnapshotVerification {
  status: 'unverified' | 'verified' | 'failed';
  /** ISO time of the last check. */
  at?: string;
  /** What the check found (the failure, for `failed`). */
  detail?: string;
}

/** The result of a restore drill of one snapshot. */
export interface DrillRecord {
  at: string;
  ok: boolean;
  detail: string;
  /** The etcd version the drill restored into (`3.5.33`). */
  etcdVersion: string;
}

/** Where the snapshot workflow writes its marker ConfigMap, just before each snapshot. */
export const SNAPSHOT_MARKER = { namespace: 'kube-system', name: 'talos-fleet-snapshot-marker' } as const;

/**
 * What the Kubernetes API served just before a snapshot was taken: the marker ConfigMap written then (its
 * `data.snapshot` is the snapshot's id), the Nodes and the kube-system Deployments. After a restore from that
 * snapshot the API must serve them again, and the marker must name that snapshot: an older or newer state would
 * name another one (or none).
 */
export interface KubernetesMark {
  marker: { namespace: string; name: string; snapshot: string };
  nodes: string[];
  deployments: string[];
}

/** The metadata record kept beside every snapshot in the store (`<id>.json`). */
export interface SnapshotMetadata {
  /** `<cluster>-<YYYYMMDDTHHMMSSZ>-<4 hex>`: sorts by time. */
  id: string;
  cluster: string;
  /** The control plane it was taken from. */
  node: string;
  /** ISO time the snapshot was taken. */
  takenAt: string;
  /** Key of the stored object in the store. */
  object: string;
  /** Size of the etcd snapshot itself (before compression and encryption). */
  bytes: number;
  /** SHA-256 of the etcd snapshot, trailer included (what `sha256sum` of the decrypted file prints). */
  sha256: string;
  /** Size of the stored object (compressed and encrypted). */
  storedBytes: number;
  /** SHA-256 of the stored object (what `sha256sum` of the object prints), from its verification's read-back. */
  storedSha256?: string;
  compression: 'none' | 'zstd';
  /** age recipients (public keys) the object is encrypted to. */
  recipients: string[];
  versions: { talos: string; etcd: string; kubernetes?: string };
  /** What the snapshot holds; counted when it was verified. */
  content?: SnapshotContent;
  /** What the Kubernetes API served just before the snapshot; absent when it did not answer (or on older records). */
  kubernetes?: KubernetesMark;
  verification: SnapshotVerification;
  /** The newest restore drill of this snapshot. */
  drill?: DrillRecord;
  /** Who or what took it: `schedule`, `manual` (a CLI or Slack user), `preflight` (another operation's child). */
  trigger: SnapshotTrigger;
  requester: string;
}

/** Why a snapshot is taken: a schedule, a person, or another operation's preflight (an upgrade). */
export type SnapshotTrigger = 'schedule' | 'manual' | 'preflight';

/** Every wait of the backup workflows, in ms; all are inputs so tests pass short ones. */
export interface BackupTimings {
  pollIntervalMs: number;
  checkWindowMs: number;
  heartbeatTimeoutMs: number;
  /** Longest attempt of a short activity (a probe, a Reset). */
  activityTimeoutMs: number;
  /** Longest attempt of a transfer (snapshot upload, read-back, census, EtcdRecover). */
  transferTimeoutMs: number;
  /** From the Resets to every control plane waiting in Preparing with no old member answering. */
  preparingTimeoutMs: number;
  /** How long the Preparing state must hold on every control plane before the recovery starts. */
  preparingStableMs: number;
  /** From Bootstrap to every control plane being a voting member again. */
  etcdJoinTimeoutMs: number;
  healthTimeoutMs: number;
  /** For the verification reboot to finish (new boot id, running, etcd healthy). */
  rebootTimeoutMs: number;
}

export const DEFAULT_BACKUP_TIMINGS: BackupTimings = {
  pollIntervalMs: 5_000,
  checkWindowMs: 30_000,
  heartbeatTimeoutMs: 30_000,
  activityTimeoutMs: 2 * 60_000,
  transferTimeoutMs: 60 * 60_000,
  preparingTimeoutMs: 20 * 60_000,
  preparingStableMs: 10_000,
  etcdJoinTimeoutMs: 30 * 60_000,
  healthTimeoutMs: 20 * 60_000,
  rebootTimeoutMs: 20 * 60_000,
};

/** `snapshot CLUSTER`, a schedule, or an upgrade's preflight (as a child workflow). */
export interface SnapshotClusterInput {
  cluster: string;
  requester: string;
  trigger: SnapshotTrigger;
  /** Skip pruning after the snapshot (an upgrade's preflight wants its snapshot and nothing else). */
  skipRetention?: boolean;
  timing?: Partial<BackupTimings>;
}

/** A verified snapshot, or a scheduled run that was skipped (a restore was running). */
export interface SnapshotClusterResult {
  cluster: string;
  /** `skipped` only for scheduled runs while a restore runs on the cluster; otherwise the snapshot is verified. */
  outcome: 'verified' | 'skipped';
  snapshot?: SnapshotMetadata;
  /** Snapshots deleted by retention after this one. */
  pruned: string[];
  /** Why it was skipped. */
  detail?: string;
}

/** `restore CLUSTER --from ID|latest`: disaster recovery from a snapshot. */
export interface RestoreClusterInput {
  cluster: string;
  requester: string;
  /** A snapshot id, or `latest` (the newest verified one). */
  from: string;
  /** Restore a snapshot that is not verified (it is still checked before anything is reset). */
  allowUnverified?: boolean;
  timing?: Partial<BackupTimings>;
}

/** What a finished restore found. */
export interface RestoreClusterResult {
  cluster: string;
  snapshot: string;
  /** The control plane EtcdRecover and Bootstrap went to. */
  recoveredOn: string;
  /** The control plane rebooted to prove the restore survives a reboot. */
  rebooted: string;
  /** The data checks after the restore and again after the reboot. */
  checks: string[];
}

/** `drill CLUSTER`, or its schedule: restore the newest verified snapshot into a throwaway etcd and count. */
export interface DrillClusterInput {
  cluster: string;
  requester: string;
  /** A snapshot id; the newest verified one when absent. */
  snapshot?: string;
  timing?: Partial<BackupTimings>;
}

export interface DrillClusterResult {
  cluster: string;
  snapshot: string;
  drill: DrillRecord;
  content: SnapshotContent;
}
