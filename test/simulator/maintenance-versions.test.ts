import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateMachineConfigs } from '../../src/config/generate';
import { parseSecretsBundle } from '../../src/config/secrets';
import { contextIdentity } from '../../src/config/talosconfig';
import { TalosClient } from '../../src/talos/client';
import { onlyValue } from '../../src/talos/replies';
import { startFleet, waitUntil, whileRetryable, type TestFleet } from '../support/fleet';

/**
 * Maintenance mode across versions: the maintenance service of 1.10/1.12 and 1.13+'s apid-based maintenance, and the
 * configs `gen config --talos-version v1.12`/`v1.14` writes, applied to nodes of those versions.
 */
let t: TestFleet;
let n10: string, n12: string, n14: string;
const clients: TalosClient[] = [];
const insecure = (node: string) => {
  const c = TalosClient.maintenanceInsecure(node, { timeoutMs: 10_000 });
  clients.push(c);
  return c;
};

beforeAll(async () => {
  t = await startFleet({ nodes: '3cp', state: 'maintenance', versions: { 'cp-1': 'v1.10.9', 'cp-2': 'v1.12.7', 'cp-3': 'v1.14.1' } });
  [n10, n12, n14] = ['cp-1', 'cp-2', 'cp-3'].map((n) => t.addr(n)) as [string, string, string];
}, 60_000);

afterAll(async () => {
  for (const c of clients) c.close();
  await t?.stop();
});

/** The configs of a new cluster of one control plane at `node`, as `gen config --talos-version` writes them. */
async function generated(node: string, talosVersion: string, secretsYaml?: string) {
  return generateMachineConfigs({
    clusterName: `c-${talosVersion.replace(/\W/g, '')}`,
    endpoint: `https://${node}:6443`,
    talosVersion,
    talosconfigEndpoints: [node],
    ...(secretsYaml ? { secrets: parseSecretsBundle(secretsYaml, 'secrets') } : {}),
  });
}

describe('maintenance mode on every version', () => {
  it('is recognized by the MachineStatus stage on 1.10, 1.12 and 1.14 alike', async () => {
    for (const node of [n10, n12, n14]) expect(await TalosClient.detectMaintenance(node, { timeoutMs: 10_000 })).toMatchObject({ inMaintenance: true, stage: 'maintenance' });
  });

  it('answers Version on 1.14 (without features) where 1.10 says Unimplemented', async () => {
    await expect(insecure(n10).version()).rejects.toMatchObject({ code: 'unimplemented', message: expect.stringMatching(/API is not implemented in maintenance mode/) as unknown });
    const v = onlyValue(await insecure(n14).version());
    expect(v.version!.tag).toBe('v1.14.1');
    expect(v.features).toBeNull();
  });

  it('gives every 1.14 caller os:reader: Reboot is not authorized, where 1.10 does not serve it at all', async () => {
    await expect(insecure(n14).reboot()).rejects.toMatchObject({ code: 'permission_denied', message: expect.stringMatching(/not authorized/) as unknown });
    await expect(insecure(n10).reboot()).rejects.toMatchObject({ code: 'unimplemented' });
  });

  it('serves 1.14 locally whatever `node` says, and reports routing off and every caller a reader', async () => {
    expect(onlyValue(await insecure(n14).version({ node: n10 })).version!.tag).toBe('v1.14.1');
    expect(await insecure(n14).apiServiceConfigs({})).toEqual([
      expect.objectContaining({ nodeRoutingDisabled: true, readonlyRoleMode: true, skipVerifyingClientCert: true }) as unknown,
    ]);
  });

  it('accepts a partial config on 1.14 (and keeps waiting), refuses it on 1.10', async () => {
    const partial = 'apiVersion: v1alpha1\nkind: HostnameConfig\nhostname: later\nauto: "off"\n';
    expect(onlyValue(await insecure(n14).applyConfiguration({ data: partial, mode: 'AUTO' }))).toMatchObject({ mode: 'NO_REBOOT' });
    expect((await insecure(n14).machineStatus({})).stage).toBe('MACHINE_STAGE_MAINTENANCE');
    await expect(insecure(n10).applyConfiguration({ data: partial, mode: 'AUTO' })).rejects.toMatchObject({ code: 'invalid_argument' });
  });

  it('refuses a 1.14 config on a 1.10 node: its decoder does not know the new documents', async () => {
    const { controlplane } = await generated(n10, 'v1.14', readFileSync(join(__dirname, '..', 'golden', 'talosctl-v1.10', 'secrets.yaml'), 'utf8'));
    await expect(insecure(n10).applyConfiguration({ data: controlplane, mode: 'AUTO' })).rejects.toMatchObject({
      code: 'invalid_argument',
      message: expect.stringMatching(/"DiscoveryServiceConfig" "v1alpha1": not registered/) as unknown,
    });
    expect((await insecure(n10).machineStatus({})).stage).toBe('MACHINE_STAGE_MAINTENANCE');
  });
});

describe('configs from gen config, applied in maintenance mode', () => {
  it('installs a 1.14 node from the 1.14 documents: REBOOT becomes NO_REBOOT, the unattended install runs, etcd 3.7 bootstraps', async () => {
    const gen = await generated(n14, 'v1.14', readFileSync(join(__dirname, '..', 'golden', 'talosctl-v1.10', 'secrets.yaml'), 'utf8'));
    // The v1alpha1 document and 28 more (talos-lines.md counts the 28), as upstream's generator writes them.
    expect(gen.controlplane.split(/^---$/m)).toHaveLength(29);
    const reply = onlyValue(await insecure(n14).applyConfiguration({ data: gen.controlplane, mode: 'REBOOT' }));
    expect(reply).toMatchObject({ mode: 'NO_REBOOT', modeDetails: 'Applied configuration without a reboot' });
    const admin = TalosClient.withIdentity(contextIdentity(gen.talosconfig).identity!, { endpoints: [n14], timeoutMs: 10_000 });
    clients.push(admin);
    await waitUntil('the 1.14 node to answer over mutual TLS', whileRetryable(async () => onlyValue(await admin.version()).version!.tag === 'v1.14.1', (err) => (err as { code?: string }).code === 'tls_failed'), 60_000);
    expect(await admin.unattendedInstallStatus({})).toMatchObject({ phase: 'UNATTENDED_INSTALL_PHASE_INSTALLED', image: expect.stringMatching(/^factory\.talos\.dev\/metal-installer\//) as unknown });
    expect(await admin.imageFactorySchematic({})).toMatchObject({ schematicId: '376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba' });
    await waitUntil('etcd to wait for bootstrap', whileRetryable(async () => onlyValue(await admin.serviceList()).services.find((s) => s.id === 'etcd')?.state === 'Preparing'), 30_000);
    onlyValue(await admin.bootstrap());
    await waitUntil('etcd to be healthy', whileRetryable(async () => !!onlyValue(await admin.serviceList()).services.find((s) => s.id === 'etcd')?.health?.healthy), 60_000);
    expect(onlyValue(await admin.etcdStatus()).memberStatus!.protocolVersion).toMatch(/^3\.7\./);
    expect(await admin.nodename({})).toMatchObject({ nodename: 'cp-3' });
    const pods = await admin.staticPodStatuses({});
    expect(pods.map((p) => p.id).sort()).toEqual(['kube-system/kube-apiserver-cp-3', 'kube-system/kube-controller-manager-cp-3', 'kube-system/kube-scheduler-cp-3']);
    expect(pods.every((p) => p.podStatus.phase === 'Running')).toBe(true);
  });

  it('installs a 1.12 node from the 1.12 config (HostnameConfig), replying as the 1.12 maintenance service does', async () => {
    const gen = await generated(n12, 'v1.12');
    expect(gen.controlplane).toMatch(/kind: HostnameConfig\nauto: stable\n$/);
    const reply = onlyValue(await insecure(n12).applyConfiguration({ data: gen.controlplane, mode: 'AUTO' }));
    expect(reply).toMatchObject({ mode: 'REBOOT', warnings: [] });
    const admin = TalosClient.withIdentity(contextIdentity(gen.talosconfig).identity!, { endpoints: [n12], timeoutMs: 10_000 });
    clients.push(admin);
    await waitUntil('the 1.12 node to answer over mutual TLS', whileRetryable(async () => onlyValue(await admin.version()).version!.tag === 'v1.12.7', (err) => (err as { code?: string }).code === 'tls_failed'), 60_000);
    expect(onlyValue(await admin.version()).features?.rbac).toBe(true);
  });
});
