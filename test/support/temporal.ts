import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { startDevServer, type DevServer } from '../../src/runtime/dev-server';
import { secretsInHistories } from './secrets-scan';
import { loadWorkflowBundle, startFleetWorker, type FleetWorker } from '../../src/runtime/worker';
import type { RuntimeSettings } from '../../src/runtime/settings';
import { requireTool } from '../../src/tools/binaries';

/** A free TCP port on loopback (the dev server picks its other ports itself). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** A test's dev server; stopping it first scans every run's history for key material (see secrets-scan.ts). */
export interface TestTemporal extends DevServer {
  /** Scans, then stops; `scan: false` only for a deliberate stop in the middle of a test (a restart). */
  stop(opts?: { scan?: boolean }): Promise<void>;
}

/**
 * A Temporal CLI dev server of our own for a test file (the provisioned binary, never a download). Its `stop()`
 * fails the test file if any workflow history on it holds a PEM block, a token or a kubeconfig's credentials, so
 * every run of the suite is scanned, whichever test started it.
 */
export async function startTestTemporal(dir: string, opts: { dbFile?: string; port?: number } = {}): Promise<TestTemporal> {
  const server = await startDevServer({ binary: requireTool('temporal'), port: opts.port ?? (await freePort()), logFile: join(dir, 'temporal.log'), ...(opts.dbFile ? { dbFile: opts.dbFile } : {}) });
  return {
    ...server,
    async stop(stopOpts: { scan?: boolean } = {}) {
      let findings: string[] = [];
      if (stopOpts.scan !== false) {
        const connection = await Connection.connect({ address: server.address });
        try {
          findings = (await secretsInHistories(new Client({ connection, namespace: server.namespace }), [])).filter((f) => f !== 'no workflow runs were found to scan');
        } finally {
          await connection.close();
        }
      }
      await server.stop();
      if (findings.length) throw new Error(`workflow histories hold secrets:\n${findings.join('\n')}`);
    },
  };
}

/** Runtime settings for a test: the test's server, a task queue of its own, its inventory. */
export function testSettings(server: DevServer, inventoryPath: string): RuntimeSettings {
  return { connection: { address: server.address }, namespace: server.namespace, taskQueue: `test-${randomUUID()}`, inventoryPath, source: 'environment' };
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/**
 * The workflow bundle, built once per change of the workflow sources and reused by every test file and run
 * (webpack takes seconds). Keyed by a hash of the sources the bundle can contain.
 */
export async function workflowBundlePath(): Promise<string> {
  const root = join(__dirname, '..', '..');
  const files = ['src/workflows', 'src/shared', 'src/activities'].flatMap((d) => sourceFiles(join(root, d))).sort();
  const hash = createHash('sha256');
  for (const f of files) hash.update(relative(root, f)).update(readFileSync(f));
  const dir = join(tmpdir(), 'talos-fleet-bundles');
  const path = join(dir, `${hash.digest('hex').slice(0, 16)}.js`);
  if (existsSync(path)) return path;
  mkdirSync(dir, { recursive: true });
  const { code } = await loadWorkflowBundle();
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, code);
  renameSync(temp, path);
  return path;
}

/** A test's Temporal side: its dev server, a worker of the product's activities and workflows, and a client. */
export interface WorkflowRuntime {
  server: TestTemporal;
  settings: RuntimeSettings;
  worker: FleetWorker;
  client: Client;
  stop(): Promise<void>;
}

/** Starts a dev server in `dir`, a worker on a task queue of its own for the inventory at `inventoryPath`, and a client. */
export async function startWorkflowRuntime(dir: string, inventoryPath: string): Promise<WorkflowRuntime> {
  const server = await startTestTemporal(dir);
  const settings = testSettings(server, inventoryPath);
  const worker = await startFleetWorker({ settings, workflowBundlePath: await workflowBundlePath(), setCurrentVersion: true, log: () => undefined });
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection, namespace: server.namespace });
  return {
    server,
    settings,
    worker,
    client,
    stop: async () => {
      await worker.shutdown();
      await connection.close();
      await server.stop();
    },
  };
}
