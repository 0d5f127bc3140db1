import type { Command } from 'commander';
import { listSnapshots } from '../backups/catalog';
import { clusterBackups } from '../backups/config';
import { FleetError } from '../errors';
import { loadInventory, resolveInventoryPath } from '../fleet/inventory';
import { startSideRun, type StartedRun } from '../runtime/runs';
import { runtimeSettings, runUrl, type RuntimeSettings } from '../runtime/settings';
import type { DrillClusterInput, RestoreClusterInput, SnapshotClusterInput } from '../shared/backups';
import type { Client } from '@temporalio/client';
import { followRun } from './follow';
import { actingUser, formatTable, printJson } from './output';
import { startAndMaybeFollow, withClient, withRuntimeOptions, type RuntimeOptions } from './runs';

/** In the dev deployment, polls faster than on real machines so a demo does not idle. */
function devTiming(settings: RuntimeSettings): { timing?: { pollIntervalMs: number; checkWindowMs: number } } {
  return settings.source === 'dev' ? { timing: { pollIntervalMs: 1_000, checkWindowMs: 10_000 } } : {};
}

/** Prints where a run started and, with `--wait`, follows it to its end (non-zero exit when it did not complete). */
async function report(client: Client, settings: RuntimeSettings, run: StartedRun, opts: RuntimeOptions & { wait?: boolean }, what: string): Promise<void> {
  const url = runUrl(settings, run.workflowId, run.runId);
  if (opts.json && !opts.wait) return printJson({ id: run.ref, workflowId: run.workflowId, runId: run.runId, ...(url ? { url } : {}) });
  if (!opts.json) process.stderr.write(`started ${what}: run ${run.ref}\n${url ? `  ${url}\n` : ''}`);
  if (!opts.wait) return;
  const outcome = await followRun(client, run.ref, { tty: !opts.json && process.stdout.isTTY === true, write: (t) => (opts.json ? undefined : process.stdout.write(t)) });
  if (opts.json) printJson({ id: run.ref, ...outcome });
  if (outcome.status !== 'completed') throw new FleetError(`run_${outcome.status}`, `${what} ${outcome.status}: ${outcome.error ?? ''}`);
  if (!opts.json) process.stdout.write(`${what} completed\n`);
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

/** `talos-fleet snapshot|snapshots|restore|drill`. */
export function registerBackupVerbs(program: Command): void {
  withRuntimeOptions(program.command('snapshot <cluster>').description('take an etcd snapshot of a cluster into its store, and verify it'))
    .option('--wait', 'follow the run (transfer progress on a terminal) until it ends; exit non-zero if it fails')
    .option('--as <user>', 'who takes it (default: $TALOS_FLEET_USER or your login name)')
    .action(async (cluster: string, opts: RuntimeOptions & { wait?: boolean }) =>
      withClient(opts, async (client, settings) => {
        clusterBackups(loadInventory(settings.inventoryPath), cluster);
        const requester = actingUser(opts.as);
        const input: SnapshotClusterInput = { cluster, requester, trigger: 'manual', ...devTiming(settings) };
        const run = await startSideRun(client, settings, { operation: 'snapshot', cluster, requester, args: [input], summary: `snapshot ${cluster}` });
        await report(client, settings, run, opts, `snapshot of ${cluster}`);
      }),
    );

  program
    .command('snapshots <cluster>')
    .description("list a cluster's snapshots, newest first, as its store holds them")
    .option('--inventory <path>', 'the inventory (default: $TALOS_FLEET_INVENTORY, the dev deployment\'s, or ./fleet.yaml)')
    .option('--dev-dir <dir>', 'where `talos-fleet dev` keeps its state (default: .dev)')
    .option('--json', 'print JSON (the metadata records)')
    .action(async (cluster: string, opts: RuntimeOptions) => {
      // Reads the store directly (credentials from the environment): no Temporal needed.
      const path = opts.inventory ? resolveInventoryPath(opts.inventory) : runtimeSettings({ ...(opts.devDir ? { devDir: opts.devDir } : {}) }).inventoryPath;
      const b = clusterBackups(loadInventory(path), cluster);
      const snapshots = await listSnapshots(b.store, cluster);
      if (opts.json) return printJson(snapshots);
      if (!snapshots.length) return void process.stdout.write(`cluster ${cluster} has no snapshots in ${b.store.url}\n`);
      process.stdout.write(
        formatTable(
          ['ID', 'TAKEN', 'FROM', 'SIZE', 'STORED', 'KEYS', 'STATUS', 'DRILL', 'BY'],
          snapshots.map((s) => [s.id, s.takenAt, s.node, mib(s.bytes), mib(s.storedBytes), String(s.content?.keys ?? ''), s.verification.status, s.drill ? (s.drill.ok ? `ok ${s.drill.at}` : 'FAILED') : '', `${s.trigger}:${s.requester}`]),
        ),
      );
    });

  withRuntimeOptions(program.command('restore <cluster>').description('disaster recovery: rebuild etcd on every control plane from a snapshot (destructive; gated)'))
    .requiredOption('--from <id>', 'a snapshot id (`talos-fleet snapshots CLUSTER`), or latest (the newest verified one)')
    .option('--allow-unverified', 'restore a snapshot that is not verified (it is still checked before anything is reset)')
    .option('--wait', 'follow the run until it ends; exit non-zero if it fails')
    .option('--as <user>', 'who starts the run (default: $TALOS_FLEET_USER or your login name)')
    .action(async (cluster: string, opts: RuntimeOptions & { wait?: boolean; from: string; allowUnverified?: boolean }) =>
      startAndMaybeFollow(opts, {
        operation: 'restore',
        cluster,
        summary: `restore ${cluster} from ${opts.from}`,
        args: (requester, settings): [RestoreClusterInput] => [{ cluster, requester, from: opts.from, ...(opts.allowUnverified ? { allowUnverified: true } : {}), ...devTiming(settings) }],
      }),
    );

  withRuntimeOptions(program.command('drill <cluster>').description('restore the newest verified snapshot into a throwaway etcd and check what it holds'))
    .option('--snapshot <id>', 'drill this snapshot instead of the newest verified one')
    .option('--wait', 'follow the run until it ends; exit non-zero if the drill fails')
    .option('--as <user>', 'who starts it (default: $TALOS_FLEET_USER or your login name)')
    .action(async (cluster: string, opts: RuntimeOptions & { wait?: boolean; snapshot?: string }) =>
      withClient(opts, async (client, settings) => {
        clusterBackups(loadInventory(settings.inventoryPath), cluster);
        const requester = actingUser(opts.as);
        const input: DrillClusterInput = { cluster, requester, ...(opts.snapshot ? { snapshot: opts.snapshot } : {}), ...devTiming(settings) };
        const run = await startSideRun(client, settings, { operation: 'drill', cluster, requester, args: [input], summary: `drill ${cluster}` });
        await report(client, settings, run, opts, `drill of ${cluster}`);
      }),
    );
}
