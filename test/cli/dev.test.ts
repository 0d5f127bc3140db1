import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { processesUnder } from '../simulator/processes';
import { runCli } from '../support/cli';
import { waitUntil } from '../support/fleet';
import { recordProcessTree, type ProcessInfo } from '../support/process-tree';
import { secretsInHistories } from '../support/secrets-scan';
import { freePort } from '../support/temporal';

jest.setTimeout(300_000);

const ROOT = join(__dirname, '..', '..');
/** Without TEMPORAL_ADDRESS the CLI finds the dev deployment through `--dev-dir` (its dev.json). */
const DEV_ENV = { TEMPORAL_ADDRESS: '' };
/** How long one Ctrl-C may take to stop everything (worker, fleet, dev server) before the test fails. */
const STOP_DEADLINE_MS = 60_000;

function describeProcess(p: ProcessInfo): string {
  return `${p.pid} ${p.comm}: ${p.cmdline.slice(0, 160)}`;
}

describe('npm start (talos-fleet dev)', () => {
  it('reaches "ready", installs the demo cluster with `install demo --wait` and leaves nothing running after Ctrl-C', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'talos-fleet-dev-'));
    const devDir = join(dir, '.dev');
    const base = `127.${120 + Number(process.env.JEST_WORKER_ID ?? '1')}.${1 + Math.floor(Math.random() * 250)}.11`;
    const [temporalPort, uiPort] = [await freePort(), await freePort()];
    // As a user types it: npm start, with the options a second deployment on this machine needs.
    const dev = spawn('npm', ['start', '--silent', '--', '--dir', devDir, '--base-address', base, '--temporal-port', String(temporalPort), '--ui-port', String(uiPort), '--time-scale', '0.05'], {
      cwd: ROOT,
      // Its own process group, so Ctrl-C can be sent as a terminal sends it: to every process of the group.
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...DEV_ENV },
    });
    // Every process the deployment starts (the dev server, etcd members, ...), whatever process group it takes.
    const tree = recordProcessTree(dev.pid!);
    let out = '';
    dev.stdout.on('data', (c: Buffer) => (out += c.toString()));
    dev.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => dev.once('exit', (code, signal) => resolve({ code, signal })));
    let stoppedCleanly = false;
    try {
      await waitUntil('talos-fleet dev to be ready', () => out.includes('talos-fleet dev is ready') || dev.exitCode !== null, 180_000);
      expect(out).toContain(`Web UI http://localhost:${uiPort}`);
      expect(out).toContain('talos-fleet install demo --wait');

      const install = runCli(['install', 'demo', '--wait', '--as', 'dev', '--dev-dir', devDir], { env: DEV_ENV, timeoutMs: 240_000 });
      // The install waits at its start gate for the one approver, "dev" (self-approval is allowed in the demo).
      await waitUntil('the approval to be accepted', async () => (await runCli(['approve', 'demo', '--as', 'dev', '--dev-dir', devDir], { env: DEV_ENV })).code === 0, 120_000);
      const installed = await install;
      expect(installed.stderr).toMatch(/started install of demo: run demo@/);
      expect(installed.stdout).toContain('install of demo completed');
      expect(installed.code).toBe(0);

      const status = await runCli(['status', 'demo', '--dev-dir', devDir, '--json'], { env: DEV_ENV });
      const parsed = JSON.parse(status.stdout) as { nodes: { state: string }[]; health: { healthy: boolean } };
      expect(parsed.nodes.map((n) => n.state)).toEqual(['member', 'member', 'member', 'member', 'member']);
      expect(parsed.health.healthy).toBe(true);
      const runs = JSON.parse((await runCli(['runs', '--dev-dir', devDir, '--json'], { env: DEV_ENV })).stdout) as { operation: string; status: string }[];
      expect(runs.map((r) => `${r.operation}:${r.status}`)).toContain('install:completed');

      // Started from the CLI, the run's history holds no key material either.
      const connection = await Connection.connect({ address: `127.0.0.1:${temporalPort}` });
      try {
        expect(await secretsInHistories(new Client({ connection, namespace: 'default' }), [])).toEqual([]);
      } finally {
        await connection.close();
      }

      // Ctrl-C, once: the deployment stops by itself within the deadline, with the exit code of a clean stop.
      tree.sample();
      const started = tree.seen().map((p) => p.comm);
      expect(started).toContain('temporal');
      // One etcd member per control plane (a member restarted during the install would be a second process).
      expect(started.filter((c) => c === 'etcd').length).toBeGreaterThanOrEqual(3);
      process.kill(-dev.pid!, 'SIGINT');
      const stopped = await Promise.race([exited, new Promise<'still running'>((r) => setTimeout(() => r('still running'), STOP_DEADLINE_MS).unref())]);
      if (stopped === 'still running') throw new Error(`talos-fleet dev still runs ${STOP_DEADLINE_MS} ms after one Ctrl-C:\n${out.slice(-2000)}`);
      // npm ends by raising SIGINT itself after a Ctrl-C whatever its script returned (or exits 0): the product's
      // own clean stop is the line it writes last, once everything it started is down.
      expect(stopped).toEqual(stopped.signal ? { code: null, signal: 'SIGINT' } : { code: 0, signal: null });
      expect(out).toContain('SIGINT: stopping the worker, the simulated fleet and the Temporal dev server');
      expect(out).toContain('talos-fleet dev stopped: the worker, the simulated fleet and the Temporal dev server are down');

      // Nothing it started is left: no process of its tree, and none naming its directory.
      await waitUntil('every process of the deployment to be gone', () => tree.running().length === 0, 10_000).catch(() => undefined);
      expect(tree.running().map(describeProcess)).toEqual([]);
      expect(processesUnder(dir)).toEqual([]);
      stoppedCleanly = true;
    } finally {
      tree.stop();
      if (!stoppedCleanly) {
        // The test has failed already; only clear up what is left so it does not outlive the test.
        for (const pid of [-dev.pid!, ...tree.running().map((p) => p.pid)]) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // Gone meanwhile.
          }
        }
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });
});
