import type { Command } from 'commander';
import { loadInventory } from '../fleet/inventory';
import { reconcileSchedules, scheduleId, scheduleStatuses, setPaused } from '../triggers/schedules';
import { actingUser, formatTable, printJson } from './output';
import { withClient, withRuntimeOptions, type RuntimeOptions } from './runs';

/** `talos-fleet schedules sync|list|pause|unpause`: the Temporal Schedules of snapshots and drills. */
export function registerSchedules(program: Command): void {
  const schedules = program.command('schedules').description("the inventory's snapshot and drill schedules (Temporal Schedules)");

  withRuntimeOptions(schedules.command('sync').description('create, update and delete schedules to match the inventory (the worker does this when it starts)')).action(async (opts: RuntimeOptions) =>
    withClient(opts, async (client, settings) => {
      const r = await reconcileSchedules(client, loadInventory(settings.inventoryPath), settings.taskQueue);
      if (opts.json) return printJson(r);
      const lines = [...r.created.map((id) => `created   ${id}`), ...r.updated.map((id) => `updated   ${id}`), ...r.deleted.map((id) => `deleted   ${id}`), ...r.unchanged.map((id) => `unchanged ${id}`)];
      process.stdout.write(lines.length ? `${lines.join('\n')}\n` : 'the inventory names no schedules\n');
    }),
  );

  withRuntimeOptions(schedules.command('list').description("the inventory's schedules as Temporal has them: paused or not, next and recent runs")).action(async (opts: RuntimeOptions) =>
    withClient(opts, async (client, settings) => {
      const statuses = await scheduleStatuses(client, loadInventory(settings.inventoryPath));
      if (opts.json) return printJson(statuses);
      process.stdout.write(
        formatTable(
          ['NAME', 'CRON', 'STATE', 'NEXT', 'LAST RUN', 'NOTE'],
          statuses.map((s) => [s.id.replace(/^talos-fleet\//, ''), s.cron, s.paused ? 'paused' : 'active', s.nextRuns[0] ?? '', s.recentRuns.at(-1)?.scheduledAt ?? '', s.note ?? '']),
        ),
      );
    }),
  );

  for (const [verb, paused] of [
    ['pause', true],
    ['unpause', false],
  ] as const) {
    withRuntimeOptions(schedules.command(`${verb} <name>`).description(`${verb} a schedule (NAME: CLUSTER/snapshot or CLUSTER/drill); kept across syncs`))
      .option('--as <user>', 'who (recorded in the schedule\'s note)')
      .option('--reason <text>', 'why')
      .action(async (name: string, opts: RuntimeOptions & { reason?: string }) =>
        withClient(opts, async (client) => {
          const note = `${verb}d by ${actingUser(opts.as)}${opts.reason ? `: ${opts.reason}` : ''}`;
          await setPaused(client, name, paused, note);
          if (opts.json) printJson({ schedule: scheduleId(name), paused, note });
          else process.stdout.write(`${scheduleId(name)}: ${note}\n`);
        }),
      );
  }
}
