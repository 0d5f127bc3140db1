import { readFileSync, writeFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import { FleetError } from '../errors';

/** What `talos-fleet dev` adds to its demo cluster when Slack is configured. */
export interface DevSlack {
  /** `TALOS_FLEET_SLACK_CHANNEL`: the channel the demo cluster's runs go to. */
  channel: string;
  /** `TALOS_FLEET_SLACK_USERS`: member ids that become approvers of the demo cluster (and so may start its runs). */
  users: string[];
}

/** The dev deployment's Slack settings from the environment; undefined without a channel. */
export function devSlackFromEnv(env: NodeJS.ProcessEnv = process.env): DevSlack | undefined {
  const channel = env.TALOS_FLEET_SLACK_CHANNEL?.trim();
  if (!channel) return undefined;
  const users = (env.TALOS_FLEET_SLACK_USERS ?? '').split(/[\s,]+/).filter(Boolean);
  return { channel, users };
}

/**
 * Puts the channel and the users into the demo cluster's entry of the dev inventory (every start, so changing the
 * variables takes effect); the inventory's own validation then checks the ids.
 */
export function applyDevSlack(inventoryPath: string, cluster: string, slack: DevSlack): void {
  const doc = parse(readFileSync(inventoryPath, 'utf8')) as { clusters?: { name: string; slack?: unknown; policy?: { approvers?: string[] } }[] };
  const entry = doc.clusters?.find((c) => c.name === cluster);
  if (!entry) throw new FleetError('dev_inventory', `${inventoryPath} has no cluster ${cluster}`);
  entry.slack = { ...(entry.slack as object | undefined), channel: slack.channel };
  entry.policy = { ...entry.policy, approvers: [...new Set([...(entry.policy?.approvers ?? []), ...slack.users])] };
  writeFileSync(inventoryPath, `# The clusters this talos-fleet deployment manages (see README: Inventory).\n${stringify(doc)}`);
}
