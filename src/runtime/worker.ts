import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, Worker, type WorkflowBundle } from '@temporalio/worker';
import { createActivities } from '../activities';
import type { Notifier } from '../activities/notify';
import { notifiersFromEnv } from '../bots/notifiers';
import { FleetConnector } from '../fleet/connect';
import { inventorySource } from '../fleet/source';
import { FleetError } from '../errors';
import { DEPLOYMENT_NAME } from '../shared/names';
import { runningMutation } from './runs';
import { loadInventory } from '../fleet/inventory';
import { reconcileSchedules } from '../triggers/schedules';
import type { BackupTimings } from '../shared/backups';
import type { RuntimeSettings } from './settings';
import { delay } from '../time';

/** The workflow code the worker runs: a prebuilt bundle file, or bundled now from the sources. */
export async function loadWorkflowBundle(codePath?: string): Promise<{ code: string }> {
  if (codePath) return { code: readFileSync(codePath, 'utf8') };
  const bundle = await bundleWorkflowCode({ workflowsPath: require.resolve('../workflows'), logger: quietLogger });
  return { code: bundle.code };
}

const quietLogger = { log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: (m: string) => process.stderr.write(`${m}\n`) };

function gitCommit(): string | undefined {
  if (process.env.TALOS_FLEET_COMMIT) return process.env.TALOS_FLEET_COMMIT;
  try {
    return execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: join(__dirname, '..', '..'), stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  } catch {
    return undefined;
  }
}

/**
 * The Worker Deployment build id: the package version, the commit, and a hash of the workflow code itself, so two
 * builds with different workflow code never share an id (a PINNED run must replay on the code it started with),
 * while the long-lived and the serverless worker of the same code do.
 */
export function buildIdFor(bundle: WorkflowBundle & { code: string }): string {
  const version = (JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version;
  const code = createHash('sha256').update(bundle.code).digest('hex').slice(0, 10);
  return `${version}+${gitCommit() ?? 'nogit'}.${code}`;
}

export interface FleetWorkerOptions {
  settings: RuntimeSettings;
  /** Prebuilt workflow bundle (`npm run build:workflows`); bundled from source when absent. */
  workflowBundlePath?: string;
  /** Where notifications go; the log, plus Slack when its bot token is in the environment, by default. */
  notifier?: Notifier;
  /** How long to keep trying to reach Temporal at start (a worker may start before its server). */
  connectTimeoutMs?: number;
  /** Makes this build the deployment's current version once it polls (the dev server and tests; production decides this itself). */
  setCurrentVersion?: boolean;
  log?: (line: string) => void;
  /** Reconcile the inventory's Temporal Schedules (snapshots, drills) once started (default: yes). */
  reconcileSchedules?: boolean;
  /** Timings the scheduled runs get (tests pass short ones). */
  scheduleTiming?: Partial<BackupTimings>;
}

/** A running worker and how to stop it. */
export interface FleetWorker {
  worker: Worker;
  buildId: string;
  /** Resolves when the worker has stopped (after `shutdown()` or a fatal error). */
  done: Promise<void>;
  shutdown(): Promise<void>;
}

/**
 * Starts a worker for the fleet's workflows and activities on the configured task queue, as a version of the
 * `talos-fleet` Worker Deployment (every workflow is PINNED to the build it started on).
 */
export async function startFleetWorker(opts: FleetWorkerOptions): Promise<FleetWorker> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const { settings } = opts;
  const bundle = await loadWorkflowBundle(opts.workflowBundlePath);
  const buildId = buildIdFor(bundle);
  const connector = new FleetConnector(inventorySource(settings.inventoryPath));
  const connection = await connectWithRetry(settings, opts.connectTimeoutMs ?? 60_000, log);
  // A client of our own for the activities that look at other runs (a scheduled snapshot skips a running restore).
  const clientConnection = await Connection.connect(settings.connection);
  const client = new Client({ connection: clientConnection, namespace: settings.namespace });
  const worker = await Worker.create({
    connection,
    namespace: settings.namespace,
    taskQueue: settings.taskQueue,
    workflowBundle: bundle,
    activities: createActivities({ inventory: inventorySource(settings.inventoryPath), connector, notifier: opts.notifier ?? notifiersFromEnv(settings), runningMutation: (cluster) => runningMutation(client, cluster) }),
    workerDeploymentOptions: { useWorkerVersioning: true, version: { deploymentName: DEPLOYMENT_NAME, buildId }, defaultVersioningBehavior: 'PINNED' },
    shutdownGraceTime: '10s',
  });
  const done = worker.run().finally(async () => {
    connector.close();
    await connection.close();
    await clientConnection.close();
  });
  log(`worker ${buildId} polls task queue ${settings.taskQueue} in namespace ${settings.namespace}`);
  if (opts.setCurrentVersion) await makeCurrentVersion(settings, buildId);
  if (opts.reconcileSchedules !== false) {
    // A bad schedule in the inventory must not keep the worker from running the operations already under way.
    try {
      const r = await reconcileSchedules(client, loadInventory(settings.inventoryPath), settings.taskQueue, opts.scheduleTiming ? { timing: opts.scheduleTiming } : {});
      const changed = [...r.created.map((id) => `created ${id}`), ...r.updated.map((id) => `updated ${id}`), ...r.deleted.map((id) => `deleted ${id}`)];
      if (changed.length) log(`schedules: ${changed.join(', ')}`);
    } catch (err) {
      log(`schedules were not reconciled: ${(err as Error).message}`);
    }
  }
  return {
    worker,
    buildId,
    done,
    async shutdown() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await done;
    },
  };
}

/** Connects the worker to Temporal, retrying while the server is not up yet, so start order does not matter. */
async function connectWithRetry(settings: RuntimeSettings, timeoutMs: number, log: (line: string) => void): Promise<NativeConnection> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return await NativeConnection.connect(settings.connection);
    } catch (err) {
      if (Date.now() > deadline) throw new FleetError('temporal_unreachable', `cannot reach Temporal at ${settings.connection.address ?? 'localhost:7233'} after ${Math.round(timeoutMs / 1000)} s: ${(err as Error).message}`);
      if (attempt === 0) log(`waiting for Temporal at ${settings.connection.address ?? 'localhost:7233'}`);
      await delay(1_000);
    }
  }
}

/** Sets `buildId` as the current version of the talos-fleet deployment, so new runs go to it. */
export async function makeCurrentVersion(settings: RuntimeSettings, buildId: string): Promise<void> {
  const connection = await Connection.connect(settings.connection);
  try {
    const client = new Client({ connection, namespace: settings.namespace });
    // The version exists once the server has seen its pollers; that takes a moment after the worker starts.
    for (let attempt = 0; ; attempt++) {
      try {
        await client.workflowService.setWorkerDeploymentCurrentVersion({ namespace: settings.namespace, deploymentName: DEPLOYMENT_NAME, buildId, identity: 'talos-fleet' });
        return;
      } catch (err) {
        if (attempt >= 100) throw err;
        await delay(200);
      }
    }
  } finally {
    await connection.close();
  }
}
