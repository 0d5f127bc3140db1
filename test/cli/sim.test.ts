import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { NodeStatus } from '../../src/simulator/fleet';
import { TalosClient } from '../../src/talos/client';
import { allValues } from '../../src/talos/replies';
import { waitUntil } from '../support/fleet';
import { BIN } from '../support/cli';

const run = promisify(execFile);

/** Runs the CLI to completion; resolves with its exit code and output whatever the code. */
async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(BIN, args, { timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

let dir: string;
let sim: ChildProcess;
let exited: Promise<number | null>;
const base = `127.${110 + Number(process.env.JEST_WORKER_ID ?? '1')}.${1 + Math.floor(Math.random() * 250)}.11`;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'talos-fleet-cli-'));
  sim = spawn(BIN, ['sim', 'up', '--nodes', '1cp,1w', '--dir', dir, '--time-scale', '0.01', '--base-address', base, '--kubernetes', 'none'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  sim.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  exited = new Promise((resolve) => sim.once('exit', (code) => resolve(code)));
  await waitUntil('sim.json to appear', () => existsSync(join(dir, 'sim.json')) || sim.exitCode !== null, 90_000);
  if (sim.exitCode !== null) throw new Error(`sim up exited early:\n${stderr}`);
}, 120_000);

afterAll(async () => {
  if (sim.exitCode === null) sim.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe('talos-fleet', () => {
  it('prints help listing its verbs', async () => {
    const { code, stdout } = await cli('--help');
    expect(code).toBe(0);
    expect(stdout).toMatch(/sim\s/);
    expect(stdout).toMatch(/gen\s/);
  });
});

describe('talos-fleet sim', () => {
  it('reports every node with stage, version, boot id, etcd member and call record as JSON', async () => {
    const { code, stdout } = await cli('sim', 'status', '--dir', dir, '--json');
    expect(code).toBe(0);
    const nodes = JSON.parse(stdout) as NodeStatus[];
    expect(nodes.map((n) => [n.name, n.role, n.stage, n.ready])).toEqual([
      ['cp-1', 'controlplane', 'RUNNING', true],
      ['w-1', 'worker', 'RUNNING', true],
    ]);
    const cp = nodes[0]!;
    expect(cp.version).toBe('v1.10.9');
    expect(cp.bootId).toMatch(/^[0-9a-f-]{36}$/);
    expect(cp.etcd).toMatchObject({ state: 'running', healthy: true, memberIdHex: expect.stringMatching(/^[0-9a-f]+$/) as unknown });
    expect(cp.record.map((r) => `${r.method}:${r.outcome}`)).toEqual(['Bootstrap:ok']);
  });

  it('writes an admin talosconfig that works with the real client', async () => {
    const client = TalosClient.fromTalosconfig({ path: join(dir, 'talosconfig'), timeoutMs: 10_000 });
    try {
      const versions = allValues(await client.version({ nodes: [base, base.replace(/\d+$/, '12')] }));
      expect(versions.map((v) => v.version!.tag)).toEqual(['v1.10.9', 'v1.10.9']);
    } finally {
      client.close();
    }
  });

  it('takes a node down and brings it back with a new boot id', async () => {
    const status = async () => JSON.parse((await cli('sim', 'status', '--dir', dir, '--json')).stdout) as NodeStatus[];
    const before = (await status()).find((n) => n.name === 'w-1')!.bootId;
    expect((await cli('sim', 'fault', '--dir', dir, 'w-1', 'down')).code).toBe(0);
    expect((await status()).find((n) => n.name === 'w-1')!.stage).toBe('OFF');
    expect((await cli('sim', 'fault', '--dir', dir, 'w-1', 'up')).code).toBe(0);
    await waitUntil('w-1 to run again', async () => {
      const w = (await status()).find((n) => n.name === 'w-1')!;
      return w.ready && w.bootId !== before;
    });
  });

  it('refuses an unknown fault or node with a message that lists the valid ones', async () => {
    const fault = await cli('sim', 'fault', '--dir', dir, 'w-1', 'meteor');
    expect(fault.code).toBe(1);
    expect(fault.stderr).toContain('unknown fault "meteor"');
    expect(fault.stderr).toContain('etcd-unhealthy');
    const node = await cli('sim', 'fault', '--dir', dir, 'nope', 'down');
    expect(node.code).toBe(1);
    expect(node.stderr).toContain('no simulated node named nope');
  });

  it('refuses bad options before starting anything', async () => {
    const nodes = await cli('sim', 'up', '--nodes', '3x', '--dir', join(dir, 'other'));
    expect(nodes.code).toBe(1);
    expect(nodes.stderr).toContain('"3x" in --nodes 3x is not a count followed by cp or w');
    const state = await cli('sim', 'up', '--state', 'running', '--dir', join(dir, 'other'));
    expect(state.stderr).toContain('--state must be maintenance or bootstrapped');
    expect(existsSync(join(dir, 'other', 'sim.json'))).toBe(false);
  });

  it('refuses a second sim up on the running fleet\'s directory, naming the running one, and leaves its files alone', async () => {
    const other = base.replace(/\.\d+\.11$/, `.${Number(base.split('.')[2]) === 250 ? 249 : Number(base.split('.')[2]) + 1}.11`);
    const second = await cli('sim', 'up', '--nodes', '1cp,1w', '--dir', dir, '--time-scale', '0.01', '--base-address', other, '--kubernetes', 'none');
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(`error: a simulated fleet already runs in ${dir} (process ${sim.pid}, since `);
    expect(existsSync(join(dir, 'sim.json'))).toBe(true);
    expect(existsSync(join(dir, 'control.sock'))).toBe(true);
    const status = await cli('sim', 'status', '--dir', dir, '--json');
    expect(status.code).toBe(0);
    expect((JSON.parse(status.stdout) as NodeStatus[]).map((n) => n.stage)).toEqual(['RUNNING', 'RUNNING']);
  });

  let members: string | undefined;

  it('stops on SIGTERM: exits 0, removes sim.json, leaves no etcd behind', async () => {
    members = (JSON.parse((await cli('sim', 'status', '--dir', dir, '--json')).stdout) as NodeStatus[])[0]!.etcd!.memberIdHex;
    sim.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(existsSync(join(dir, 'sim.json'))).toBe(false);
    const { stdout } = await run('ps', ['-eo', 'args']).catch(() => ({ stdout: '' }));
    expect(stdout.split('\n').filter((l) => l.includes(dir) && l.includes('etcd'))).toEqual([]);
    const status = await cli('sim', 'status', '--dir', dir);
    expect(status.code).toBe(1);
    expect(status.stderr).toContain('no simulated fleet runs in');
  });

  it('resumes the fleet from its disks when started again on the same directory', async () => {
    const again = spawn(BIN, ['sim', 'up', '--nodes', '1cp,1w', '--dir', dir, '--time-scale', '0.01', '--base-address', base, '--kubernetes', 'none'], { stdio: 'ignore' });
    const done = new Promise((resolve) => again.once('exit', resolve));
    try {
      await waitUntil('the resumed fleet to be up', () => existsSync(join(dir, 'sim.json')), 90_000);
      const nodes = JSON.parse((await cli('sim', 'status', '--dir', dir, '--json')).stdout) as NodeStatus[];
      expect(nodes[0]!.etcd).toMatchObject({ state: 'running', memberIdHex: members });
      // Nothing was bootstrapped again: the member kept its data.
      expect(nodes[0]!.record).toEqual([]);
    } finally {
      again.kill('SIGTERM');
      await done;
    }
  });
});
