import { execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { RuntimeSettings } from '../../src/runtime/settings';

/** The `talos-fleet` command as a user runs it (the TypeScript sources through bin/talos-fleet). */
export const BIN = join(__dirname, '..', '..', 'bin', 'talos-fleet');

/** How a CLI verb ended: its exit code (null when it was killed) and its output. */
export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

const execFileAsync = promisify(execFile);

/**
 * Temporal's environment configuration and the inventory for the CLI, pointing at a test's dev server, its task
 * queue (the test's worker polls it) and its inventory: how a user reaches a deployment that is not `talos-fleet dev`.
 */
export function cliEnvironment(settings: RuntimeSettings): NodeJS.ProcessEnv {
  return {
    TEMPORAL_ADDRESS: settings.connection.address ?? '',
    TEMPORAL_NAMESPACE: settings.namespace,
    TEMPORAL_TASK_QUEUE: settings.taskQueue,
    TALOS_FLEET_INVENTORY: settings.inventoryPath,
  };
}

/** Runs a verb to its end; resolves with its exit code and output whatever the code. `env` is added to ours. */
export async function runCli(args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CliResult> {
  try {
    const { stdout, stderr } = await execFileAsync(BIN, args, { timeout: opts.timeoutMs ?? 120_000, env: { ...process.env, ...opts.env } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: unknown; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : null, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** A verb that runs for a while (`install --wait`): its output so far, and its end. */
export interface RunningCli {
  output(): { stdout: string; stderr: string };
  exited: Promise<CliResult>;
  kill(): void;
}

/** Starts a verb in the background; its output is collected as it comes. */
export function startCli(args: string[], opts: { env?: NodeJS.ProcessEnv } = {}): RunningCli {
  const child = spawn(BIN, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...opts.env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<CliResult>((resolve) => {
    child.once('error', (err) => resolve({ code: null, stdout, stderr: `${stderr}${err.message}` }));
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
  return {
    output: () => ({ stdout, stderr }),
    exited,
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}
