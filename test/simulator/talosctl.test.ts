import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { generateMachineConfigs } from '../../src/config/generate';
import { renderNodeConfig } from '../../src/config/node';
import { writeTalosconfig } from '../../src/talos/talosconfig';
import { locateTool, requireTool } from '../../src/tools/binaries';
import { kubernetesFromKubeconfig } from '../../src/kubernetes/client';
import { startFleet, waitUntil, type TestFleet } from '../support/fleet';
import { profileFor } from '../../src/releases/profiles';
import { defaultInstallerImage } from '../../src/releases/images';
import { BIN } from '../support/cli';

/**
 * Wire compatibility with the real talosctl. talosctl is not provisioned by the project (building it from the Go
 * module proxy takes minutes), so this suite runs when TALOSCTL names a binary: see docs/talosctl-compat.md.
 */
const TALOSCTL = process.env.TALOSCTL ?? locateTool('talosctl');
const available = !!TALOSCTL && existsSync(TALOSCTL);
const suite = available ? describe : describe.skip;
if (!available) {
  // Visible in every test run, so nobody mistakes a skipped upstream check for a passed one.
  process.stderr.write(
    `SKIPPED: the real-talosctl compatibility suite (${TALOSCTL ? `TALOSCTL=${TALOSCTL} does not exist` : 'TALOSCTL is not set'}); ` +
      'build one with `npm run tools -- --with talosctl` and run npx jest test/simulator/talosctl.test.ts. ' +
      'The golden files from a real talosctl are still compared on every run (test/config/golden.test.ts).\n',
  );
}
const run = promisify(execFile);
/** The talosctl's own version (the suite runs with talosctl 1.10 and, where one can be built, newer minors). */
const CLIENT_TAG = available ? (/Tag:\s+(v\S+)/.exec(execFileSync(TALOSCTL ?? '', ['version', '--client'], { encoding: 'utf8' }))?.[1] ?? '') : '';

async function talosctl(talosconfig: string, ...args: string[]): Promise<string> {
  const { stdout, stderr } = await run(TALOSCTL!, ['--talosconfig', talosconfig, ...args], { timeout: 90_000 });
  return stdout + stderr;
}

/** talosctl's output, or '' while it fails (the node is still installing or rebooting). */
async function talosctlWhenUp(talosconfig: string, ...args: string[]): Promise<string> {
  return talosctl(talosconfig, ...args).catch(() => '');
}

suite('the real talosctl against a bootstrapped simulated fleet', () => {
  let t: TestFleet;
  let config: string;
  let cp1: string, cp2: string, cp3: string, w1: string;

  beforeAll(async () => {
    // A real Kubernetes control plane, so that talosctl health asks a real API server.
    t = await startFleet({ nodes: '3cp,1w', state: 'bootstrapped', kubernetes: 'real' });
    [cp1, cp2, cp3, w1] = ['cp-1', 'cp-2', 'cp-3', 'w-1'].map((n) => t.addr(n)) as [string, string, string, string];
    config = join(t.dir, 'talosconfig');
    writeTalosconfig(config, t.talosconfig!);
  }, 900_000);

  afterAll(async () => {
    await t?.stop();
  });

  it('talosctl version shows every node, through one endpoint', async () => {
    const out = await talosctl(config, '-n', `${cp1},${w1}`, 'version');
    expect(out).toContain(`NODE:        ${cp1}`);
    expect(out).toContain(`NODE:        ${w1}`);
    // Both nodes run v1.10.9; the client block shows the talosctl's own tag.
    expect(out.match(/Tag: +v1\.10\.9/g)).toHaveLength(CLIENT_TAG === 'v1.10.9' ? 3 : 2);
    expect(out).toContain('Enabled:     RBAC');
  });

  it('talosctl service shows etcd running and healthy', async () => {
    const out = await talosctl(config, '-n', cp2, 'service');
    expect(out).toMatch(new RegExp(`${cp2.replace(/\./g, '\\.')} +etcd +Running +OK`));
  });

  it('talosctl etcd members lists the three voting members', async () => {
    const rows = (await talosctl(config, '-n', cp2, 'etcd', 'members')).trim().split('\n').slice(1);
    expect(rows.map((r) => r.split(/\s+/)[2]).sort()).toEqual(['cp-1', 'cp-2', 'cp-3']);
    expect(rows.every((r) => r.trim().endsWith('false'))).toBe(true);
  });

  it('talosctl etcd snapshot saves a snapshot that etcdctl accepts', async () => {
    const file = join(t.dir, 'talosctl.snapshot');
    const out = await talosctl(config, '-n', cp3, 'etcd', 'snapshot', file);
    expect(out).toContain(`etcd snapshot saved to "${file}"`);
    const { stdout } = await run(requireTool('etcdctl'), ['snapshot', 'status', file, '--write-out=json'], { env: { ...process.env, ETCDCTL_API: '3' } });
    expect((JSON.parse(stdout) as { totalKey: number }).totalKey).toBeGreaterThan(0);
  });

  it('talosctl health passes every check, the Kubernetes ones against the real API server', async () => {
    const out = await talosctl(config, '-n', cp1, 'health', '--wait-timeout', '60s');
    expect(out).toContain('waiting for etcd to be healthy: OK');
    for (const check of ['all k8s nodes to report', 'all control plane static pods to be running', 'all control plane components to be ready', 'all k8s nodes to report ready', 'kube-proxy to report ready', 'coredns to report ready', 'all k8s nodes to report schedulable']) {
      expect(out).toContain(`waiting for ${check}: OK`);
    }
  });

  it('talosctl kubeconfig writes a kubeconfig that reaches the real API server', async () => {
    const file = join(t.dir, 'kubeconfig');
    await talosctl(config, '-n', cp1, 'kubeconfig', file, '--merge=false');
    const nodes = (await kubernetesFromKubeconfig(readFileSync(file, 'utf8')).core.listNode()).items.map((n) => n.metadata!.name).sort();
    expect(nodes).toEqual(['cp-1', 'cp-2', 'cp-3', 'w-1']);
  });

  it('talosctl upgrade --wait follows the upgrade to the new version', async () => {
    const out = await talosctl(config, '-n', w1, 'upgrade', '--image', 'ghcr.io/siderolabs/installer:v1.10.10');
    expect(out).toContain('post check passed');
    expect(await talosctl(config, '-n', w1, 'version', '--short')).toContain('Tag:         v1.10.10');
  });
});

suite('the real talosctl installing a simulated node from maintenance mode', () => {
  let t: TestFleet;

  beforeAll(async () => {
    t = await startFleet({ nodes: '1cp', state: 'maintenance' });
  }, 60_000);

  afterAll(async () => {
    await t?.stop();
  });

  it('apply-config --insecure installs the node, and bootstrap starts etcd once', async () => {
    const cp = t.addr('cp-1');
    const generated = await generateMachineConfigs({ clusterName: 'ctl', endpoint: `https://${cp}:6443`, talosconfigEndpoints: [cp] });
    const file = join(t.dir, 'controlplane.yaml');
    writeFileSync(file, renderNodeConfig(generated.controlplane, { hostname: 'cp-1' }));
    const config = join(t.dir, 'talosconfig');
    writeTalosconfig(config, generated.talosconfig);
    await talosctl(config, 'apply-config', '--insecure', '-n', cp, '-f', file);
    await waitUntil('the node to serve its new identity', async () => (await talosctlWhenUp(config, '-n', cp, 'version')).includes('v1.10.9'));
    await waitUntil('etcd to wait for bootstrap', async () => /etcd +Preparing/.test(await talosctlWhenUp(config, '-n', cp, 'service')));
    await talosctl(config, '-n', cp, 'bootstrap');
    await expect(talosctl(config, '-n', cp, 'bootstrap')).rejects.toThrow(/AlreadyExists/);
    await waitUntil('etcd to be healthy', async () => /etcd +Running +OK/.test(await talosctlWhenUp(config, '-n', cp, 'service')));
  });
});

suite('talos-fleet gen next to talosctl gen', () => {
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'talos-fleet-gen-'));
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes the same machine configs as talosctl gen config from the same secrets, and talosctl validates them', async () => {
    await run(BIN, ['gen', 'secrets', '-o', join(dir, 'secrets.yaml')]);
    // The contract of the talosctl's own minor, with talos-fleet's defaults for it (talosctl keeps its own patch's).
    const profile = profileFor(CLIENT_TAG);
    const contract = ['--talos-version', `v${profile.minor}`];
    await run(BIN, ['gen', 'config', 'prod', 'https://10.5.0.10:6443', '--with-secrets', join(dir, 'secrets.yaml'), '-o', join(dir, 'ours'), ...contract]);
    await run(TALOSCTL!, [
      'gen', 'config', 'prod', 'https://10.5.0.10:6443', '--with-secrets', join(dir, 'secrets.yaml'), '-o', join(dir, 'theirs'), '--with-docs=false', '--with-examples=false',
      ...contract, '--kubernetes-version', profile.kubernetes.default, '--install-image', defaultInstallerImage(profile.latest),
    ]);
    for (const file of ['controlplane.yaml', 'worker.yaml']) {
      expect(readFileSync(join(dir, 'ours', file), 'utf8')).toBe(readFileSync(join(dir, 'theirs', file), 'utf8'));
      const { stdout } = await run(TALOSCTL!, ['validate', '--config', join(dir, 'ours', file), '--mode', 'metal']);
      expect(stdout).toContain('is valid for metal mode');
    }
  });

  it('reads a secrets bundle that talosctl gen secrets wrote', async () => {
    await run(TALOSCTL!, ['gen', 'secrets', '-o', join(dir, 'theirs-secrets.yaml')]);
    await run(BIN, ['gen', 'config', 'other', 'https://10.5.0.10:6443', '--with-secrets', join(dir, 'theirs-secrets.yaml'), '-o', join(dir, 'from-theirs')]);
    const { stdout } = await run(TALOSCTL!, ['validate', '--config', join(dir, 'from-theirs', 'controlplane.yaml'), '--mode', 'metal']);
    expect(stdout).toContain('is valid for metal mode');
  });
});
