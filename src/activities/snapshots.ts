import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Context } from '@temporalio/activity';
import { chooseSnapshot, listSnapshots, objectKey, readRecord, writeRecord } from '../backups/catalog';
import { censusOf, etcdLineOf, registryKey, snapshotStatus } from '../backups/census';
import { clusterBackups, type ClusterBackups } from '../backups/config';
import { readBack, uploadSnapshot } from '../backups/pipeline';
import { planRetention, staleness } from '../backups/retention';
import { FleetError } from '../errors';
import type { NodeSpec } from '../fleet/schema';
import type { DrillRecord, KubernetesMark, SnapshotContent, SnapshotMetadata, SnapshotTrigger } from '../shared/backups';
import { onlyValue } from '../talos/replies';
import type { ActivityDeps } from './deps';
import { permanent, reportProgress, transient } from './failures';

/** A control plane as a snapshot sees it: is its etcd healthy, and does it lead. */
export interface SnapshotSource {
  node: string;
  leader: boolean;
  etcdVersion: string;
  talosVersion: string;
}

/** What a snapshot run will do, decided by its first activity. */
export interface SnapshotPlan {
  source: SnapshotSource;
  /** Why that control plane (healthy, not the leader, ...). */
  reason: string;
  /** The cluster's running restore, when there is one (a scheduled snapshot then skips). */
  restoreRunning?: string;
  store: string;
  compression: 'none' | 'zstd';
  recipients: number;
  leastPrivilege: boolean;
}

/** Progress of a transfer, as heartbeat details (the CLI prints `progress`). */
function transferProgress(what: string): (bytes: number) => void {
  const started = Date.now();
  let last = 0;
  return (bytes) => {
    const now = Date.now();
    if (now - last < 500) return;
    last = now;
    const seconds = Math.max(0.001, (now - started) / 1000);
    reportProgress({ progress: `${what}: ${(bytes / 1024 / 1024).toFixed(1)} MiB at ${(bytes / 1e6 / seconds).toFixed(0)} MB/s`, bytes });
  };
}

/** Failures of a verification that come from where it ran, not from what it read. */
const NOT_ABOUT_THE_SNAPSHOT = new Set(['store_unreachable', 'store_denied', 'store_misconfigured', 'tool_missing', 'spawn_failed', 'etcd_version_unsupported']);

/** A private temporary directory for a plaintext snapshot (it holds the cluster's secrets): mode 0700, removed after. */
async function withPrivateDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'talos-fleet-snapshot-'));
  try {
    return await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The snapshot, backup and drill activities. Each one checks the store first, so a retried attempt repeats nothing. */
export function snapshotActivities(deps: ActivityDeps) {
  const backups = (cluster: string): ClusterBackups => clusterBackups(deps.inventory(), cluster);
  const controlPlanes = (cluster: string): NodeSpec[] => deps.inventory().cluster(cluster).nodes.filter((n) => n.role === 'controlplane');

  /** Every control plane's etcd health, leadership and versions (nodes that do not answer are left out, with why). */
  async function sources(cluster: string): Promise<{ healthy: SnapshotSource[]; problems: string[] }> {
    const problems: string[] = [];
    const healthy: SnapshotSource[] = [];
    for (const cp of controlPlanes(cluster)) {
      const client = deps.connector.node(cluster, cp);
      try {
        const services = onlyValue(await client.serviceList()).services;
        const etcd = services.find((s) => s.id === 'etcd');
        if (etcd?.state !== 'Running' || etcd.health?.healthy !== true) {
          problems.push(`${cp.name}: etcd is ${etcd?.state ?? 'absent'}${etcd?.health?.healthy === false ? ' (unhealthy)' : ''}`);
          continue;
        }
        const status = onlyValue(await client.etcdStatus()).memberStatus!;
        const version = onlyValue(await client.version()).version?.tag ?? '';
        healthy.push({ node: cp.name, leader: status.leader === status.memberId, etcdVersion: status.protocolVersion, talosVersion: version });
      } catch (err) {
        problems.push(`${cp.name}: ${(err as Error).message}`);
      }
    }
    return { healthy, problems };
  }

  return {
    /** Picks a healthy control plane (not the etcd leader when another is healthy) and says whether a restore runs. */
    async planSnapshot(input: { cluster: string }): Promise<SnapshotPlan> {
      const b = backups(input.cluster);
      const running = await deps.runningMutation?.(input.cluster);
      const base = { store: b.store.url, compression: b.spec.compression, recipients: b.spec.recipients.length, leastPrivilege: b.snapshotIdentity().leastPrivilege };
      // While a restore rebuilds the cluster there is nothing to take: the nodes are not even asked.
      if (running?.operation === 'restore') return { source: { node: '', leader: false, etcdVersion: '', talosVersion: '' }, reason: '', restoreRunning: `a restore of ${input.cluster} is running (run ${running.ref})`, ...base };
      const { healthy, problems } = await sources(input.cluster);
      // etcd's health is a moment's verdict (a slow quorum read on a busy node): retried with backoff, not final.
      if (healthy.length === 0) throw transient('NoHealthyControlPlane', `no control plane of ${input.cluster} has a healthy etcd to take a snapshot from: ${problems.join('; ')}`);
      const follower = healthy.find((s) => !s.leader);
      const source = follower ?? healthy[0]!;
      const reason = follower ? `${source.node}: healthy, not the etcd leader` : `${source.node}: healthy (the only healthy member, and the leader)`;
      return { source, reason: problems.length ? `${reason}; not used: ${problems.join('; ')}` : reason, ...base };
    },

    /**
     * Streams a snapshot from `node` into the store and writes its record (unverified). A record already there (a
     * retried attempt whose reply was lost) is returned as it is.
     */
    async takeSnapshot(input: { cluster: string; id: string; node: string; takenAt: string; trigger: SnapshotTrigger; requester: string; source: SnapshotSource; timeoutMs: number; kubernetes?: KubernetesMark }): Promise<SnapshotMetadata> {
      const b = backups(input.cluster);
      const existing = await readRecord(b.store, input.cluster, input.id);
      if (existing) return existing;
      const inv = deps.inventory();
      const node = inv.node(input.cluster, input.node);
      const client = deps.connector.nodeAs(input.cluster, node, b.spec.talosconfig ? 'backup' : 'admin-transfer', () => b.snapshotIdentity().identity, input.timeoutMs);
      const key = objectKey(input.cluster, input.id, b.spec.compression);
      const source = client.etcdSnapshot({}, { timeoutMs: input.timeoutMs, signal: Context.current().cancellationSignal });
      const stored = await uploadSnapshot({ source, store: b.store, key, recipients: b.spec.recipients, compression: b.spec.compression, what: `the snapshot from ${node.name}`, onProgress: transferProgress(`snapshot from ${node.name}`) });
      const spec = inv.cluster(input.cluster);
      const meta: SnapshotMetadata = {
        id: input.id,
        cluster: input.cluster,
        node: node.name,
        takenAt: input.takenAt,
        object: key,
        ...stored,
        compression: b.spec.compression,
        recipients: [...b.spec.recipients],
        versions: { talos: input.source.talosVersion, etcd: input.source.etcdVersion, ...(spec.kubernetesVersion ? { kubernetes: spec.kubernetesVersion } : {}) },
        ...(input.kubernetes ? { kubernetes: input.kubernetes } : {}),
        verification: { status: 'unverified' },
        trigger: input.trigger,
        requester: input.requester,
      };
      await writeRecord(b.store, meta);
      return meta;
    },

    /**
     * Reads a snapshot back from the store, decrypts it, checks its hashes and etcd's trailer against its record,
     * has etcdutl read it and counts it in a throwaway etcd of its version; records the outcome (verified, with what
     * it holds, or failed with why). A failure is permanent: the same bytes fail the same way.
     */
    async verifySnapshot(input: { cluster: string; id: string }): Promise<SnapshotMetadata> {
      const b = backups(input.cluster);
      const meta = await readRecord(b.store, input.cluster, input.id);
      if (!meta) throw permanent('no_snapshot', `cluster ${input.cluster} has no snapshot ${input.id} in ${b.store.url}`);
      const now = new Date().toISOString();
      try {
        const checked = await withPrivateDir(async (dir) => {
          const file = join(dir, 'db.snapshot');
          const { storedSha256 } = await readBack({ store: b.store, meta, identity: b.identity(), sink: createWriteStream(file, { mode: 0o600 }), onProgress: transferProgress(`reading ${meta.id} back`) });
          const line = etcdLineOf(meta.versions.etcd);
          const status = await snapshotStatus(file, line);
          const census = await censusOf(file, line, { heartbeat: (detail) => reportProgress({ progress: detail }), signal: Context.current().cancellationSignal });
          // etcd serves revision 1 from an empty store, whose file holds no revision at all (etcdutl says 0).
          if (census.revision !== Math.max(status.revision, 1)) throw new FleetError('snapshot_corrupt', `etcdutl reads revision ${status.revision} but the restored etcd serves ${census.revision}`);
          const { etcdVersion: _v, upTo: _u, ...held } = census;
          return { content: held satisfies SnapshotContent, storedSha256 };
        });
        const { content } = checked;
        const verified: SnapshotMetadata = { ...meta, ...checked, verification: { status: 'verified', at: now, detail: `read back, decrypted, SHA-256 and etcd trailer match; restores into etcd with ${content.keys} keys at revision ${content.revision}` } };
        await writeRecord(b.store, verified);
        return verified;
      } catch (err) {
        const e = err as FleetError;
        // What says nothing about the snapshot's bytes is not recorded against it: a store that cannot be read now
        // or refuses this worker, a tool this worker lacks, a verification stopped by its own cancellation. Retried
        // (or failed for the worker's owner to fix); the snapshot keeps the verification it had.
        if (NOT_ABOUT_THE_SNAPSHOT.has(e.code) || Context.current().cancellationSignal.aborted) throw err;
        await writeRecord(b.store, { ...meta, verification: { status: 'failed', at: now, detail: e.message } }).catch(() => undefined);
        throw permanent(e.code ?? 'VerificationFailed', `snapshot ${meta.id} failed verification: ${e.message}`);
      }
    },

    /** Deletes what the cluster's retention policy does not keep (never while a restore runs); returns what went. */
    async pruneSnapshots(input: { cluster: string }): Promise<{ removed: string[]; kept: number; detail: string }> {
      const b = backups(input.cluster);
      const running = await deps.runningMutation?.(input.cluster);
      if (running?.operation === 'restore') return { removed: [], kept: 0, detail: `not pruned: a restore is running (run ${running.ref})` };
      const snapshots = await listSnapshots(b.store, input.cluster);
      const plan = planRetention(snapshots.map((s) => ({ id: s.id, takenAt: s.takenAt, verified: s.verification.status === 'verified' })), b.spec.retention);
      for (const id of plan.remove) {
        const meta = snapshots.find((s) => s.id === id)!;
        // The record first: a snapshot without one is never offered, even if deleting the object then fails.
        await b.store.remove(`${input.cluster}/${id}.json`);
        await b.store.remove(meta.object);
      }
      const r = b.spec.retention;
      return { removed: plan.remove, kept: plan.keep.length, detail: `kept ${plan.keep.length} (last ${r.keepLast}, ${r.daily} daily, ${r.weekly} weekly, ${r.monthly} monthly), deleted ${plan.remove.length}` };
    },

    /** Whether the cluster's newest verified snapshot is older than its policy allows. */
    async checkStaleness(input: { cluster: string }): Promise<{ stale: boolean; detail: string }> {
      const b = backups(input.cluster);
      const snapshots = await listSnapshots(b.store, input.cluster);
      const s = staleness(snapshots.map((m) => ({ id: m.id, takenAt: m.takenAt, verified: m.verification.status === 'verified' })), b.spec.staleAfter, new Date());
      const limit = `${Math.round(b.spec.staleAfter / 3_600_000)} h`;
      if (!s.newest) return { stale: true, detail: `cluster ${input.cluster} has no verified snapshot at all (policy: one at most ${limit} old)` };
      const age = `${((s.ageMs ?? 0) / 3_600_000).toFixed(1)} h`;
      return { stale: s.stale, detail: s.stale ? `cluster ${input.cluster}'s newest verified snapshot ${s.newest.id} is ${age} old, older than its policy's ${limit}` : `newest verified snapshot ${s.newest.id} is ${age} old` };
    },

    /** The snapshots of a cluster, newest first (the CLI's `snapshots` reads the store itself; this is for workflows). */
    async chooseSnapshot(input: { cluster: string; from: string; allowUnverified?: boolean }): Promise<SnapshotMetadata> {
      const b = backups(input.cluster);
      try {
        return chooseSnapshot(await listSnapshots(b.store, input.cluster), input.cluster, input.from, input.allowUnverified);
      } catch (err) {
        if (err instanceof FleetError && ['no_snapshot', 'snapshot_unverified'].includes(err.code)) throw permanent(err.code, err.message);
        throw err;
      }
    },

    /**
     * A restore drill: reads the snapshot back, restores it into a throwaway etcd of the version the cluster runs now
     * (its snapshot's when no control plane answers), counts, and compares with what the snapshot held when verified.
     */
    async drillSnapshot(input: { cluster: string; id: string }): Promise<{ drill: DrillRecord; content: SnapshotContent }> {
      const b = backups(input.cluster);
      const meta = await readRecord(b.store, input.cluster, input.id);
      if (!meta) throw permanent('no_snapshot', `cluster ${input.cluster} has no snapshot ${input.id}`);
      const { healthy } = await sources(input.cluster);
      const version = healthy[0]?.etcdVersion || meta.versions.etcd;
      // The marker ConfigMap written just before the snapshot must be in it, naming it: the file holds the state of
      // the moment its record says (a drill has no API server, so it reads the object's bytes from etcd).
      const marker = meta.kubernetes?.marker;
      const markerKey = marker ? registryKey('configmaps', marker.namespace, marker.name) : undefined;
      const census = await withPrivateDir(async (dir) => {
        const file = join(dir, 'db.snapshot');
        await readBack({ store: b.store, meta, identity: b.identity(), sink: createWriteStream(file, { mode: 0o600 }), onProgress: transferProgress(`reading ${meta.id} back`) });
        return censusOf(file, etcdLineOf(version), { ...(markerKey ? { readKeys: [markerKey] } : {}), heartbeat: (detail) => reportProgress({ progress: detail }), signal: Context.current().cancellationSignal });
      });
      const { etcdVersion, upTo: _u, values, ...content } = census;
      const expected = meta.content;
      const problems: string[] = [];
      if (!content.registry.present) problems.push('the Kubernetes registry (/registry/) is not in it');
      if (expected) {
        if (content.keys !== expected.keys) problems.push(`${content.keys} keys, its record says ${expected.keys}`);
        if (content.revision !== expected.revision) problems.push(`revision ${content.revision}, its record says ${expected.revision}`);
        for (const [resource, count] of Object.entries(expected.registry.resources)) {
          if ((content.registry.resources[resource] ?? 0) !== count) problems.push(`${resource}: ${content.registry.resources[resource] ?? 0} objects, its record says ${count}`);
        }
      } else problems.push('its record holds no counts to compare with (it was never verified)');
      if (marker && markerKey && !values?.[markerKey]?.includes(marker.snapshot)) problems.push(`the marker ConfigMap ${marker.namespace}/${marker.name} in it does not name ${marker.snapshot}`);
      const ok = problems.length === 0;
      const resources = Object.keys(content.registry.resources).length;
      const drill: DrillRecord = {
        at: new Date().toISOString(),
        ok,
        etcdVersion,
        detail: ok
          ? `restored into etcd ${etcdVersion}: ${content.keys} keys at revision ${content.revision}, ${content.registry.keys} Kubernetes objects of ${resources} resources, as recorded${marker ? `; its marker ConfigMap names ${marker.snapshot}` : ''}`
          : `restored into etcd ${etcdVersion}, but ${problems.join('; ')}`,
      };
      await writeRecord(b.store, { ...meta, drill });
      return { drill, content };
    },
  };
}
