import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import type { NativeConnectionOptions } from '@temporalio/worker';
import { FleetError } from '../errors';
import { resolveInventoryPath } from '../fleet/inventory';
import { DEFAULT_TASK_QUEUE } from '../shared/names';

/** What `talos-fleet dev` writes to `DIR/dev.json`, so the other commands find its deployment without flags. */
export interface DevManifest {
  pid: number;
  temporal: { address: string; namespace: string; uiUrl: string; dbFile: string };
  taskQueue: string;
  inventory: string;
  sim: { dir: string };
}

/** Where `talos-fleet dev` keeps its state unless told otherwise. */
export const DEFAULT_DEV_DIR = '.dev';

/** Reads `DIR/dev.json`; undefined when there is none (no dev deployment here). */
export function readDevManifest(dir: string): DevManifest | undefined {
  const path = join(dir, 'dev.json');
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as DevManifest;
  } catch (err) {
    throw new FleetError('dev_manifest', `${path} is not valid JSON (${(err as Error).message}); delete it or run \`talos-fleet dev\` again`);
  }
}

/** How entry points and workers reach Temporal and the inventory. */
export interface RuntimeSettings {
  connection: NativeConnectionOptions;
  namespace: string;
  taskQueue: string;
  inventoryPath: string;
  /** The Temporal Web UI, for links (only known for the dev server or when `TALOS_FLEET_TEMPORAL_UI` is set). */
  uiUrl?: string;
  /** Where the settings came from, for messages. */
  source: 'environment' | 'dev';
}

/**
 * Settings from Temporal's environment configuration (`@temporalio/envconfig`: `TEMPORAL_ADDRESS`,
 * `TEMPORAL_NAMESPACE`, TLS, API key, profiles in `temporal.toml`), so the same binary talks to the dev server, a
 * self-hosted cluster or Temporal Cloud. Without any of those, a running `talos-fleet dev` in `devDir` is used.
 */
export function runtimeSettings(opts: { devDir?: string; inventory?: string; taskQueue?: string; env?: NodeJS.ProcessEnv } = {}): RuntimeSettings {
  const env = opts.env ?? process.env;
  const explicit = ['TEMPORAL_ADDRESS', 'TEMPORAL_PROFILE', 'TEMPORAL_CONFIG_FILE', 'TEMPORAL_API_KEY'].some((k) => env[k]);
  const dev = explicit ? undefined : readDevManifest(resolve(opts.devDir ?? env.TALOS_FLEET_DEV_DIR ?? DEFAULT_DEV_DIR));
  if (dev) {
    return {
      connection: { address: dev.temporal.address },
      namespace: dev.temporal.namespace,
      taskQueue: opts.taskQueue ?? env.TEMPORAL_TASK_QUEUE ?? dev.taskQueue,
      inventoryPath: resolveInventoryPath(opts.inventory ?? env.TALOS_FLEET_INVENTORY ?? dev.inventory, env),
      uiUrl: dev.temporal.uiUrl,
      source: 'dev',
    };
  }
  const loaded = loadClientConnectConfig({ overrideEnvVars: env as Record<string, string> });
  return {
    connection: loaded.connectionOptions,
    namespace: loaded.namespace ?? 'default',
    taskQueue: opts.taskQueue ?? env.TEMPORAL_TASK_QUEUE ?? DEFAULT_TASK_QUEUE,
    inventoryPath: resolveInventoryPath(opts.inventory, env),
    ...(env.TALOS_FLEET_TEMPORAL_UI ? { uiUrl: env.TALOS_FLEET_TEMPORAL_UI } : {}),
    source: 'environment',
  };
}

/** A link to a run in the Temporal Web UI, when the UI's address is known. */
export function runUrl(settings: Pick<RuntimeSettings, 'uiUrl' | 'namespace'>, workflowId: string, runId: string): string | undefined {
  if (!settings.uiUrl) return undefined;
  return `${settings.uiUrl.replace(/\/$/, '')}/namespaces/${encodeURIComponent(settings.namespace)}/workflows/${encodeURIComponent(workflowId)}/${encodeURIComponent(runId)}/history`;
}
