import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { issueCertificate } from '../../src/config/certs';
import { parseSecretsBundle } from '../../src/config/secrets';
import { contextIdentity, newTalosconfig, type ClientIdentity } from '../../src/config/talosconfig';
import { TalosClient } from '../../src/talos/client';
import { onlyValue } from '../../src/talos/replies';
import { startFleet, waitUntil, whileRetryable, type TestFleet } from '../support/fleet';

/**
 * The files upstream's generator wrote (test/golden/machinery-v1.12 and -v1.14, from pkg/machinery v1.12.7 and v1.14.1;
 * their READMEs say how), applied byte for byte over real gRPC to simulated nodes of that version in maintenance mode:
 * the node installs them and boots configured, the control plane bootstraps the etcd its version ships, and the worker
 * gets its apid certificate from that control plane.
 *
 * The files name the cluster endpoint https://10.5.0.10:6443, which is no simulated node's address. No step here needs
 * it: the nodes serve apid on their own addresses (their certificates name those), trustd is found by the cluster's
 * token and CA, and these fleets run no Kubernetes (`kubernetes: 'none'`), so nothing dials the endpoint. It only shows
 * up where upstream puts it, as the server of the admin kubeconfig.
 */
const goldenDir = join(__dirname, '..', 'golden');
const golden = (dir: string, file: string) => readFileSync(join(goldenDir, dir, file), 'utf8');

/** An os:admin client certificate from the bundle the golden files were made from (its OS CA signs the nodes' apid). */
async function adminIdentity(): Promise<ClientIdentity> {
  const secrets = parseSecretsBundle(golden('talosctl-v1.10', 'secrets.yaml'), 'golden secrets.yaml');
  const cert = await issueCertificate(secrets.certs.os, { organizations: ['os:admin'], usage: 'client', ttlMs: 3_600_000 });
  return contextIdentity(newTalosconfig('golden', [], secrets.certs.os.crt, cert)).identity!;
}

const cases = [
  // Up to 1.12 the maintenance service replies with warnings only (mode 0); 1.13+ apid says NO_REBOOT.
  { dir: 'machinery-v1.12', version: 'v1.12.7', etcd: /^3\.6\./, reply: { mode: 'REBOOT', warnings: [] }, unattended: false },
  { dir: 'machinery-v1.14', version: 'v1.14.1', etcd: /^3\.7\./, reply: { mode: 'NO_REBOOT', modeDetails: 'Applied configuration without a reboot' }, unattended: true },
];

describe.each(cases)("upstream's $dir files on simulated $version nodes", ({ dir, version, etcd, reply, unattended }) => {
  let t: TestFleet;
  const clients: TalosClient[] = [];
  const track = (c: TalosClient) => (clients.push(c), c);

  beforeAll(async () => {
    t = await startFleet({ nodes: '1cp,1w', state: 'maintenance', version, kubernetes: 'none' });
  }, 60_000);

  afterAll(async () => {
    for (const c of clients) c.close();
    await t?.stop();
  });

  it('installs the control plane and the worker from them, bootstraps etcd of that line, and each node runs the file it was given', async () => {
    const identity = await adminIdentity();
    const since = Date.now();
    const installed = async (name: string, file: string) => {
      const node = t.addr(name);
      const yaml = golden(dir, file);
      expect(onlyValue(await track(TalosClient.maintenanceInsecure(node, { timeoutMs: 10_000 })).applyConfiguration({ data: yaml, mode: 'AUTO' }))).toMatchObject(reply);
      const admin = track(TalosClient.withIdentity(identity, { endpoints: [node], timeoutMs: 10_000 }));
      // Until the install's reboot, the node still serves maintenance mode's self-signed certificate.
      await waitUntil(`${name} to answer over mutual TLS`, whileRetryable(async () => onlyValue(await admin.version()).version!.tag === version, (err) => (err as { code?: string }).code === 'tls_failed'), 60_000);
      expect((await admin.machineStatus({})).stage).toBe('MACHINE_STAGE_RUNNING');
      expect(await admin.machineConfig({})).toBe(yaml);
      if (unattended) {
        // 1.14's UnattendedInstallConfig: the installer the file names ran from the controller, and is reported done.
        expect(await admin.unattendedInstallStatus({})).toMatchObject({ phase: 'UNATTENDED_INSTALL_PHASE_INSTALLED', image: `factory.talos.dev/metal-installer/376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba:${version}` });
      }
      return admin;
    };

    const cp = await installed('cp-1', 'controlplane.yaml');
    await waitUntil('etcd to wait for bootstrap', whileRetryable(async () => onlyValue(await cp.serviceList()).services.find((s) => s.id === 'etcd')?.state === 'Preparing'), 30_000);
    onlyValue(await cp.bootstrap());
    await waitUntil('etcd to be healthy', whileRetryable(async () => !!onlyValue(await cp.serviceList()).services.find((s) => s.id === 'etcd')?.health?.healthy), 60_000);
    expect(onlyValue(await cp.etcdStatus()).memberStatus!.protocolVersion).toMatch(etcd);
    expect(await cp.kubeconfig()).toContain('server: https://10.5.0.10:6443');

    // The worker's file holds no OS CA key: apid starts only once trustd on the control plane issued its certificate.
    const worker = await installed('w-1', 'worker.yaml');
    expect(onlyValue(await worker.serviceList()).services.find((s) => s.id === 'apid')?.health?.healthy).toBe(true);

    // One ApplyConfiguration per node, each in maintenance mode with the whole file; nothing else was applied.
    const applied = t.fleet.calls('ApplyConfiguration', since);
    expect(applied.map((c) => [c.node, c.outcome, c.details.bytes, c.details.maintenance])).toEqual([
      ['cp-1', 'ok', Buffer.byteLength(golden(dir, 'controlplane.yaml')), true],
      ['w-1', 'ok', Buffer.byteLength(golden(dir, 'worker.yaml')), true],
    ]);
    expect(t.fleet.calls('Bootstrap', since).map((c) => c.node)).toEqual(['cp-1']);
  }, 180_000);
});
