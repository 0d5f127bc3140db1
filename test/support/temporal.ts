import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { randomUUID } from 'node:crypto';
import { startDevServer, type DevServer } from '../../src/runtime/dev-server';
import { loadWorkflowBundle } from '../../src/runtime/worker';
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

/** A Temporal CLI dev server of our own for a test file (the provisioned binary, never a download). */
export async function startTestTemporal(dir: string, opts: { dbFile?: string; port?: number } = {}): Promise<DevServer> {
  return startDevServer({ binary: requireTool('temporal'), port: opts.port ?? (await freePort()), logFile: join(dir, 'temporal.log'), ...(opts.dbFile ? { dbFile: opts.dbFile } : {}) });
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

/**
 * A run's whole history as searchable text: the events as JSON plus every payload decoded from base64, so a test
 * can look for what a user would see in the Temporal UI (names, messages) and for what must never be there.
 */
export async function historyText(handle: { fetchHistory(): Promise<{ events?: unknown[] | null }> }): Promise<string> {
  const events = (await handle.fetchHistory()).events ?? [];
  const json = JSON.stringify(events);
  const decoded: string[] = [];
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) return value.forEach(visit);
    if (value && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) {
        if (k === 'data' && typeof v === 'string') decoded.push(Buffer.from(v, 'base64').toString('utf8'));
        else if (k === 'data' && v instanceof Uint8Array) decoded.push(Buffer.from(v).toString('utf8'));
        else visit(v);
      }
    }
  };
  visit(JSON.parse(json));
  return `${json}\n${decoded.join('\n')}`;
}
