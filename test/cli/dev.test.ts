import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { waitUntil } from '../support/fleet';
import { secretsInHistories } from '../support/secrets-scan';
import { freePort } from '../support/temporal';

jest.setTimeout(300_000);

const ROOT = join(__dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'talos-fleet');
const run = promisify(execFile);

/** Runs a CLI verb; resolves with its exit code and output whatever the code. */
async function cli(args: string[], timeout = 120_000): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(BIN, args, { timeout, env: { ...process.env, TEMPORAL_ADDRESS: '' } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** Processes whose command line mentions `needle` (the test's directory): what must be gone after Ctrl-C. */
function processesMentioning(needle: string): string[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p) && Number(p) !== process.pid)
    .flatMap((pid) => {
      try {
        const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
        return cmd.includes(needle) ? [`${pid}: ${cmd.slice(0, 160)}`] : [];
      } catch {
        return [];
      }
    });
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
      env: { ...process.env, TEMPORAL_ADDRESS: '' },
    });
    let out = '';
    dev.stdout.on('data', (c: Buffer) => (out += c.toString()));
    dev.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((resolve) => dev.once('exit', (code) => resolve(code)));
    try {
      await waitUntil('talos-fleet dev to be ready', () => out.includes('talos-fleet dev is ready') || dev.exitCode !== null, 180_000);
      expect(out).toContain(`Web UI http://localhost:${uiPort}`);
      expect(out).toContain('talos-fleet install demo --wait');

      const install = cli(['install', 'demo', '--wait', '--as', 'dev', '--dev-dir', devDir], 240_000);
      // The install waits at its start gate for the one approver, "dev" (self-approval is allowed in the demo).
      await waitUntil('the approval to be accepted', async () => (await cli(['approve', 'demo', '--as', 'dev', '--dev-dir', devDir])).code === 0, 120_000);
      const installed = await install;
      expect(installed.stderr).toMatch(/started install of demo: run demo@/);
      expect(installed.stdout).toContain('install of demo completed');
      expect(installed.code).toBe(0);

      const status = await cli(['status', 'demo', '--dev-dir', devDir, '--json']);
      const parsed = JSON.parse(status.stdout) as { nodes: { state: string }[]; health: { healthy: boolean } };
      expect(parsed.nodes.map((n) => n.state)).toEqual(['member', 'member', 'member', 'member', 'member']);
      expect(parsed.health.healthy).toBe(true);
      const runs = JSON.parse((await cli(['runs', '--dev-dir', devDir, '--json'])).stdout) as { operation: string; status: string }[];
      expect(runs.map((r) => `${r.operation}:${r.status}`)).toContain('install:completed');

      // Started from the CLI, the run's history holds no key material either.
      const connection = await Connection.connect({ address: `127.0.0.1:${temporalPort}` });
      try {
        expect(await secretsInHistories(new Client({ connection, namespace: 'default' }), [])).toEqual([]);
      } finally {
        await connection.close();
      }
    } finally {
      process.kill(-dev.pid!, 'SIGINT');
      const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('timeout'), 60_000))]);
      if (code === 'timeout') process.kill(-dev.pid!, 'SIGKILL');
    }
    await waitUntil('every process of the deployment to be gone', () => processesMentioning(dir).length === 0, 30_000).catch(() => undefined);
    expect(processesMentioning(dir)).toEqual([]);
    rmSync(dir, { recursive: true, force: true });
  });
});
