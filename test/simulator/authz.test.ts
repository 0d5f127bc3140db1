import * as grpc from '@grpc/grpc-js';
import { generateCertificateAuthority, issueCertificate } from '../../src/config/certs';
import { machineCertificateAuthority, parseMachineConfig } from '../../src/config/machineconfig';
import { messageCodec } from '../../src/talos/codec';
import { TalosClient } from '../../src/talos/client';
import { mutualTlsCredentials } from '../../src/talos/credentials';
import { onlyValue } from '../../src/talos/replies';
import type { ClientIdentity } from '../../src/config/talosconfig';
import { startFleet, type TestFleet } from '../support/fleet';

let t: TestFleet;
let admin: TalosClient;
let cp1: string, w1: string;
const roleClients = new Map<string, TalosClient>();

/** A client whose certificate carries exactly `roles`, issued by the cluster through GenerateClientConfiguration. */
async function clientWithRoles(roles: string[]): Promise<TalosClient> {
  const key = roles.join(',');
  if (!roleClients.has(key)) {
    const reply = onlyValue(await admin.generateClientConfiguration({ roles, crtTtlMs: 3_600_000 }, { nodes: [cp1] }));
    roleClients.set(key, TalosClient.withIdentity({ ca: reply.ca.toString(), crt: reply.crt.toString(), key: reply.key.toString() }, { endpoints: [cp1], timeoutMs: 10_000 }));
  }
  return roleClients.get(key)!;
}

/** Outcome of a call as the caller sees it for one node: 'ok' or the error code. */
async function outcome(call: Promise<{ error?: { code: string } }[]>): Promise<string> {
  const [r] = await call;
  return r!.error?.code ?? 'ok';
}

beforeAll(async () => {
  t = await startFleet({ nodes: '1cp,1w', state: 'bootstrapped' });
  cp1 = t.addr('cp-1');
  w1 = t.addr('w-1');
  admin = t.client();
}, 120_000);

afterAll(async () => {
  for (const c of roleClients.values()) c.close();
  await t?.stop();
});

describe('roles from the certificate', () => {
  it('lets os:reader read but not change anything, nor read secrets', async () => {
    const reader = await clientWithRoles(['os:reader']);
    const target = { nodes: [cp1] };
    expect(await outcome(reader.version(target))).toBe('ok');
    expect(await outcome(reader.serviceList(target))).toBe('ok');
    expect(await outcome(reader.etcdMemberList({}, target))).toBe('ok');
    expect(await outcome(reader.etcdStatus(target))).toBe('ok');
    expect(await outcome(reader.reboot({}, target))).toBe('permission_denied');
    expect(await outcome(reader.upgrade({ image: 'ghcr.io/siderolabs/installer:v1.10.9' }, target))).toBe('permission_denied');
    expect(await outcome(reader.serviceRestart('kubelet', target))).toBe('permission_denied');
    await expect(reader.kubeconfig({ node: cp1 })).rejects.toMatchObject({ code: 'permission_denied' });
    await expect(reader.machineConfig({ node: cp1 })).rejects.toMatchObject({ code: 'permission_denied' });
    expect((await reader.machineStatus({ node: cp1 })).stage).toBe('MACHINE_STAGE_RUNNING');
  });

  it('lets os:operator take snapshots and control services, but not upgrade, apply or bootstrap', async () => {
    const operator = await clientWithRoles(['os:operator']);
    const target = { nodes: [cp1] };
    let bytes = 0;
    for await (const chunk of operator.etcdSnapshot(target)) bytes += (chunk as Buffer).length;
    expect(bytes).toBeGreaterThan(0);
    expect(await outcome(operator.etcdDefragment(target))).toBe('ok');
    expect(await outcome(operator.serviceRestart('kubelet', { nodes: [w1] }))).toBe('ok');
    expect(await outcome(operator.upgrade({ image: 'ghcr.io/siderolabs/installer:v1.10.9' }, target))).toBe('permission_denied');
    expect(await outcome(operator.applyConfiguration({ data: 'x', mode: 'AUTO' }, target))).toBe('permission_denied');
    expect(await outcome(operator.bootstrap({}, target))).toBe('permission_denied');
    expect(await outcome(operator.etcdLeaveCluster(target))).toBe('permission_denied');
  });

  it('lets os:etcd:backup snapshot and read etcd, and nothing else (not even Version)', async () => {
    const backup = await clientWithRoles(['os:etcd:backup']);
    const target = { nodes: [cp1] };
    let bytes = 0;
    for await (const chunk of backup.etcdSnapshot(target)) bytes += (chunk as Buffer).length;
    expect(bytes % 512).toBe(32);
    expect(await outcome(backup.etcdMemberList({}, target))).toBe('ok');
    expect(await outcome(backup.etcdStatus(target))).toBe('ok');
    expect(await outcome(backup.etcdAlarmList(target))).toBe('ok');
    expect(await outcome(backup.version(target))).toBe('permission_denied');
    expect(await outcome(backup.serviceList(target))).toBe('permission_denied');
    expect(await outcome(backup.reboot({}, target))).toBe('permission_denied');
  });

  it('enforces the roles on the target node, also when called one-to-one or locally', async () => {
    const reader = await clientWithRoles(['os:reader']);
    await expect(reader.reboot({}, { node: w1 })).rejects.toMatchObject({ code: 'permission_denied' });
    await expect(reader.reboot({})).rejects.toMatchObject({ code: 'permission_denied' });
    expect(t.fleet.node('w-1').record.filter((r) => r.method === 'Reboot')).toEqual([]);
    expect(t.fleet.node('cp-1').record.filter((r) => r.method === 'Reboot')).toEqual([]);
  });

  it('ignores a talos-role header from a caller that is not an impersonator', async () => {
    const reply = onlyValue(await admin.generateClientConfiguration({ roles: ['os:reader'], crtTtlMs: 3_600_000 }, { nodes: [cp1] }));
    const raw = new grpc.Client(`${w1}:50000`, mutualTlsCredentials({ ca: reply.ca.toString(), crt: reply.crt.toString(), key: reply.key.toString() }));
    const md = new grpc.Metadata();
    md.add('talos-role', 'os:admin');
    md.add('proxyfrom', 'attacker');
    const codec = messageCodec('machine.RebootRequest');
    try {
      const err = await new Promise<grpc.ServiceError | null>((resolve) => {
        raw.makeUnaryRequest('/machine.MachineService/Reboot', (v) => codec.encode(v), (b) => b, {}, md, { deadline: Date.now() + 10_000 }, (e) => resolve(e));
      });
      expect(err?.code).toBe(grpc.status.PERMISSION_DENIED);
    } finally {
      raw.close();
    }
    expect(t.fleet.node('w-1').record.filter((r) => r.method === 'Reboot')).toEqual([]);
  });
});

describe('certificates the node refuses', () => {
  async function identityFrom(issue: (ca: { crt: string; key: string }) => Promise<{ crt: string; key: string }>, caPem: string): Promise<ClientIdentity> {
    const config = parseMachineConfig(await admin.machineConfig({ node: cp1 }));
    const issued = await issue(machineCertificateAuthority(config));
    return { ca: caPem, crt: issued.crt, key: issued.key };
  }

  it('refuses a certificate from another CA at the TLS handshake', async () => {
    const other = await generateCertificateAuthority({ algorithm: 'ed25519', organization: 'talos', ttlMs: 3_600_000 });
    const stranger = await issueCertificate(other, { organizations: ['os:admin'], usage: 'client', ttlMs: 3_600_000 });
    const client = TalosClient.withIdentity({ ca: t.identity!.ca, crt: stranger.crt, key: stranger.key }, { endpoints: [cp1], timeoutMs: 5_000 });
    try {
      await expect(client.version()).rejects.toMatchObject({ code: 'tls_failed', retryable: false });
    } finally {
      client.close();
    }
  });

  it('refuses an expired certificate', async () => {
    const expired = await identityFrom((ca) => issueCertificate(ca, { organizations: ['os:admin'], usage: 'client', ttlMs: 60_000, now: new Date(Date.now() - 3_600_000) }), t.identity!.ca);
    const client = TalosClient.withIdentity(expired, { endpoints: [cp1], timeoutMs: 5_000 });
    try {
      await expect(client.version()).rejects.toMatchObject({ code: 'tls_failed', retryable: false });
    } finally {
      client.close();
    }
  });

  it('refuses a client without a certificate', async () => {
    const client = TalosClient.maintenanceInsecure(cp1, { timeoutMs: 5_000 });
    try {
      await expect(client.version()).rejects.toMatchObject({ code: 'tls_failed' });
    } finally {
      client.close();
    }
  });
});
