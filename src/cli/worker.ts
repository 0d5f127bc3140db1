import type { Command } from 'commander';
import { runtimeSettings } from '../runtime/settings';
import { startFleetWorker } from '../runtime/worker';
import { untilSignal } from './signals';

interface WorkerOptions {
  inventory?: string;
  devDir?: string;
  taskQueue?: string;
  workflowBundle?: string;
  setCurrent?: boolean;
}

/** `talos-fleet worker`: runs the workflows and activities until SIGTERM/SIGINT, then drains and stops. */
export function registerWorker(program: Command): void {
  program
    .command('worker')
    .description('run a worker: the workflows and their activities against the Talos API (Temporal from TEMPORAL_* / temporal.toml)')
    .option('--inventory <path>', 'the inventory (default: $TALOS_FLEET_INVENTORY or ./fleet.yaml)')
    .option('--dev-dir <dir>', 'use the deployment of a running `talos-fleet dev` in DIR')
    .option('--task-queue <name>', 'task queue to poll (default: $TEMPORAL_TASK_QUEUE or talos-fleet)')
    .option('--workflow-bundle <file>', 'prebuilt workflow bundle (npm run build:workflows); bundled from source when absent')
    .option('--set-current', 'make this build the current version of the talos-fleet deployment (dev servers; production does this in its rollout)')
    .action(async (opts: WorkerOptions) => {
      const settings = runtimeSettings({ ...(opts.devDir ? { devDir: opts.devDir } : {}), ...(opts.inventory ? { inventory: opts.inventory } : {}), ...(opts.taskQueue ? { taskQueue: opts.taskQueue } : {}) });
      const worker = await startFleetWorker({ settings, ...(opts.workflowBundle ? { workflowBundlePath: opts.workflowBundle } : {}), setCurrentVersion: opts.setCurrent === true });
      process.stderr.write(`worker ready (build ${worker.buildId}); inventory ${settings.inventoryPath}\n`);
      const signal = await Promise.race([untilSignal(), worker.done.then(() => undefined)]);
      if (signal) process.stderr.write(`${signal}: finishing the tasks in hand, then stopping\n`);
      await worker.shutdown();
    });
}
