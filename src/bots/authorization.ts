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

/** A verdict on a request, with the reason a refused user is shown. */
export type Verdict = { allowed: true } | { allowed: false; reason: string };

const VERB: Record<SlackOperation, string> = { install: 'install', upgrade: 'upgrade', 'upgrade-k8s': 'upgrade Kubernetes on', snapshot: 'snapshot', restore: 'restore' };

/**
 * May `user` start `operation` on the cluster from Slack? The cluster's approvers may; so may the users and members
 * of the user groups in `slack.start.<operation>`. Gates are decided by the workflow, not here.
 */
export async function mayStart(cluster: ClusterSpec, operation: SlackOperation, user: string, client: webApi.WebClient, groups: GroupDirectory): Promise<Verdict> {
  const allowed = cluster.slack?.start[operation];
  if (cluster.policy.approvers.includes(user) || allowed?.users.includes(user)) return { allowed: true };
  for (const g of allowed?.groups ?? []) if (await groups.has(client, g, user)) return { allowed: true };
  const people = [...(allowed?.users ?? []).map(who), ...(allowed?.groups ?? []).map((g) => `<!subteam^${g}>`), ...cluster.policy.approvers.map(who)];
  return {
    allowed: false,
    reason: `You may not ${VERB[operation]} *${cluster.name}*: ${people.length ? `ask ${people.slice(0, 8).join(', ')}${people.length > 8 ? ', …' : ''}, or ` : ''}have your member id added to \`slack.start.${operation}\` of cluster ${cluster.name} in the inventory.`,
  };
}
