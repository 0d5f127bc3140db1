import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitUntil } from '../support/fleet';
import { etcdProcessesUnder } from '../simulator/processes';
import { BIN } from '../support/cli';


/** A /24 of our own per test: the second octet is the jest worker, the third random, so no two fleets meet. */
function baseAddress(): string {
  return `127.${120 + Number(process.env.JEST_WORKER_ID ?? '1')}.${1 + Math.floor(Math.random() * 250)}.11`;
}

interface Run {
  /** Everything written to stderr so far. */
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal: NodeJS.Signals): void;
}

/** Starts `talos-fleet ARGS...` in the background. */
function start(...args: string[]): Run {
  const child = spawn(BIN, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
  running.push(child);
  return { stderr: () => stderr, exited, kill: (signal) => child.kill(signal) };
}

const running: ReturnType<typeof spawn>[] = [];
const dirs: string[] = [];
const blockers: Server[] = [];

function newDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'talos-fleet-up-'));
  dirs.push(dir);
  return dir;
}

/** Something else listening on host:port, as a program that took the port would be. */
async function occupy(host: string, port: number): Promise<void> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  blockers.push(server);
}

afterAll(async () => {
  for (const child of running) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const server of blockers) server.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('talos-fleet sim up', () => {
  it('fails at once when a node cannot listen, naming the node and the port in use', async () => {
    const dir = newDir();
    const base = baseAddress();
    await occupy(base, 50000);
    const run = start('sim', 'up', '--nodes', '1w', '--state', 'maintenance', '--dir', dir, '--time-scale', '0.01', '--base-address', base, '--kubernetes', 'none');
    expect((await run.exited).code).toBe(1);
    expect(run.stderr()).toContain(`error: node w-1: boot failed: cannot listen on ${base}:50000: the address is already in use`);
    expect(run.stderr()).not.toContain('timed out');
    expect(existsSync(join(dir, 'sim.json'))).toBe(false);
  });

  it('fails at once when a control plane\'s etcd cannot start, naming the node and etcd\'s own reason', async () => {
    const dir = newDir();
    const base = baseAddress();
    await occupy(base, 2379);
    const run = start('sim', 'up', '--nodes', '1cp', '--dir', dir, '--time-scale', '0.01', '--base-address', base, '--kubernetes', 'none');
    expect((await run.exited).code).toBe(1);
    expect(run.stderr()).toMatch(new RegExp(`error: node cp-1: etcd member cp-1 exited during start: listen tcp ${base.replace(/\./g, '\\.')}:2379: bind: address already in use`));
    expect(run.stderr()).not.toContain('timed out');
    expect(etcdProcessesUnder(dir)).toEqual([]);
  });

  it('leaves no etcd process behind when killed with SIGKILL, and the next sim up takes its directory over', async () => {
    const dir = newDir();
    const base = baseAddress();
    const args = ['sim', 'up', '--nodes', '1cp', '--dir', dir, '--time-scale', '0.01', '--base-address', base, '--kubernetes', 'none'];
    const first = start(...args);
    await waitUntil('the fleet to be up', () => first.stderr().includes('simulated fleet up'), 60_000);
    expect(etcdProcessesUnder(dir)).toHaveLength(1);
    first.kill('SIGKILL');
    expect((await first.exited).signal).toBe('SIGKILL');
    await waitUntil('the etcd member to die with the simulator', () => etcdProcessesUnder(dir).length === 0, 10_000);
    // The dead fleet's lock is stale: a new sim up resumes the directory instead of being refused.
    const second = start(...args);
    await waitUntil('the fleet to be resumed', () => second.stderr().includes('simulated fleet resumed') || second.stderr().includes('error'), 60_000);
    expect(second.stderr()).toContain('simulated fleet resumed');
    second.kill('SIGTERM');
    expect((await second.exited).code).toBe(0);
    expect(etcdProcessesUnder(dir)).toEqual([]);
    expect(existsSync(join(dir, 'sim.lock'))).toBe(false);
  });

  it('stops cleanly on SIGINT during start-up, and does not report the fleet as up', async () => {
    const dir = newDir();
    const run = start('sim', 'up', '--nodes', '1cp', '--dir', dir, '--time-scale', '0.1', '--base-address', baseAddress(), '--kubernetes', 'none');
    await waitUntil('the nodes to listen', () => run.stderr().includes('every node listens'), 60_000);
    run.kill('SIGINT');
    expect((await run.exited).code).toBe(1);
    expect(run.stderr()).toContain('error: SIGINT during start-up: the simulated fleet was stopped before it was up');
    expect(run.stderr()).not.toContain('simulated fleet up');
    expect(etcdProcessesUnder(dir)).toEqual([]);
    for (const file of ['sim.json', 'control.sock', 'sim.lock']) expect(existsSync(join(dir, file))).toBe(false);
  });

  it('exits at once on a second SIGINT while the clean stop waits for a hung etcd, and leaves no etcd behind', async () => {
    const dir = newDir();
    const run = start('sim', 'up', '--nodes', '1cp', '--dir', dir, '--time-scale', '0.01', '--base-address', baseAddress(), '--kubernetes', 'none');
    await waitUntil('the fleet to be up', () => run.stderr().includes('simulated fleet up'), 60_000);
    // A hung etcd member (stopped by the kernel, not by the simulator): the clean stop's SIGTERM waits in vain for
    // the 5 s grace before its SIGKILL, so the stop is slow for real.
    const [etcd] = etcdProcessesUnder(dir);
    process.kill(etcd!, 'SIGSTOP');
    run.kill('SIGINT');
    await waitUntil('the clean stop to begin', () => run.stderr().includes('stopping the simulated fleet'), 10_000);
    const second = Date.now();
    run.kill('SIGINT');
    expect((await run.exited).code).toBe(130);
    expect(Date.now() - second).toBeLessThan(3_000);
    expect(run.stderr()).toContain('SIGINT again: exiting at once');
    expect(run.stderr()).not.toContain('error:');
    // The hung etcd dies with the simulator (its parent-death signal is SIGKILL, which a stopped process cannot ignore).
    await waitUntil('the etcd member to die with the simulator', () => etcdProcessesUnder(dir).length === 0, 10_000);
    for (const file of ['sim.json', 'control.sock']) expect(existsSync(join(dir, file))).toBe(false);
  });
});

describe('talos-fleet sim status', () => {
  it('explains a damaged sim.json in one line, without a stack trace', async () => {
    const dir = newDir();
    writeFileSync(join(dir, 'sim.json'), '{"nodes": [');
    const run = start('sim', 'status', '--dir', dir);
    expect((await run.exited).code).toBe(1);
    expect(run.stderr()).toBe(
      `error: ${join(dir, 'sim.json')} is not a fleet manifest written by \`talos-fleet sim up\` (it is not valid JSON); if no fleet runs in ${dir}, delete it and start one with \`talos-fleet sim up --dir ${dir}\`\n`,
    );
  });
});
