import type { Command } from 'commander';
import { FleetError } from '../errors';
import { loadInventory } from '../fleet/inventory';
import { abortRun, connectClient, decide, listRuns, runHandle, startMutatingRun } from '../runtime/runs';
import { runtimeSettings, runUrl, type RuntimeSettings } from '../runtime/settings';
import type { InstallClusterInput } from '../shared/install';
import type { MutatingOperation } from '../shared/names';
import type { GateChoice } from '../shared/runs';
import { followRun } from './follow';
import { actingUser, formatTable, printJson } from './output';

/** Options every verb that talks to Temporal takes. */
export interface RuntimeOptions {
  inventory?: string;
  devDir?: string;
  json?: boolean;
  as?: string;
}

/** Adds `--inventory`, `--dev-dir`, `--json` to a verb. */
export function withRuntimeOptions(cmd: Command): Command {
  return cmd
    .option('--inventory <path>', 'the inventory (default: $TALOS_FLEET_INVENTORY, the dev deployment\'s, or ./fleet.yaml)')
    .option('--dev-dir <dir>', 'where `talos-fleet dev` keeps its state (default: .dev)')
    .option('--json', 'print JSON');
}

/** Connects to Temporal with the settings of these options; the caller closes. */
export async function withClient<T>(opts: RuntimeOptions, fn: (client: Awaited<ReturnType<typeof connectClient>>['client'], settings: RuntimeSettings) => Promise<T>): Promise<T> {
  const settings = runtimeSettings({ ...(opts.devDir ? { devDir: opts.devDir } : {}), ...(opts.inventory ? { inventory: opts.inventory } : {}) });
  const { client, close } = await connectClient(settings);
  try {
    return await fn(client, settings);
  } finally {
    await close();
  }
}

/**
 * Starts a mutating operation of a cluster and, with `--wait`, follows it to its end. The cluster must be in the
 * inventory (an unknown cluster starts nothing); the exit code is non-zero when the run fails or is aborted.
 */
export async function startAndMaybeFollow(opts: RuntimeOptions & { wait?: boolean }, op: { operation: MutatingOperation; cluster: string; args: (requester: string, settings: RuntimeSettings) => unknown[]; summary: string }): Promise<void> {
  await withClient(opts, async (client, settings) => {
    loadInventory(settings.inventoryPath).cluster(op.cluster);
    const requester = actingUser(opts.as);
    const run = await startMutatingRun(client, settings, { operation: op.operation, cluster: op.cluster, requester, args: op.args(requester, settings), summary: op.summary });
    const url = runUrl(settings, run.workflowId, run.runId);
    if (opts.json && !opts.wait) {
      printJson({ id: run.ref, workflowId: run.workflowId, runId: run.runId, cluster: op.cluster, operation: op.operation, ...(url ? { url } : {}) });
      return;
    }
    if (!opts.json) {
      process.stderr.write(`started ${op.operation} of ${op.cluster}: run ${run.ref}\n${url ? `  ${url}\n` : ''}  approve: talos-fleet approve ${op.cluster} --as USER    follow: talos-fleet runs --cluster ${op.cluster}\n`);
    }
    if (!opts.wait) return;
    const outcome = await followRun(client, run.ref, { tty: !opts.json && process.stdout.isTTY === true, write: (t) => (opts.json ? undefined : process.stdout.write(t)) });
    if (opts.json) printJson({ id: run.ref, cluster: op.cluster, operation: op.operation, ...outcome });
    if (outcome.status !== 'completed') throw new FleetError(`run_${outcome.status}`, `${op.operation} of ${op.cluster} ${outcome.status}: ${outcome.error ?? ''}`);
    if (!opts.json) process.stdout.write(`${op.operation} of ${op.cluster} completed\n`);
  });
}

/** In the dev deployment, polls faster than on real machines so a demo does not idle. */
export function devTiming(settings: RuntimeSettings): { timing?: { pollIntervalMs: number; checkWindowMs: number } } {
  return settings.source === 'dev' ? { timing: { pollIntervalMs: 1_000, checkWindowMs: 10_000 } } : {};
}

async function answerGate(ref: string, choice: GateChoice, opts: RuntimeOptions & { gate?: string; reason?: string }): Promise<void> {
  if (!opts.as) throw new FleetError('missing_option', `say who you are with --as USER (an approver of the cluster)`);
  await withClient(opts, async (client) => {
    const result = await decide(client, ref, { choice, user: opts.as!, ...(opts.gate ? { gate: opts.gate } : {}), ...(opts.reason ? { reason: opts.reason } : {}) });
    if (opts.json) printJson(result);
    else process.stdout.write(`gate ${result.gate}: ${result.accepted} by ${opts.as}${result.closed ? '' : ' (more approvals needed)'}\n`);
  });
}

/** `talos-fleet install|approve|reject|decide|abort|runs`. */
export function registerRunVerbs(program: Command): void {
  withRuntimeOptions(program.command('install <cluster>').description('install a cluster from nodes in maintenance mode'))
    .option('--wait', 'follow the run until it ends; exit non-zero if it fails')
    .option('--as <user>', 'who starts the run (default: $TALOS_FLEET_USER or your login name)')
    .action(async (cluster: string, opts: RuntimeOptions & { wait?: boolean }) =>
      startAndMaybeFollow(opts, {
        operation: 'install',
        cluster,
        summary: `install ${cluster}`,
        args: (requester, settings): [InstallClusterInput] => [{ cluster, requester, ...devTiming(settings) }],
      }),
    );

  withRuntimeOptions(program.command('approve <run>').description('approve the open gate of a run (RUN: a cluster name or CLUSTER@RUNID)'))
    .requiredOption('--as <user>', 'your user id (an approver of the cluster)')
    .option('--gate <gate>', 'the gate you approve (refused if another one is open)')
    .option('--reason <text>', 'why')
    .action(async (run: string, opts: RuntimeOptions & { gate?: string; reason?: string }) => answerGate(run, 'approve', opts));

  withRuntimeOptions(program.command('reject <run>').description('reject the open gate of a run: the run stops'))
    .requiredOption('--as <user>', 'your user id (an approver of the cluster)')
    .option('--gate <gate>', 'the gate you reject')
    .option('--reason <text>', 'why')
    .action(async (run: string, opts: RuntimeOptions & { gate?: string; reason?: string }) => answerGate(run, 'reject', opts));

  withRuntimeOptions(program.command('decide <run> <choice>').description('answer a decision gate after a failure: retry, rollback, skip or abort'))
    .requiredOption('--as <user>', 'your user id (an approver of the cluster)')
    .option('--gate <gate>', 'the gate you answer')
    .option('--reason <text>', 'why')
    .action(async (run: string, choice: string, opts: RuntimeOptions & { gate?: string; reason?: string }) => {
      if (!['retry', 'rollback', 'skip', 'abort'].includes(choice)) throw new FleetError('invalid_choice', `"${choice}" is not a decision: use retry, rollback, skip or abort`);
      await answerGate(run, choice as GateChoice, opts);
    });

  withRuntimeOptions(program.command('abort <run>').description('stop a run at its next safe point (between nodes)'))
    .option('--as <user>', 'who aborts (the requester or an approver)')
    .option('--reason <text>', 'why')
    .action(async (run: string, opts: RuntimeOptions & { reason?: string }) =>
      withClient(opts, async (client) => {
        const message = await abortRun(client, run, actingUser(opts.as), opts.reason);
        if (opts.json) printJson({ run, message });
        else process.stdout.write(`${message}\n`);
      }),
    );

  withRuntimeOptions(program.command('runs').description('list runs, newest first'))
    .option('--cluster <cluster>', 'only this cluster\'s runs')
    .action(async (opts: RuntimeOptions & { cluster?: string }) =>
      withClient(opts, async (client) => {
        const runs = await listRuns(client, opts.cluster ? { cluster: opts.cluster } : {});
        if (opts.json) return printJson(runs);
        process.stdout.write(formatTable(['ID', 'CLUSTER', 'OPERATION', 'STATUS', 'REQUESTER', 'START', 'END'], runs.map((r) => [r.id, r.cluster, r.operation, r.status, r.requester ?? '', r.start, r.end ?? ''])));
      }),
    );

  withRuntimeOptions(program.command('watch <run>').description('follow a run until it ends'))
    .action(async (run: string, opts: RuntimeOptions) =>
      withClient(opts, async (client) => {
        runHandle(client, run);
        const outcome = await followRun(client, run, { tty: !opts.json && process.stdout.isTTY === true, write: (t) => (opts.json ? undefined : process.stdout.write(t)) });
        if (opts.json) printJson(outcome);
        if (outcome.status !== 'completed') throw new FleetError(`run_${outcome.status}`, `run ${run} ${outcome.status}: ${outcome.error ?? ''}`);
      }),
    );
}
