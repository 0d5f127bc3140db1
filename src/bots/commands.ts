/**
 * What a slash command asks for, parsed from its text: pure, so every bad input gets a message that says what is
 * wrong and how to write it right, before anything is looked up or started.
 */

/** A request from Slack. */
export type Intent =
  | { kind: 'start'; operation: 'install' | 'upgrade' | 'upgrade-k8s' | 'snapshot'; cluster: string; version?: string }
  | { kind: 'restore'; cluster: string; snapshot?: string }
  | { kind: 'status'; cluster?: string }
  | { kind: 'runs'; cluster?: string }
  | { kind: 'plan-upgrade'; cluster: string; version: string }
  | { kind: 'abort'; run: string }
  | { kind: 'help' };

/** A command that could not be understood, and how to write it. */
export interface Misunderstood {
  error: string;
}

const CLUSTER = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const TALOS_VERSION = /^v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/;
const K8S_VERSION = /^v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/;
const RUN = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\/[a-z]+)?(@[0-9a-f-]{8,})?$/;
const SNAPSHOT = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,200}$/;

/** Every command and `/fleet` subcommand with its syntax, as `/fleet help` shows it. */
export const USAGE: Record<string, string> = {
  '/upgrade': '`/upgrade CLUSTER [VERSION]`: rolling Talos upgrade (no version: the inventory\'s `talosVersion`), e.g. `/upgrade prod v1.11.5`',
  '/upgrade-k8s': '`/upgrade-k8s CLUSTER VERSION`: Kubernetes upgrade, e.g. `/upgrade-k8s prod 1.34.2`',
  '/snapshot': '`/snapshot CLUSTER`: an etcd snapshot now',
  '/restore': '`/restore CLUSTER [SNAPSHOT]`: restore etcd from a snapshot (the latest when none is named); asks you to confirm first',
  'status': '`/fleet status [CLUSTER]`: each cluster and its current or last run',
  'runs': '`/fleet runs [CLUSTER]`: the latest runs',
  'plan': '`/fleet plan upgrade CLUSTER VERSION`: what an upgrade would do, without starting it',
  'install': '`/fleet install CLUSTER`: install a cluster whose nodes wait in maintenance mode',
  'abort': '`/fleet abort RUN`: stop a run at its next safe point (RUN: a cluster name or `CLUSTER@RUNID`); asks you to confirm first',
  'help': '`/fleet help`: this list',
};

function words(text: string): string[] {
  return text.trim().split(/\s+/).filter(Boolean);
}

function cluster(name: string | undefined, usage: string): string | Misunderstood {
  if (!name) return { error: `Which cluster? ${usage}` };
  const lower = name.toLowerCase();
  if (!CLUSTER.test(lower)) return { error: `\`${name}\` is not a cluster name (lowercase letters, digits and "-"). ${usage}` };
  return lower;
}

function tooMany(extra: string[], usage: string): Misunderstood | undefined {
  return extra.length ? { error: `Unexpected \`${extra.join(' ')}\`. ${usage}` } : undefined;
}

function talosVersion(v: string, usage: string): string | Misunderstood {
  if (!TALOS_VERSION.test(v)) return { error: `\`${v}\` is not a Talos version such as v1.11.5. ${usage}` };
  return v.startsWith('v') ? v : `v${v}`;
}

function kubernetesVersion(v: string, usage: string): string | Misunderstood {
  if (!K8S_VERSION.test(v)) return { error: `\`${v}\` is not a Kubernetes version such as 1.34.2. ${usage}` };
  return v.replace(/^v/, '');
}

const isError = (x: unknown): x is Misunderstood => typeof x === 'object' && x !== null && 'error' in x;

/** Parses a slash command (`/upgrade`, `/upgrade-k8s`, `/snapshot`, `/restore`, `/fleet`) and its text. */
export function parseCommand(command: string, text: string): Intent | Misunderstood {
  const [first, second, third, ...rest] = words(text);
  switch (command) {
    case '/upgrade': {
      const usage = `Write it as ${USAGE['/upgrade']}.`;
      const c = cluster(first, usage);
      if (isError(c)) return c;
      const extra = tooMany([third, ...rest].filter((x): x is string => !!x), usage);
      if (extra) return extra;
      if (!second) return { kind: 'start', operation: 'upgrade', cluster: c };
      const v = talosVersion(second, usage);
      return isError(v) ? v : { kind: 'start', operation: 'upgrade', cluster: c, version: v };
    }
    case '/upgrade-k8s': {
      const usage = `Write it as ${USAGE['/upgrade-k8s']}.`;
      const c = cluster(first, usage);
      if (isError(c)) return c;
      if (!second) return { error: `Which Kubernetes version? ${usage}` };
      const extra = tooMany([third, ...rest].filter((x): x is string => !!x), usage);
      if (extra) return extra;
      const v = kubernetesVersion(second, usage);
      return isError(v) ? v : { kind: 'start', operation: 'upgrade-k8s', cluster: c, version: v };
    }
    case '/snapshot': {
      const usage = `Write it as ${USAGE['/snapshot']}.`;
      const c = cluster(first, usage);
      if (isError(c)) return c;
      return tooMany([second, third, ...rest].filter((x): x is string => !!x), usage) ?? { kind: 'start', operation: 'snapshot', cluster: c };
    }
    case '/restore': {
      const usage = `Write it as ${USAGE['/restore']}.`;
      const c = cluster(first, usage);
      if (isError(c)) return c;
      const extra = tooMany([third, ...rest].filter((x): x is string => !!x), usage);
      if (extra) return extra;
      if (second && !SNAPSHOT.test(second)) return { error: `\`${second}\` is not a snapshot id (as \`talos-fleet\` lists them). ${usage}` };
      return { kind: 'restore', cluster: c, ...(second ? { snapshot: second } : {}) };
    }
    case '/fleet':
      return parseFleet(first, [second, third, ...rest].filter((x): x is string => !!x));
    default:
      return { error: `\`${command}\` is not a talos-fleet command. Try \`/fleet help\`.` };
  }
}

function parseFleet(sub: string | undefined, args: string[]): Intent | Misunderstood {
  const usage = (key: string) => `Write it as ${USAGE[key]}.`;
  switch (sub?.toLowerCase()) {
    case undefined:
    case 'help':
      return { kind: 'help' };
    case 'status':
    case 'runs': {
      const kind = sub.toLowerCase() as 'status' | 'runs';
      if (args.length > 1) return { error: `Unexpected \`${args.slice(1).join(' ')}\`. ${usage(kind)}` };
      if (!args[0]) return { kind };
      const c = cluster(args[0], usage(kind));
      return isError(c) ? c : { kind, cluster: c };
    }
    case 'install': {
      const c = cluster(args[0], usage('install'));
      if (isError(c)) return c;
      return tooMany(args.slice(1), usage('install')) ?? { kind: 'start', operation: 'install', cluster: c };
    }
    case 'plan': {
      if (args[0]?.toLowerCase() !== 'upgrade') return { error: `Only upgrades can be planned. ${usage('plan')}` };
      const c = cluster(args[1], usage('plan'));
      if (isError(c)) return c;
      if (!args[2]) return { error: `Which version? ${usage('plan')}` };
      const extra = tooMany(args.slice(3), usage('plan'));
      if (extra) return extra;
      const v = talosVersion(args[2], usage('plan'));
      return isError(v) ? v : { kind: 'plan-upgrade', cluster: c, version: v };
    }
    case 'abort': {
      if (!args[0]) return { error: `Which run? ${usage('abort')}` };
      if (!RUN.test(args[0])) return { error: `\`${args[0]}\` is not a run. ${usage('abort')}` };
      return tooMany(args.slice(1), usage('abort')) ?? { kind: 'abort', run: args[0] };
    }
    default:
      return { error: `\`/fleet ${sub}\` is not a subcommand. The subcommands: ${['status', 'runs', 'plan', 'install', 'abort', 'help'].map((s) => `\`${s}\``).join(', ')}; see \`/fleet help\`.` };
  }
}

/** `/fleet help`: every command. */
export function helpText(): string {
  return ['*talos-fleet commands*', ...Object.values(USAGE).map((u) => `• ${u}`), 'Runs post their progress in the cluster\'s channel; gates are answered with the buttons there.'].join('\n');
}
