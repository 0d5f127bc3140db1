import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { applyActivities } from '../activities/apply';
import { LogNotifier } from '../activities/notify';
import { parsePatch } from '../config/patches';
import { FleetError } from '../errors';
import { FleetConnector } from '../fleet/connect';
import { loadInventory } from '../fleet/inventory';
import { runtimeSettings } from '../runtime/settings';
import type { ApplyConfigInput } from '../shared/upgrade';
import { printJson } from './output';
import { devTiming, startAndMaybeFollow, withRuntimeOptions, type RuntimeOptions } from './runs';

/** What looks like key material: a rollout's patches go into its history, so they must not carry any. */
const SECRET_LOOKING = /-----BEGIN [A-Z ]+-----|LS0tLS1CRUdJT|\b[0-9a-z]{6}\.[0-9a-z]{16}\b/;

/** `--patch` values as patch text: `@file` is read, anything else is the patch itself; each is checked now. */
function patchTexts(specs: string[]): string[] {
  return specs.map((spec) => {
    const text = spec.startsWith('@') ? readFileSync(resolve(spec.slice(1)), 'utf8') : spec;
    parsePatch(text, spec.startsWith('@') ? spec.slice(1) : 'inline patch');
    if (SECRET_LOOKING.test(text)) {
      throw new FleetError('secret_in_patch', `patch ${spec} looks like it holds key material or a token; a rollout's patches are kept in its history, so put secrets in the inventory's patch files instead`);
    }
    return text;
  });
}

const collect = (value: string, previous: string[]) => [...previous, value];
const nodeList = (value: string) => value.split(',').map((n) => n.trim()).filter(Boolean);

/** `talos-fleet plan apply` and `talos-fleet apply`. */
export function registerApply(program: Command): void {
  const plan = program.commands.find((c) => c.name() === 'plan') ?? program.command('plan').description('show what an operation would do, changing nothing');
  withRuntimeOptions(plan.command('apply <cluster>').description('show each node\'s config changes (secrets hidden) and whether they need a reboot'))
    .option('--patch <patch>', 'an extra patch for this rollout (inline, or @file); repeatable', collect, [])
    .option('--nodes <names>', 'only these nodes (comma-separated)', nodeList)
    .action(async (cluster: string, opts: RuntimeOptions & { patch: string[]; nodes?: string[] }) => {
      const inv = loadInventory(runtimeSettings({ ...(opts.devDir ? { devDir: opts.devDir } : {}), ...(opts.inventory ? { inventory: opts.inventory } : {}) }).inventoryPath);
      const connector = new FleetConnector(() => inv);
      try {
        const planned = await applyActivities({ inventory: () => inv, connector, notifier: new LogNotifier() }).planConfigRollout({ cluster, patches: patchTexts(opts.patch), ...(opts.nodes ? { nodes: opts.nodes } : {}) });
        if (opts.json) return printJson(planned);
        if (!planned.nodes.length) return void process.stdout.write(`every node of ${cluster} already runs its config: nothing to do\n`);
        for (const n of planned.nodes) process.stdout.write(`${n.node} (${n.reboot ? 'reboot' : 'live'}):\n${n.changes.map((c) => `  ${c}`).join('\n')}\n`);
        if (planned.upToDate.length) process.stdout.write(`unchanged: ${planned.upToDate.join(', ')}\n`);
      } finally {
        connector.close();
      }
    });

  withRuntimeOptions(program.command('apply <cluster>').description('roll the inventory\'s machine configs (plus patches) out, node by node, with the reboots they need'))
    .option('--patch <patch>', 'an extra patch for this rollout (inline, or @file); repeatable', collect, [])
    .option('--nodes <names>', 'only these nodes (comma-separated)', nodeList)
    .option('--wait', 'follow the run until it ends; exit non-zero if it fails')
    .option('--as <user>', 'who starts the run (default: $TALOS_FLEET_USER or your login name)')
    .action(async (cluster: string, opts: RuntimeOptions & { patch: string[]; nodes?: string[]; wait?: boolean }) => {
      const patches = patchTexts(opts.patch);
      await startAndMaybeFollow(opts, {
        operation: 'apply',
        cluster,
        summary: `apply configs to ${cluster}`,
        args: (requester, settings): [ApplyConfigInput] => [{ cluster, requester, ...(patches.length ? { patches } : {}), ...(opts.nodes ? { nodes: opts.nodes } : {}), ...devTiming(settings) }],
      });
    });
}
