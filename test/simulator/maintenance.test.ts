import { join } from 'node:path';
import { generateMachineConfigs, type GeneratedConfigs } from '../../src/config/generate';
import { renderNodeConfig } from '../../src/config/node';
import { AlreadyBootstrappedError } from '../../src/talos/errors';
import { TalosClient } from '../../src/talos/client';
import { onlyValue } from '../../src/talos/replies';
import { writeTalosconfig } from '../../src/talos/talosconfig';
import { startFleet, waitUntil, whileRetryable, type TestFleet } from '../support/fleet';

let t: TestFleet;
let cp1: string, w1: string;
let configs: GeneratedConfigs;
let talosconfigPath: string;
const clients: TalosClient[] = [];

function insecure(node: string, fingerprints?: string[]): TalosClient {
  const c = fingerprints ? TalosClient.maintenancePinned(node, fingerprints, { timeoutMs: 10_000 }) : TalosClient.maintenanceInsecure(node, { timeoutMs: 10_000 });
  clients.push(c);
  return c;
}

/** Until the install reboots the node, it still presents its self-signed maintenance certificate, which our CA rejects. */
const stillInstalling = (err: unknown) => (err as { code?: string }).code === 'tls_failed' && /self-signed certificate/.test((err as Error).message);

beforeAll(async () => {
  t = await startFleet({ nodes: '1cp,1w', state: 'maintenance' });
  cp1 = t.addr('cp-1');
  w1 = t.addr('w-1');
  configs = await generateMachineConfigs({ clusterName: 'maint', endpoint: `https://${cp1}:6443`, talosconfigEndpoints: [cp1] });
  talosconfigPath = join(t.dir, 'talosconfig');
  writeTalosconfig(talosconfigPath, configs.talosconfig);
}, 60_000);

afterAll(async () => {
  for (const c of clients) c.close();
  await t?.stop();
});

describe('a node in maintenance mode', () => {
  it('answers without a client certificate, but only the maintenance API', async () => {
    const client = insecure(cp1);
    await expect(client.version()).rejects.toMatchObject({ code: 'unimplemented' });
    await expect(client.version()).rejects.toThrow('API is not implemented in maintenance mode');
    expect((await client.machineStatus({})).stage).toBe('MACHINE_STAGE_MAINTENANCE');
    await expect(client.machineConfig({})).rejects.toMatchObject({ code: 'permission_denied' });
  });

  it("pins the node's certificate by its SPKI fingerprint, and refuses a different one", async () => {
    const fingerprint = t.fleet.status().find((n) => n.name === 'cp-1')!.maintenanceFingerprint!;
    expect(fingerprint).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    expect((await insecure(cp1, [fingerprint]).machineStatus({})).stage).toBe('MACHINE_STAGE_MAINTENANCE');
    const wrong = t.fleet.status().find((n) => n.name === 'w-1')!.maintenanceFingerprint!;
    await expect(insecure(cp1, [wrong]).machineStatus({})).rejects.toThrow(/fingerprint mismatch/);
  });

  it('refuses an invalid configuration with InvalidArgument and stays in maintenance', async () => {
    const broken = configs.controlplane.replace(/endpoint: https:\/\/[^\n]+/, 'endpoint: not-a-url');
    await expect(insecure(cp1).applyConfiguration({ data: broken, mode: 'AUTO' })).rejects.toMatchObject({ code: 'invalid_argument' });
    await expect(insecure(cp1).applyConfiguration({ data: broken, mode: 'AUTO', dryRun: true })).rejects.toThrow('cluster.controlPlane.endpoint');
    await expect(insecure(cp1).applyConfiguration({ data: configs.controlplane, mode: 'NO_REBOOT' })).rejects.toMatchObject({ code: 'unimplemented' });
    expect((await insecure(cp1).machineStatus({})).stage).toBe('MACHINE_STAGE_MAINTENANCE');
    expect(t.fleet.node('cp-1').record.map((r) => r.outcome)).toEqual(['InvalidArgument', 'InvalidArgument', 'Unimplemented']);
  });

  it('installs from a generated controlplane.yaml and then serves the generated talosconfig over mutual TLS', async () => {
    const config = renderNodeConfig(configs.controlplane, { hostname: 'cp-1' });
    const reply = onlyValue(await insecure(cp1).applyConfiguration({ data: config, mode: 'AUTO' }));
    expect(reply.warnings).toEqual([]);
    const admin = TalosClient.fromTalosconfig({ path: talosconfigPath, timeoutMs: 10_000 });
    clients.push(admin);
    await waitUntil('cp-1 to serve the Talos API with its new identity', whileRetryable(async () => (await admin.version()).length === 1, stillInstalling));
    expect(onlyValue(await admin.version()).version!.tag).toBe('v1.10.9');
    expect(onlyValue(await admin.hostname()).hostname).toBe('cp-1');
    // The maintenance API is gone: without a client certificate the node refuses us.
    await expect(insecure(cp1).machineStatus({})).rejects.toMatchObject({ code: 'tls_failed' });
  });

  it('waits in etcd Preparing until bootstrapped once; a second bootstrap is refused', async () => {
    const admin = TalosClient.fromTalosconfig({ path: talosconfigPath, timeoutMs: 10_000 });
    clients.push(admin);
    await waitUntil('etcd to wait for bootstrap', whileRetryable(async () => onlyValue(await admin.serviceList()).services.find((s) => s.id === 'etcd')?.state === 'Preparing', stillInstalling));
    onlyValue(await admin.bootstrap());
    await expect(admin.bootstrap()).rejects.toBeInstanceOf(AlreadyBootstrappedError);
    await waitUntil('etcd to be healthy', whileRetryable(async () => onlyValue(await admin.serviceList()).services.find((s) => s.id === 'etcd')?.health?.healthy === true));
    expect(onlyValue(await admin.etcdMemberList({})).members.map((m) => m.hostname)).toEqual(['cp-1']);
    expect(t.fleet.node('cp-1').record.filter((r) => r.method === 'Bootstrap').map((r) => r.outcome)).toEqual(['ok', 'AlreadyExists']);
  });

  it('lets a worker join with worker.yaml: it gets its certificate from the control plane and is reachable through it', async () => {
    onlyValue(await insecure(w1).applyConfiguration({ data: renderNodeConfig(configs.worker, { hostname: 'w-1' }), mode: 'REBOOT' }));
    const admin = TalosClient.fromTalosconfig({ path: talosconfigPath, timeoutMs: 10_000 });
    clients.push(admin);
    await waitUntil('w-1 to answer through cp-1', whileRetryable(async () => !(await admin.version({ nodes: [w1] }))[0]!.error, stillInstalling));
    expect(onlyValue(await admin.hostname({ nodes: [w1] })).hostname).toBe('w-1');
    const [r] = await admin.bootstrap({}, { nodes: [w1] });
    expect(r!.error!.message).toContain('only be performed on a control plane node');
  });
});
