import type { webApi } from '@slack/bolt';
import type { ClusterSpec, SlackOperation } from '../fleet/schema';
import { who } from './blocks/text';
import { callSlack } from './slack-calls';

/**
 * Members of Slack user groups, asked of Slack (`usergroups.users.list`, scope `usergroups:read`) and kept for a
 * minute, so a burst of commands costs one call per group.
 */
export class GroupDirectory {
  private readonly cache = new Map<string, { until: number; members: Promise<Set<string>> }>();

  constructor(private readonly ttlMs = 60_000) {}

  /** Whether `user` is in the group. */
  async has(client: webApi.WebClient, group: string, user: string): Promise<boolean> {
    const now = Date.now();
    let entry = this.cache.get(group);
    if (!entry || entry.until < now) {
      const members = callSlack('usergroups.users.list', () => client.usergroups.users.list({ usergroup: group }), { deadline: now + 2_000 }).then((r) => new Set(r.users ?? []));
      entry = { until: now + this.ttlMs, members };
      this.cache.set(group, entry);
      members.catch(() => this.cache.delete(group));
    }
    return (await entry.members).has(user);
  }
}

const GROUP_ID = /^S[A-Z0-9]{2,}$/;

/** `<!subteam^S…>` for a user group id (Slack shows the group's handle), a mention or name otherwise. */
export function whoOrGroup(entry: string): string {
  return GROUP_ID.test(entry) ? `<!subteam^${entry}>` : who(entry);
}

/**
 * The user groups among the cluster's approvers (`S…` entries of `policy.approvers`) that `user` is a member of:
 * sent with a decision or an abort, so the workflow admits the user through the group.
 */
export async function approverGroupsOf(cluster: ClusterSpec | undefined, user: string, client: webApi.WebClient, groups: GroupDirectory): Promise<string[]> {
  const candidates = (cluster?.policy.approvers ?? []).filter((a) => GROUP_ID.test(a));
  const member = await Promise.all(candidates.map((g) => groups.has(client, g, user).catch(() => false)));
  return candidates.filter((_, i) => member[i]);
}

/** A verdict on a request, with the reason a refused user is shown. */
export type Verdict = { allowed: true } | { allowed: false; reason: string };

const VERB: Record<SlackOperation, string> = { install: 'install', upgrade: 'upgrade', 'upgrade-k8s': 'upgrade Kubernetes on', snapshot: 'snapshot', restore: 'restore' };

/**
 * May `user` start `operation` on the cluster from Slack? The cluster's approvers may (listed, or members of a listed
 * user group); so may the users and members of the user groups in `slack.start.<operation>`. Gates are decided by
 * the workflow, not here.
 */
export async function mayStart(cluster: ClusterSpec, operation: SlackOperation, user: string, client: webApi.WebClient, groups: GroupDirectory): Promise<Verdict> {
  const allowed = cluster.slack?.start[operation];
  if (cluster.policy.approvers.includes(user) || allowed?.users.includes(user)) return { allowed: true };
  for (const g of allowed?.groups ?? []) if (await groups.has(client, g, user)) return { allowed: true };
  if ((await approverGroupsOf(cluster, user, client, groups)).length) return { allowed: true };
  const people = [...(allowed?.users ?? []).map(who), ...(allowed?.groups ?? []).map(whoOrGroup), ...cluster.policy.approvers.map(whoOrGroup)];
  return {
    allowed: false,
    reason: `You may not ${VERB[operation]} *${cluster.name}*: ${people.length ? `ask ${people.slice(0, 8).join(', ')}${people.length > 8 ? ', …' : ''}, or ` : ''}have your member id added to \`slack.start.${operation}\` of cluster ${cluster.name} in the inventory.`,
  };
}
