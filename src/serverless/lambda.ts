import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runWorker, type LambdaHandler } from '@temporalio/lambda-worker';
import { createActivities } from '../activities';
import type { Notifier } from '../activities/notify';
import { notifiersFromEnv } from '../bots/notifiers';
import { FleetConnector } from '../fleet/connect';
import { resolveInventoryPath } from '../fleet/inventory';
import { inventorySource } from '../fleet/source';
import { buildIdFor } from '../runtime/worker';
import { DEFAULT_TASK_QUEUE, DEPLOYMENT_NAME } from '../shared/names';

/** What one Lambda function needs to know; every field has an environment variable. */
export interface LambdaWorkerSettings {
  /** The prebuilt workflow bundle (`npm run build:workflows`), shipped with the function. `TALOS_FLEET_WORKFLOW_BUNDLE`. */
  workflowBundlePath: string;
  /** The inventory, shipped with the function or on a mounted file system. `TALOS_FLEET_INVENTORY`. */
  inventoryPath: string;
  /** `TEMPORAL_TASK_QUEUE`. */
  taskQueue: string;
  notifier?: Notifier;
  /** Time kept free before the invocation's deadline for the graceful shutdown (default 7 s). */
  shutdownDeadlineBufferMs?: number;
}

/** Settings from the function's environment. */
export function lambdaSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): LambdaWorkerSettings {
  return {
    workflowBundlePath: env.TALOS_FLEET_WORKFLOW_BUNDLE ?? join(__dirname, '..', '..', 'dist', 'workflow-bundle.js'),
    inventoryPath: resolveInventoryPath(undefined, env),
    taskQueue: env.TEMPORAL_TASK_QUEUE ?? DEFAULT_TASK_QUEUE,
  };
}

/**
 * A Temporal Serverless Worker for AWS Lambda: each invocation connects (Temporal's environment configuration:
 * `TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE`, TLS or API key, or a `temporal.toml`), polls the task queue as a version
 * of the talos-fleet Worker Deployment (the build id of the long-lived worker for the same workflow code), and shuts
 * down before its deadline. Nothing is kept between invocations but connections to the nodes: activities are short
 * and waits are workflow timers, so an invocation may end between any two tasks.
 */
export function createLambdaHandler(settings: LambdaWorkerSettings): LambdaHandler {
  const code = readFileSync(settings.workflowBundlePath, 'utf8');
  const buildId = buildIdFor({ code });
  const inventory = inventorySource(settings.inventoryPath);
  const connector = new FleetConnector(inventory);
  const activities = createActivities({ inventory, connector, notifier: settings.notifier ?? notifiersFromEnv({ inventoryPath: settings.inventoryPath, namespace: process.env.TEMPORAL_NAMESPACE ?? 'default', ...(process.env.TALOS_FLEET_TEMPORAL_UI ? { uiUrl: process.env.TALOS_FLEET_TEMPORAL_UI } : {}) }) });
  return runWorker({ deploymentName: DEPLOYMENT_NAME, buildId }, (config) => {
    config.workerOptions.taskQueue = settings.taskQueue;
    config.workerOptions.workflowBundle = { code };
    config.workerOptions.activities = activities;
    if (settings.shutdownDeadlineBufferMs !== undefined) config.shutdownDeadlineBufferMs = settings.shutdownDeadlineBufferMs;
  });
}

/** The function's handler (configured from its environment at cold start). */
export const handler: LambdaHandler = (event, context) => {
  cached ??= createLambdaHandler(lambdaSettingsFromEnv());
  return cached(event, context);
};
let cached: LambdaHandler | undefined;
