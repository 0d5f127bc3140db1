import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify as stringifyYaml } from 'yaml';
import { parseMachineConfig } from '../../src/config/machineconfig';
import { kubernetesFromKubeconfig } from '../../src/kubernetes/client';
import { parseNodeCounts, SimulatedFleet } from '../../src/simulator/fleet';
import { requireKubernetes, requireKwok } from '../../src/tools/binaries';
import { TEST_TIME_SCALE, waitUntil } from '../support/fleet';
import { processesUnder } from './processes';
import { BIN } from '../support/cli';

const dirs: string[] = [];

function newDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'talos-fleet-k8s-'));
  dirs.push(dir);
  return dir;
}

/** A loopback /24 of our own, as test/support/fleet.ts picks them. */
function baseAddress(): string {
  return `127.${140 + Number(process.env.JEST_WORKER_ID ?? '1')}.${1 + Math.floor(Math.random() * 250)}.11`;
}

afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('a real Kubernetes that cannot run', () => {
  it('says how to provide a missing control-plane binary or kwok: the variable, PATH, and what npm run tools builds', () => {
    const env = { PATH: '', TALOS_FLEET_TOOLS_CACHE: join(newDir(), 'cache') };
    const empty = newDir();
    expect(() => requireKubernetes(env, empty)).toThrow(
      `kube-apiserver was not found (wanted: Kubernetes 1.37 control plane (kube-apiserver, kube-controller-manager, kube-scheduler)): set KUBE_APISERVER_BIN, put kube-apiserver 1.37.x on PATH, or run \`npm run tools\` to build 1.37.2 into ${env.TALOS_FLEET_TOOLS_CACHE}, linked from ${join(empty, 'kubernetes')}`,
    );
    expect(() => requireKwok(env, empty)).toThrow(/^kwok was not found .*: set KWOK_BIN, put kwok 0\.8\.x on PATH, or run `npm run tools`/);
  });

  it('refuses to start a fleet whose kube-apiserver binary is missing, before it touches the directory', async () => {
    const dir = newDir();
    const saved = process.env.KUBE_APISERVER_BIN;
    process.env.KUBE_APISERVER_BIN = join(dir, 'no-such-kube-apiserver');
    try {
      expect(() => new SimulatedFleet({ dir, nodes: parseNodeCounts('1cp'), kubernetes: 'real' })).toThrow(`KUBE_APISERVER_BIN=${join(dir, 'no-such-kube-apiserver')} is not an executable file`);
    } finally {
      if (saved === undefined) delete process.env.KUBE_APISERVER_BIN;
      else process.env.KUBE_APISERVER_BIN = saved;
    }
    // Nothing was locked: a fleet without Kubernetes takes the directory at once.
    await new SimulatedFleet({ dir, nodes: parseNodeCounts('1cp'), kubernetes: 'none' }).stop();
  });

  it('fails the control plane\'s boot when its kube-apiserver cannot start, naming the node, the reason and the log', async () => {
    const dir = newDir();
    const fleet = new SimulatedFleet({ dir, nodes: parseNodeCounts('1cp', baseAddress()), timeScale: TEST_TIME_SCALE, kubernetes: 'real' });
    try {
      const talosconfig = await fleet.provisionCluster({ clusterName: 'broken' });
      // A flag kube-apiserver does not know, through the machine config's extraArgs, as a user could write it.
      const node = fleet.node('cp-1');
      const cfg = parseMachineConfig(node.config!.yaml);
      (cfg.raw.cluster as { apiServer: Record<string, unknown> }).apiServer.extraArgs = { 'no-such-flag': 'true' };
      node.preinstall(node.installed!.current, stringifyYaml(cfg.raw));
      await fleet.start();
      const log = join(dir, 'nodes', 'cp-1', 'var', 'log', 'kube-apiserver.log');
      await expect(fleet.bootstrapCluster(talosconfig)).rejects.toThrow(`node cp-1: kube-apiserver exited during start (exit code 1: Error: unknown flag: --no-such-flag); see ${log}`);
      expect(readFileSync(log, 'utf8')).toContain('unknown flag: --no-such-flag');
    } finally {
      await fleet.stop();
    }
    expect(processesUnder(dir)).toEqual([]);
  });
});

describe('talos-fleet sim up --kubernetes real', () => {
  it('refuses a --kubernetes other than real or none, before starting anything', async () => {
    const dir = newDir();
    const child = spawn(BIN, ['sim', 'up', '--kubernetes', 'maybe', '--dir', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
    expect(code).toBe(1);
    expect(stderr).toBe('error: --kubernetes must be real or none, got "maybe"\n');
  });

  it('writes a kubeconfig that reaches the cluster, and leaves no Kubernetes process behind when killed with SIGKILL', async () => {
    const dir = newDir();
    const child = spawn(BIN, ['sim', 'up', '--nodes', '1cp,1w', '--kubernetes', 'real', '--dir', dir, '--time-scale', String(TEST_TIME_SCALE), '--base-address', baseAddress()], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('close', (_code, signal) => resolve(signal)));
    try {
      await waitUntil('the fleet to be up', () => stderr.includes('simulated fleet up') || stderr.includes('error:'), 120_000);
      expect(stderr).toContain(`kubeconfig: ${join(dir, 'kubeconfig')}`);
      const nodes = (await kubernetesFromKubeconfig(readFileSync(join(dir, 'kubeconfig'), 'utf8')).core.listNode()).items;
      expect(nodes.map((n) => n.metadata!.name).sort()).toEqual(['cp-1', 'w-1']);
      expect(processesUnder(dir).map((p) => p.name).sort()).toEqual(['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kwok']);
    } finally {
      child.kill('SIGKILL');
    }
    expect(await exited).toBe('SIGKILL');
    await waitUntil('every Kubernetes process to die with the simulator', () => processesUnder(dir).length === 0, 15_000);
  }, 150_000);
});
