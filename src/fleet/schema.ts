import { isIP } from 'node:net';
import { z } from 'zod';
import { parseGoDuration } from '../config/duration';
import { clusterEndpointProblems } from '../config/endpoint';
import type { Problem } from '../errors';
import { isAgeRecipient, storeUrlProblem } from '../backups/names';

/**
 * The schema of the inventory (`fleet.yaml`): the clusters a deployment manages, their nodes, where their key
 * material lives, and their policies. Pure: validation only, no file access (see inventory.ts for that).
 */

const NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const TALOS_VERSION = /^v\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/;
const KUBERNETES_VERSION = /^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/;

/** A Go duration (`90s`, `1h30m`) as milliseconds; zero or negative is refused. */
const duration = z.string().transform((text, ctx) => {
  try {
    const ms = parseGoDuration(text);
    if (ms > 0) return ms;
    ctx.addIssue({ code: 'custom', message: `"${text}" must be longer than zero` });
  } catch {
    ctx.addIssue({ code: 'custom', message: `"${text}" is not a duration such as 90s, 15m or 1h30m` });
  }
  return z.NEVER;
});

/** Patch specs as `talosctl gen config --config-patch` takes them: inline YAML/JSON, or `@file` (relative to fleet.yaml). */
const patches = z.array(z.string().min(1, 'an empty patch')).default([]);

const node = z
  .object({
    name: z.string().regex(NAME, 'must be lowercase letters, digits and "-" (a DNS label)'),
    address: z.string().refine((a) => isIP(a) !== 0, 'not an IP address'),
    role: z.enum(['controlplane', 'worker']),
    /** The node's hostname; its name when omitted. */
    hostname: z.string().regex(NAME, 'must be a DNS label').optional(),
    installDisk: z.string().startsWith('/dev/', 'must be a device path such as /dev/sda').default('/dev/sda'),
    /** Talos API port (50000). */
    port: z.number().int().min(1).max(65535).default(50000),
    /** SPKI fingerprints of the node's maintenance-mode certificate (the console shows it); unverified when absent. */
    maintenanceFingerprints: z.array(z.string()).default([]),
    patches,
  })
  .strict();

const gateNames = z.array(z.enum(['start', 'hop', 'canary', 'workers', 'restore'])).default([]);

const policy = z
  .object({
    approvers: z.array(z.string().min(1)).default([]),
    allowSelfApproval: z.boolean().default(false),
    /** Approval gates per operation. */
    gates: z
      .object({ install: gateNames, upgrade: gateNames, 'upgrade-k8s': gateNames, apply: gateNames, restore: gateNames })
      .strict()
      .default({ install: ['start'], upgrade: ['start'], 'upgrade-k8s': ['start'], apply: ['start'], restore: ['start'] }),
    /** Distinct approvers per operation's approval gates (default 1). */
    requiredApprovals: z.object({ restore: z.number().int().min(1).max(5).default(1) }).strict().default({ restore: 1 }),
    approvalTimeout: duration.default(3_600_000),
    onApprovalTimeout: z.enum(['hold', 'abort']).default('hold'),
    reminderEvery: duration.default(15 * 60_000),
    workerBatchSize: z.number().int().min(1).default(1),
    /** How upgrades cross minors: through every intermediate minor (upstream's advice) or as few hops as installers allow. */
    upgradePath: z.enum(['every-minor', 'fewest-hops']).default('every-minor'),
    /** Upgrades start from a fresh verified etcd snapshot (needs a `backups` block); false skips it knowingly. */
    snapshotBeforeUpgrade: z.boolean().default(true),
    canaryCount: z.number().int().min(0).default(1),
    soak: duration.optional(),
  })
  .strict();

/** A cron expression as Temporal Schedules take it: five fields, or a shorthand such as `@daily`. */
const cron = z.string().refine((c) => /^@(yearly|annually|monthly|weekly|daily|midnight|hourly)$/.test(c.trim()) || c.trim().split(/\s+/).length === 5, 'must be a cron expression with five fields ("0 */6 * * *") or @daily, @hourly, ...');

/** Where a cluster's etcd snapshots go, to whom they are encrypted, when they are taken, and how long they are kept. */
const backups = z
  .object({
    /** `file:///dir` or `s3://bucket/prefix?endpoint=https://host&region=r` (credentials from the environment or AWS files). */
    store: z.string().superRefine((url, ctx) => {
      const problem = storeUrlProblem(url);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }),
    /** age X25519 recipients (`age1...`, public keys) every snapshot is encrypted to. */
    recipients: z.array(z.string().refine(isAgeRecipient, 'must be an age X25519 recipient (age1... as age-keygen prints)')).min(1, 'at least one age recipient'),
    /** The age identity file (relative to fleet.yaml, mode 0600) that verification, drills and restores decrypt with. */
    identity: z.string().min(1),
    compression: z.enum(['none', 'zstd']).default('none'),
    /** A talosconfig with only the `os:etcd:backup` role, used for EtcdSnapshot; the admin one when absent. */
    talosconfig: z.string().min(1).optional(),
    /** When scheduled snapshots run (a Temporal Schedule, reconciled by the worker and `schedules sync`). */
    schedule: cron.optional(),
    /** How late a missed scheduled run may still start (after a Temporal outage); later ones are skipped. */
    catchupWindow: duration.default(10 * 60_000),
    /** The time zone the cron expressions are in. */
    timezone: z.string().default('UTC'),
    retention: z
      .object({
        keepLast: z.number().int().min(1).default(3),
        daily: z.number().int().min(0).default(7),
        weekly: z.number().int().min(0).default(4),
        monthly: z.number().int().min(0).default(6),
      })
      .strict()
      .default({ keepLast: 3, daily: 7, weekly: 4, monthly: 6 }),
    /** Notify when the newest verified snapshot is older than this. */
    staleAfter: duration.default(26 * 3_600_000),
    /** A scheduled restore drill of the newest verified snapshot into a throwaway etcd. */
    drill: z.object({ schedule: cron }).strict().optional(),
  })
  .strict();

/** Slack user ids (`U…`, `W…` on Enterprise Grid) and user group ids (`S…`), as Slack shows them in a profile. */
const SLACK_USER = /^[UW][A-Z0-9]{2,}$/;
const SLACK_GROUP = /^S[A-Z0-9]{2,}$/;

/** Who may start one operation from Slack: users and user groups (the cluster's approvers always may). */
const slackAllowed = z
  .object({
    users: z.array(z.string().regex(SLACK_USER, 'must be a Slack user id such as U0123ABCD (profile → ⋮ → Copy member ID)')).default([]),
    groups: z.array(z.string().regex(SLACK_GROUP, 'must be a Slack user group id such as S0123ABCD')).default([]),
  })
  .strict();

/** Operations a Slack command can start (who may abort a run is the workflow's rule: its requester and the approvers). */
export const SLACK_OPERATIONS = ['install', 'upgrade', 'upgrade-k8s', 'snapshot', 'restore'] as const;

/** The cluster in Slack: where its runs are posted, and who may start what there (approvals stay `policy.approvers`). */
const slack = z
  .object({
    /** Channel id (`C…`, or `G…` for an old private channel) where each run's message and thread go; invite the bot there. */
    channel: z.string().regex(/^[CG][A-Z0-9]{2,}$/, 'must be a Slack channel id such as C0123ABCD (channel details → bottom of About)'),
    /** Who may start each operation from Slack, besides the cluster's approvers. */
    start: z
      .object(Object.fromEntries(SLACK_OPERATIONS.map((op) => [op, slackAllowed.optional()])) as Record<(typeof SLACK_OPERATIONS)[number], z.ZodOptional<typeof slackAllowed>>)
      .strict()
      .default({}),
  })
  .strict();

const cluster = z
  .object({
    name: z.string().regex(NAME, 'must be lowercase letters, digits and "-" (a DNS label)'),
    /** Kubernetes API endpoint, `https://host:port`. */
    endpoint: z.string(),
    talosVersion: z.string().regex(TALOS_VERSION, 'must be a Talos version such as v1.10.9'),
    kubernetesVersion: z.string().regex(KUBERNETES_VERSION, 'must be a Kubernetes version such as 1.33.6').optional(),
    /** Installer image; `ghcr.io/siderolabs/installer:<talosVersion>` when omitted. */
    installImage: z.string().optional(),
    /** The secrets bundle (`talosctl gen secrets` layout), relative to fleet.yaml. */
    secrets: z.string().min(1),
    /** An admin talosconfig for the cluster, relative to fleet.yaml. */
    talosconfig: z.string().min(1),
    /** Where install stores the admin kubeconfig (mode 0600); `<name>/kubeconfig` beside fleet.yaml by default. */
    kubeconfig: z.string().min(1).optional(),
    patches: z.object({ all: patches, controlplane: patches, worker: patches }).strict().default({ all: [], controlplane: [], worker: [] }),
    nodes: z.array(node).min(1, 'a cluster needs at least one node'),
    policy: policy.default(policy.parse({})),
    /** etcd snapshots of this cluster; none are taken when absent. */
    backups: backups.optional(),
    /** The cluster's Slack channel and who may start operations from Slack; no Slack for the cluster when absent. */
    slack: slack.optional(),
  })
  .strict();

export const inventorySchema = z
  .object({
    clusters: z.array(cluster),
  })
  .strict()
  .superRefine((inv, ctx) => {
    for (const p of crossChecks(inv)) ctx.addIssue({ code: 'custom', path: p.path, message: p.message });
  });

export type Inventory = z.output<typeof inventorySchema>;
export type ClusterSpec = Inventory['clusters'][number];
export type NodeSpec = ClusterSpec['nodes'][number];
export type ClusterPolicy = ClusterSpec['policy'];
export type BackupsSpec = NonNullable<ClusterSpec['backups']>;
export type ClusterSlack = NonNullable<ClusterSpec['slack']>;
export type SlackOperation = (typeof SLACK_OPERATIONS)[number];

/** Checks that span fields: unique names and addresses, a control plane per cluster, the endpoint, approvers. */
function crossChecks(inv: { clusters: z.output<typeof cluster>[] }): { path: (string | number)[]; message: string }[] {
  const out: { path: (string | number)[]; message: string }[] = [];
  const clusterNames = new Map<string, number>();
  const addresses = new Map<string, string>();
  inv.clusters.forEach((c, ci) => {
    const at = (...rest: (string | number)[]) => ['clusters', ci, ...rest];
    if (clusterNames.has(c.name)) out.push({ path: at('name'), message: `"${c.name}" is already the name of clusters[${clusterNames.get(c.name)}]` });
    clusterNames.set(c.name, ci);
    for (const p of clusterEndpointProblems(c.endpoint, 'endpoint', { requirePort: true })) out.push({ path: at('endpoint'), message: p.message });
    if (!c.nodes.some((n) => n.role === 'controlplane')) out.push({ path: at('nodes'), message: 'a cluster needs at least one controlplane node' });
    const nodeNames = new Set<string>();
    c.nodes.forEach((n, ni) => {
      if (nodeNames.has(n.name)) out.push({ path: at('nodes', ni, 'name'), message: `"${n.name}" is used by another node of this cluster` });
      nodeNames.add(n.name);
      const owner = addresses.get(n.address);
      if (owner) out.push({ path: at('nodes', ni, 'address'), message: `${n.address} is already the address of ${owner}` });
      addresses.set(n.address, `${c.name}/${n.name}`);
    });
    const gated = Object.values(c.policy.gates).some((g) => g.length > 0);
    if (gated && c.policy.approvers.length === 0) {
      out.push({ path: at('policy', 'approvers'), message: 'gates need at least one approver (or set every gate list to [])' });
    }
    const need = c.policy.requiredApprovals.restore;
    const eligible = c.policy.approvers.length;
    if (c.policy.gates.restore.length > 0 && eligible > 0 && need > eligible) {
      out.push({ path: at('policy', 'requiredApprovals', 'restore'), message: `${need} distinct approvers are required but only ${eligible} are listed` });
    }
  });
  return out;
}

/** `clusters[1].nodes[2].address` from a zod issue path. */
export function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((out, key) => (typeof key === 'number' ? `${out}[${key}]` : out ? `${out}.${String(key)}` : String(key)), '');
}

/** Validates parsed YAML against the schema: the inventory, or every problem with its path. */
export function validateInventory(data: unknown): { inventory: Inventory; problems?: undefined } | { problems: Problem[]; inventory?: undefined } {
  const result = inventorySchema.safeParse(data);
  if (result.success) return { inventory: result.data };
  return { problems: result.error.issues.map((i) => ({ path: formatPath(i.path), message: issueMessage(i) })) };
}

function issueMessage(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') return `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
  if (issue.code === 'invalid_type' && issue.input === undefined) return 'is required';
  return issue.message;
}
