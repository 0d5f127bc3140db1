import { createHash } from 'node:crypto';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Context } from '@temporalio/activity';
import { parseAllDocuments } from 'yaml';
import { readRecord } from '../backups/catalog';
import { censusOf, etcdLineOf, VOLATILE_PREFIXES } from '../backups/census';
import { clusterBackups } from '../backups/config';
import { openSnapshot } from '../backups/pipeline';
import { FleetError } from '../errors';
import { gatePolicy } from '../fleet/policy';
import type { NodeSpec } from '../fleet/schema';
import type { SnapshotMetadata } from '../shared/backups';
import type { GatePolicy } from '../shared/runs';
import { AlreadyBootstrappedError, TalosApiError } from '../talos/errors';
import { onlyValue } from '../talos/replies';
import type { ActivityDeps } from './deps';
import { pollWithin, type CheckResult } from './checks';
import type { PlannedNode } from './install';
import { permanent, reportProgress, transient } from './failures';

/** A control plane as the restore found it before touching anything. */
export interface RestoreTarget {
  node: string;
  address: string;
  /** Its boot id then: a later, different one means it rebooted (after our Reset, or the verification reboot). */
  bootId: string;
  /** System volumes its Reset wipes: EPHEMERAL, and ETCD where its config puts /var/lib/etcd on a volume of its own. */
  wipe: string[];
  etcd: string;
}

/** What a restore will work on. */
export interface RestorePlan {
  cluster: string;
  controlPlanes: PlannedNode[];
  policy: GatePolicy;
}

/** The SHA-256 of a file read from a node, or undefined when the node has no such file. */
async function hashOfFile(stream: AsyncIterable<Buffer | string>): Promise<string | undefined> {
  const hash = createHash('sha256');
  try {
    for await (const chunk of stream) hash.update(chunk);
  } catch (err) {
    if (err instanceof TalosApiError && err.code === 'not_found') return undefined;
    throw err;
  }
  return hash.digest('hex');
}

/** True when the machine config holds a `VolumeConfig` named ETCD (Talos 1.14: /var/lib/etcd on its own volume). */
export function hasEtcdVolume(machineConfig: string): boolean {
  return parseAllDocuments(machineConfig).some((d) => {
    const v = d.toJS() as { kind?: string; name?: string } | null;
    return v?.kind === 'VolumeConfig' && v.name === 'ETCD';
  });
}

/** What the census of a restored cluster must show for the snapshot's data to be back. */
export function compareRestored(meta: SnapshotMetadata, census: Awaited<ReturnType<typeof censusOf>>): string[] {
  const content = meta.content!;
  const upTo = census.upTo!;
  const stable = (resources: Record<string, number>) => Object.entries(resources).filter(([r]) => !VOLATILE_PREFIXES.some((p) => p === `/registry/${r}/`));
  const expectedKeys = content.keys - (content.volatileKeys ?? 0);
  const problems: string[] = [];
  if (census.revision < content.revision) problems.push(`etcd is at revision ${census.revision}, before the snapshot's ${content.revision}: the snapshot's history is not there`);
  if (upTo.keys !== expectedKeys) problems.push(`${upTo.keys} of the snapshot's ${expectedKeys} keys are back`);
  for (const [resource, count] of stable(content.registry.resources)) {
    const back = upTo.resources[resource] ?? 0;
    if (back !== count) problems.push(`${resource}: ${back} of ${count} objects are back`);
  }
  return problems;
}

/**
 * The restore's activities. Each destructive one checks the node first and acts only when its effect is not there
 * yet (a Reset: same boot id and not resetting; EtcdRecover: no complete upload on the node; Bootstrap: etcd still
 * waiting), so Temporal's retries after a lost reply or a killed worker send each call once.
 */
export function restoreActivities(deps: ActivityDeps) {
  const controlPlanes = (cluster: string): NodeSpec[] => deps.inventory().cluster(cluster).nodes.filter((n) => n.role === 'controlplane');
  const cp = (cluster: string, name: string): NodeSpec => deps.inventory().node(cluster, name);
  const client = (cluster: string, name: string) => deps.connector.node(cluster, cp(cluster, name));

  /** etcd's service state on a node (`Preparing`, `Running`, ...), or why it is not known. */
  async function etcdState(cluster: string, name: string): Promise<{ state?: string; error?: string }> {
    try {
      const etcd = onlyValue(await client(cluster, name).serviceList()).services.find((s) => s.id === 'etcd');
      return { state: etcd?.state ?? 'absent' };
    } catch (err) {
      return { error: (err as Error).message };
    }
  }

  async function snapshotMeta(cluster: string, id: string): Promise<SnapshotMetadata> {
    const meta = await readRecord(clusterBackups(deps.inventory(), cluster).store, cluster, id);
    if (!meta) throw permanent('no_snapshot', `cluster ${cluster} has no snapshot ${id}`);
    return meta;
  }

  return {
    /** The control planes and the gate policy of a restore. */
    async planRestore(input: { cluster: string }): Promise<RestorePlan> {
      const spec = deps.inventory().cluster(input.cluster);
      clusterBackups(deps.inventory(), input.cluster);
      return {
        cluster: spec.name,
        controlPlanes: controlPlanes(input.cluster).map((n) => ({ name: n.name, address: n.address, role: n.role, hostname: n.hostname ?? n.name })),
        policy: gatePolicy(spec.policy, 'restore'),
      };
    },

    /** Every control plane must answer with the cluster's identity; records boot ids and what each Reset wipes. */
    async preflightRestore(input: { cluster: string }): Promise<RestoreTarget[]> {
      const results = await Promise.all(
        controlPlanes(input.cluster).map(async (n) => {
          try {
            const c = deps.connector.node(input.cluster, n);
            const bootId = await c.bootId({});
            const config = await c.machineConfig({});
            const etcd = await etcdState(input.cluster, n.name);
            return { node: n.name, address: n.address, bootId, wipe: hasEtcdVolume(config) ? ['EPHEMERAL', 'ETCD'] : ['EPHEMERAL'], etcd: etcd.state ?? 'unknown' } satisfies RestoreTarget;
          } catch (err) {
            return `${n.name} (${n.address}): ${(err as Error).message}`;
          }
        }),
      );
      const problems = results.filter((r): r is string => typeof r === 'string');
      if (problems.length) throw permanent('ControlPlaneUnreachable', `cannot restore ${input.cluster}: every control plane must answer before any is reset; ${problems.join('; ')}. Nothing was reset`);
      return results as RestoreTarget[];
    },

    /** Stops etcd on a control plane, so that none reset earlier can rejoin an old member while others wait for theirs. */
    async stopEtcd(input: { cluster: string; node: string }): Promise<{ detail: string }> {
      const before = await etcdState(input.cluster, input.node);
      if (before.state === 'Finished' || before.state === 'Preparing' || before.state === 'Waiting') return { detail: `etcd is ${before.state}` };
      onlyValue(await client(input.cluster, input.node).serviceStop('etcd'));
      return { detail: 'etcd stopped' };
    },

    /**
     * Resets a control plane (EPHEMERAL, and ETCD where it is a volume; not graceful; reboot), once: a node that has
     * rebooted since `bootIdBefore`, or is resetting now, has had it.
     */
    async resetControlPlane(input: { cluster: string; node: string; bootIdBefore: string; wipe: string[] }): Promise<{ sent: boolean; detail: string }> {
      const c = client(input.cluster, input.node);
      let bootId: string;
      let stage: string | undefined;
      try {
        bootId = await c.bootId({});
        stage = (await c.machineStatus({}).catch(() => undefined))?.stage;
      } catch (err) {
        throw transient('NodeUnreachable', `${input.node} does not answer (${(err as Error).message}); it may be rebooting after its Reset`);
      }
      if (bootId !== input.bootIdBefore) return { sent: false, detail: 'reset: it has rebooted since (the Reset was sent)' };
      if (stage && /RESETTING/.test(stage)) return { sent: false, detail: 'reset in progress' };
      try {
        onlyValue(await c.reset({ graceful: false, reboot: true, systemPartitionsToWipe: input.wipe.map((label) => ({ label, wipe: true })) }));
      } catch (err) {
        // A reply lost on the way back: the next attempt looks at the node before sending anything.
        if (err instanceof TalosApiError && err.mayHaveApplied) throw transient('ResetUnconfirmed', `${input.node}: ${err.message}`);
        throw err;
      }
      return { sent: true, detail: `reset (wiping ${input.wipe.join(' and ')}), rebooting` };
    },

    /**
     * Waits until every control plane's etcd is in Preparing now (its current state, held for `stableMs`) and no
     * member of the old cluster answers on any of them.
     */
    async checkPreparing(input: { cluster: string; windowMs: number; stableMs: number }): Promise<CheckResult> {
      let since: number | undefined;
      return pollWithin(input.windowMs, async () => {
        const states = await Promise.all(
          controlPlanes(input.cluster).map(async (n) => {
            const etcd = await etcdState(input.cluster, n.name);
            if (etcd.error) return `${n.name}: does not answer (${etcd.error})`;
            if (etcd.state !== 'Preparing') return `${n.name}: etcd is ${etcd.state}`;
            const members = await deps.connector.node(input.cluster, n).etcdMemberList().then(
              (r) => onlyValue(r).members,
              () => undefined,
            );
            return members ? `${n.name}: an etcd member still answers (${members.map((m) => m.hostname).join(', ')})` : undefined;
          }),
        );
        const waiting = states.filter((s): s is string => s !== undefined);
        if (waiting.length) {
          since = undefined;
          return { done: false, detail: `waiting for every control plane to wait in Preparing: ${waiting.join('; ')}` };
        }
        since ??= Date.now();
        const held = Date.now() - since >= input.stableMs;
        return { done: held, detail: held ? 'every control plane waits in Preparing; no old member answers' : 'every control plane is in Preparing (making sure it stays so)' };
      });
    },

    /**
     * Uploads the snapshot to one control plane with EtcdRecover, streamed from the store through decryption and its
     * checks. Not again when the node already holds the complete upload (read back and hashed) or has bootstrapped.
     */
    async uploadRecovery(input: { cluster: string; node: string; id: string; timeoutMs: number }): Promise<{ uploaded: boolean; detail: string }> {
      const meta = await snapshotMeta(input.cluster, input.id);
      const c = client(input.cluster, input.node);
      const etcd = await etcdState(input.cluster, input.node);
      if (etcd.state !== 'Preparing') {
        if (etcd.error) throw transient('NodeUnreachable', `${input.node}: ${etcd.error}`);
        return { uploaded: false, detail: `not uploaded: etcd on ${input.node} is ${etcd.state} (already recovered)` };
      }
      const existing = await hashOfFile(c.read('/var/lib/etcd.snapshot', {}, { timeoutMs: input.timeoutMs }));
      if (existing === meta.sha256) return { uploaded: false, detail: `${input.node} already holds the complete snapshot ${meta.id}` };
      const b = clusterBackups(deps.inventory(), input.cluster);
      const started = Date.now();
      const { stream } = await openSnapshot({
        store: b.store,
        meta,
        identity: b.identity(),
        onProgress: (bytes) => reportProgress({ progress: `EtcdRecover to ${input.node}: ${(bytes / 1024 / 1024).toFixed(1)} MiB at ${(bytes / 1e6 / Math.max(0.001, (Date.now() - started) / 1000)).toFixed(0)} MB/s`, bytes }),
      });
      await c.etcdRecover(stream, {}, { timeoutMs: input.timeoutMs, signal: Context.current().cancellationSignal });
      return { uploaded: true, detail: `uploaded ${meta.id} (${(meta.bytes / 1024 / 1024).toFixed(1)} MiB) with EtcdRecover` };
    },

    /** Bootstrap with recover_etcd on the node that holds the upload, once (etcd past Preparing, or AlreadyExists, is done). */
    async bootstrapRecovered(input: { cluster: string; node: string }): Promise<{ bootstrapped: boolean; detail: string }> {
      const etcd = await etcdState(input.cluster, input.node);
      if (etcd.error) throw transient('NodeUnreachable', `${input.node}: ${etcd.error}`);
      if (etcd.state !== 'Preparing') return { bootstrapped: false, detail: `etcd on ${input.node} is ${etcd.state}: already bootstrapped` };
      try {
        onlyValue(await client(input.cluster, input.node).bootstrap({ recoverEtcd: true }));
        return { bootstrapped: true, detail: `bootstrapped etcd on ${input.node} from the snapshot` };
      } catch (err) {
        if (err instanceof AlreadyBootstrappedError) return { bootstrapped: false, detail: `${input.node} answered AlreadyExists: already bootstrapped` };
        throw err;
      }
    },

    /**
     * Proves the snapshot's data is back: a fresh snapshot of the restored cluster, counted in a throwaway etcd, must
     * hold every key of the snapshot that Kubernetes does not rewrite on its own (created at or before its revision).
     */
    async verifyRestoredData(input: { cluster: string; id: string; node: string; timeoutMs: number }): Promise<{ detail: string }> {
      const meta = await snapshotMeta(input.cluster, input.id);
      if (!meta.content) throw permanent('snapshot_unverified', `snapshot ${meta.id} holds no counts to compare with (it was never verified)`);
      const dir = mkdtempSync(join(tmpdir(), 'talos-fleet-restored-'));
      try {
        const file = join(dir, 'db.snapshot');
        await pipeline(client(input.cluster, input.node).etcdSnapshot({}, { timeoutMs: input.timeoutMs }), createWriteStream(file, { mode: 0o600 }));
        const version = onlyValue(await client(input.cluster, input.node).etcdStatus()).memberStatus!.protocolVersion;
        const census = await censusOf(file, etcdLineOf(version), { createdUpTo: meta.content.revision, heartbeat: (d) => reportProgress({ progress: d }) });
        const problems = compareRestored(meta, census);
        if (problems.length) throw new FleetError('restore_incomplete', `the restored data of ${input.cluster} does not match snapshot ${meta.id}: ${problems.join('; ')}`);
        return { detail: `the snapshot's ${census.upTo!.keys} keys are back (revision ${census.revision} ≥ ${meta.content.revision}; ${census.keys} keys now)` };
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },

    /** A node's boot id now. */
    async bootIdOf(input: { cluster: string; node: string }): Promise<string> {
      return client(input.cluster, input.node).bootId({});
    },

    /** Reboots a node once: one that has rebooted since `bootIdBefore` has had it. */
    async rebootOnce(input: { cluster: string; node: string; bootIdBefore: string }): Promise<{ sent: boolean; detail: string }> {
      const c = client(input.cluster, input.node);
      const now = await c.bootId({}).catch((err: Error) => Promise.reject(transient('NodeUnreachable', `${input.node}: ${err.message}`)));
      if (now !== input.bootIdBefore) return { sent: false, detail: 'rebooted already' };
      const stage = (await c.machineStatus({}).catch(() => undefined))?.stage;
      if (stage && /REBOOTING/.test(stage)) return { sent: false, detail: 'rebooting' };
      onlyValue(await c.reboot({}));
      return { sent: true, detail: 'rebooting' };
    },

    /** Waits until the node answers with a new boot id, running, with its etcd member running again. */
    async checkRebooted(input: { cluster: string; node: string; bootIdBefore: string; windowMs: number }): Promise<CheckResult> {
      return pollWithin(input.windowMs, async () => {
        const c = client(input.cluster, input.node);
        const bootId = await c.bootId({}).catch(() => undefined);
        if (!bootId) return { done: false, detail: 'rebooting (does not answer)' };
        if (bootId === input.bootIdBefore) return { done: false, detail: 'has not rebooted yet' };
        const etcd = await etcdState(input.cluster, input.node);
        return etcd.state === 'Running' ? { done: true, detail: 'back after the reboot, etcd running' } : { done: false, detail: `back, etcd ${etcd.state ?? etcd.error}` };
      });
    },
  };
}
