import { v1alpha1Document, valueAt } from '../config/multidoc';
import { parseConfigDocuments } from '../config/patches';
import type { NodeSpec } from '../fleet/schema';
import type { TalosApi } from '../talos/api';
import { onlyValue } from '../talos/replies';
import { UpgradeRefusal } from '../upgrade/plan';
import { planClusterUpgrade, type PlannedUpgrade } from '../upgrade/state';
import type { ActivityDeps } from './deps';
import { permanent, transient } from './failures';
import { pollWithin, type CheckResult } from './checks';

export type { PlannedUpgrade } from '../upgrade/state';

/** A node's identity of the moment: which boot, which version, which stage. */
export interface NodeMoment {
  node: string;
  bootId: string;
  version: string;
  stage: string;
  ready: boolean;
}

/** How a node's upgrade ended, as the wait for it sees it. */
export interface UpgradeOutcome extends CheckResult {
  outcome: 'waiting' | 'upgraded' | 'rolled-back';
  version?: string;
}

/** An etcd member that does not answer its status within this long counts as unhealthy. */
const STATUS_TIMEOUT_MS = 5_000;

/** etcd 3.6's default `--snapshot-count`: entries applied between two snapshots of the raft log. */
const ETCD_SNAPSHOT_COUNT = 10_000;

const stageName = (stage: string | undefined) => (stage ?? '').replace(/^MACHINE_STAGE_/, '').toLowerCase();

/** Reads a node's boot, version, stage and readiness in one look. */
export async function moment(client: TalosApi, node: NodeSpec): Promise<NodeMoment> {
  const target = { node: node.address };
  const [bootId, version, status] = await Promise.all([client.bootId(target), client.version(target).then((r) => onlyValue(r).version?.tag ?? ''), client.machineStatus(target)]);
  return { node: node.name, bootId, version, stage: stageName(status.stage), ready: !!status.status?.ready };
}

/**
 * Before a request that reboots a node (Reboot, Rollback), exactly once per boot: a node in a new boot since
 * `before`, or rebooting now, already has it (a lost reply, a retried attempt). Undefined when it is still to be
 * sent; otherwise the stage the node is in. A node that does not answer is retried (`what` names the request).
 */
export async function rebootingSince(client: TalosApi, node: NodeSpec, before: NodeMoment, what: string): Promise<string | undefined> {
  const now = await moment(client, node).catch((err: Error) => err);
  if (now instanceof Error) throw transient('NodeUnreachable', `${node.name} does not answer, so it cannot be sent ${what} now: ${now.message}`);
  return now.bootId !== before.bootId || now.stage === 'rebooting' ? now.stage : undefined;
}

/** Every control plane's etcd member status, one call per node (each with its own deadline); a member that does not answer is an error. */
async function memberStatuses(client: TalosApi, controlPlanes: NodeSpec[]) {
  const results = await client.forEachNode(
    controlPlanes.map((cp) => cp.address),
    (target, options) => client.etcdStatus(target, options),
    { timeoutMs: STATUS_TIMEOUT_MS },
  );
  return results.map((r, i) => ({ cp: controlPlanes[i]!, status: r.value?.memberStatus, error: r.error && (r.error.detail || r.error.message) }));
}

/**
 * Why a control-plane upgrade would be unsafe now (talos-lines.md §1.6, upstream's ValidateForUpgrade: exactly two
 * members, a member not started, a member unhealthy or still a learner), and which control plane leads.
 */
async function etcdSafety(client: TalosApi, controlPlanes: NodeSpec[]): Promise<{ problems: string[]; leader?: string }> {
  const [members, statuses] = await Promise.all([
    client.etcdMemberList({}, { node: controlPlanes[0]!.address }).then(
      (r) => onlyValue(r).members,
      (err: Error) => err,
    ),
    memberStatuses(client, controlPlanes),
  ]);
  if (members instanceof Error) return { problems: [`etcd members cannot be listed: ${members.message}`] };
  const problems: string[] = [];
  if (members.length === 2) problems.push('etcd has exactly 2 members: losing one during an upgrade loses quorum');
  for (const m of members) if (!m.hostname) problems.push(`etcd member ${BigInt(m.id).toString(16)} has not started`);
  for (const { cp, status, error } of statuses) {
    if (error || status?.errors?.length) problems.push(`etcd member on ${cp.name} is not healthy: ${error ?? status!.errors.join(', ')}`);
    else if (status?.isLearner) problems.push(`etcd member on ${cp.name} is still a learner`);
  }
  const leader = statuses.find(({ status }) => status && status.leader === status.memberId)?.cp.name;
  return { problems, ...(leader ? { leader } : {}) };
}

/** The rolling upgrade's activities: each reads the node before acting, so a retry never repeats an upgrade. */
export function upgradeActivities(deps: ActivityDeps) {
  const spec = (cluster: string, node: string) => deps.inventory().node(cluster, node);
  const controlPlanes = (cluster: string) => deps.inventory().cluster(cluster).nodes.filter((n) => n.role === 'controlplane');

  return {
    /** Reads every node's version, image and etcd role, and plans the upgrade; an impossible path is refused here. */
    async planRollingUpgrade(input: { cluster: string; toVersion?: string }): Promise<PlannedUpgrade> {
      try {
        return await planClusterUpgrade(deps.connector, deps.inventory(), input.cluster, input.toVersion);
      } catch (err) {
        if (err instanceof UpgradeRefusal) throw permanent('UpgradeRefused', err.message);
        throw err;
      }
    },

    /** Before anything changes: every node answers, etcd is healthy with every member started and not exactly two, health passes. */
    async preflightUpgrade(input: { cluster: string; windowMs: number; pollMs?: number }): Promise<{ detail: string }> {
      const inv = deps.inventory();
      const client = deps.connector.cluster(input.cluster);
      const problems: string[] = [];
      const nodes = inv.cluster(input.cluster).nodes;
      const versions = await client.forEachNode(
        nodes.map((n) => n.address),
        (target, options) => client.version(target, options),
      );
      for (const [i, r] of versions.entries()) if (r.error) problems.push(`${nodes[i]!.name} does not answer: ${r.error.message}`);
      problems.push(...(await etcdSafety(client, controlPlanes(input.cluster))).problems);
      if (problems.length) throw permanent('PreflightFailed', `upgrade of ${input.cluster} refused before any change: ${problems.join('; ')}`);
      return { detail: 'every node answers; etcd is healthy' };
    },

    /**
     * Everything a node's upgrade checks before it starts, in one look: the node's boot, version and stage (to know
     * its next boot), and for control planes the etcd quorum guard (the 1.13+ API has none of its own) and the leader.
     */
    async prepareNodeUpgrade(input: { cluster: string; node: string }): Promise<{ before: NodeMoment; etcd?: CheckResult & { leader?: string } }> {
      const node = spec(input.cluster, input.node);
      const client = deps.connector.cluster(input.cluster);
      const [before, safety] = await Promise.all([moment(client, node), node.role === 'controlplane' ? etcdSafety(client, controlPlanes(input.cluster)) : undefined]);
      if (!safety) return { before };
      const { problems, leader } = safety;
      return { before, etcd: { ...(problems.length ? { done: false, detail: problems.join('; ') } : { done: true, detail: 'etcd healthy' }), ...(leader ? { leader } : {}) } };
    },

    /**
     * Where etcd's log is now (the highest raft index of the members) and how many entries each member applies
     * between two snapshots of it (`--snapshot-count` from `cluster.etcd.extraArgs`, else etcd 3.6's 10000).
     */
    async etcdLogPosition(input: { cluster: string }): Promise<{ index: number; snapshotCount: number }> {
      const client = deps.connector.cluster(input.cluster);
      const cps = controlPlanes(input.cluster);
      const statuses = await memberStatuses(client, cps);
      const index = Math.max(0, ...statuses.map(({ status }) => Number(status?.raftIndex ?? 0)));
      // A config may hold several documents (every 1.12+ config does); etcd's flags live in the v1alpha1 one.
      const config = v1alpha1Document(parseConfigDocuments(await client.machineConfig({ node: cps[0]!.address }), 'machine config'));
      const snapshotCount = Number(valueAt(config, 'cluster.etcd.extraArgs.snapshot-count') ?? ETCD_SNAPSHOT_COUNT);
      return { index, snapshotCount: Number.isFinite(snapshotCount) && snapshotCount > 0 ? snapshotCount : ETCD_SNAPSHOT_COUNT };
    },

    /**
     * Waits (up to `windowMs`) until every member has applied more than `snapshotCount` entries past `sinceIndex`:
     * by then each has written a snapshot of its log past that index, so a restart replays nothing older.
     */
    async checkEtcdLogSnapshotted(input: { cluster: string; sinceIndex: number; snapshotCount: number; windowMs: number; pollMs?: number }): Promise<CheckResult> {
      const client = deps.connector.cluster(input.cluster);
      const cps = controlPlanes(input.cluster);
      const target = input.sinceIndex + input.snapshotCount + 1;
      return pollWithin(input.windowMs, async () => {
        const statuses = await memberStatuses(client, cps);
        const behind = statuses.filter(({ status }) => Number(status?.raftAppliedIndex ?? 0) < target).map(({ cp, status }) => `${cp.name} at ${status?.raftAppliedIndex ?? '?'}`);
        if (behind.length) return { done: false, detail: `etcd has not yet snapshotted its log past index ${input.sinceIndex} (a snapshot every ${input.snapshotCount} entries; needs ${target}: ${behind.join(', ')})` };
        return { done: true, detail: `every etcd member applied past index ${target}: its log holds nothing etcd 3.5 wrote` };
      }, input.pollMs);
    },

    /** Which boot, version and stage a node is in now (recorded before acting on it, to recognize the next boot). */
    async readNode(input: { cluster: string; node: string }): Promise<NodeMoment> {
      return moment(deps.connector.cluster(input.cluster), spec(input.cluster, input.node));
    },

    /** Moves etcd leadership away from a control plane before it goes down (a no-op when it does not lead, or leads alone). */
    async forfeitLeadership(input: { cluster: string; node: string }): Promise<{ detail: string }> {
      const node = spec(input.cluster, input.node);
      const client = deps.connector.cluster(input.cluster);
      const voting = onlyValue(await client.etcdMemberList({}, { node: node.address })).members.filter((m) => !m.isLearner);
      if (voting.length < 2) return { detail: 'the only etcd member: there is no one to hand leadership to' };
      const reply = onlyValue(await client.etcdForfeitLeadership({ node: node.address }));
      return { detail: reply.member ? `etcd leadership moved to ${reply.member}` : 'did not lead etcd' };
    },

    /**
     * Sends the legacy MachineService.Upgrade, exactly once: a node already on the target, in a new boot since
     * `before`, or upgrading or rebooting now has received it (a lost reply, a retried attempt) and is left alone.
     */
    async sendLegacyUpgrade(input: { cluster: string; node: string; image: string; to: string; before: NodeMoment }): Promise<{ sent: boolean; detail: string }> {
      const node = spec(input.cluster, input.node);
      const client = deps.connector.cluster(input.cluster);
      const now = await moment(client, node).catch((err: Error) => err);
      if (now instanceof Error) throw transient('NodeUnreachable', `${node.name} does not answer before its upgrade: ${now.message}`);
      if (now.version === input.to) return { sent: false, detail: `already on ${input.to}` };
      if (now.bootId !== input.before.bootId || ['upgrading', 'rebooting'].includes(now.stage)) return { sent: false, detail: `already upgrading (stage ${now.stage})` };
      const reply = onlyValue(await client.upgrade({ image: input.image }, { node: node.address }));
      return { sent: true, detail: `${reply.ack || 'upgrade started'} (${input.image})` };
    },

    /** Waits (up to `windowMs`) for the node to come back in a new boot: on the target (upgraded) or on another version (rolled back). */
    async checkNodeUpgraded(input: { cluster: string; node: string; to: string; before: NodeMoment; windowMs: number; pollMs?: number }): Promise<UpgradeOutcome> {
      const node = spec(input.cluster, input.node);
      const client = deps.connector.cluster(input.cluster);
      return pollWithin(input.windowMs, async () => {
        const now = await moment(client, node).catch(() => undefined);
        if (!now) return { done: false, outcome: 'waiting', detail: 'down (installing or rebooting)' };
        if (now.bootId === input.before.bootId) return { done: false, outcome: 'waiting', detail: `stage ${now.stage} on ${now.version}` };
        if (now.stage !== 'running') return { done: false, outcome: 'waiting', detail: `booting ${now.version} (stage ${now.stage})` };
        if (now.version === input.to) return { done: true, outcome: 'upgraded', detail: `running ${now.version}`, version: now.version };
        return { done: true, outcome: 'rolled-back', detail: `came back on ${now.version}, not ${input.to}: the new image did not boot and Talos rolled back`, version: now.version };
      }, input.pollMs);
    },

    /** Waits (up to `windowMs`) for the node's services, its etcd member and its readiness. */
    async checkNodeHealthy(input: { cluster: string; node: string; windowMs: number; pollMs?: number }): Promise<CheckResult> {
      const node = spec(input.cluster, input.node);
      const client = deps.connector.cluster(input.cluster);
      return pollWithin(input.windowMs, async () => {
        const now = await moment(client, node).catch((err: Error) => err);
        if (now instanceof Error) return { done: false, detail: `does not answer: ${now.message}` };
        const services = await client.serviceList({ node: node.address }).then((r) => onlyValue(r).services);
        const unhealthy = services.filter((s) => s.state !== 'Running' || s.health?.healthy === false).map((s) => `${s.id} ${s.state}`);
        if (unhealthy.length) return { done: false, detail: `services not healthy: ${unhealthy.join(', ')}` };
        if (!now.ready) return { done: false, detail: 'not ready yet' };
        return { done: true, detail: `healthy on ${now.version}` };
      }, input.pollMs);
    },

    /** Sends Rollback, exactly once: a node in a new boot since `before`, or rebooting now, already has it. */
    async sendRollback(input: { cluster: string; node: string; before: NodeMoment }): Promise<{ sent: boolean; detail: string }> {
      const node = spec(input.cluster, input.node);
      const client = deps.connector.cluster(input.cluster);
      if (await rebootingSince(client, node, input.before, 'a rollback')) return { sent: false, detail: 'already rolling back' };
      onlyValue(await client.rollback({ node: node.address }));
      return { sent: true, detail: 'rollback sent: the node boots its other image' };
    },

    /** Waits (up to `windowMs`) for a node to answer in a new boot since `before`, whatever its version. */
    async checkNodeRebooted(input: { cluster: string; node: string; before: NodeMoment; windowMs: number; pollMs?: number }): Promise<CheckResult & { version?: string }> {
      const node = spec(input.cluster, input.node);
      const client = deps.connector.cluster(input.cluster);
      return pollWithin(input.windowMs, async () => {
        const now = await moment(client, node).catch(() => undefined);
        if (!now || now.bootId === input.before.bootId || now.stage !== 'running') return { done: false, detail: now ? `stage ${now.stage}` : 'down' };
        return { done: true, detail: `back on ${now.version}`, version: now.version };
      }, input.pollMs);
    },
  };
}
