import { status as GrpcStatus } from '@grpc/grpc-js';
import { Connection } from '../../src/talos/connection';
import { mutualTlsCredentials } from '../../src/talos/credentials';
import { InstallerFailedError } from '../../src/talos/installer';
import { TalosClient } from '../../src/talos/client';
import { onlyValue } from '../../src/talos/replies';
import { defaultInstallerImage } from '../../src/releases/images';
import { collect, startFleet, waitUntil, whileRetryable, type TestFleet } from '../support/fleet';

/**
 * A mixed-version cluster, as a fleet in the middle of a rolling upgrade looks: a 1.10 control plane and workers on
 * 1.12, 1.13 and 1.14 (all on the 1.10 config contract, as upgraded clusters keep their configs). Each node answers
 * as its own Talos version does, over real gRPC and mutual TLS, through the control plane's apid.
 * w-1..w-3 are upgraded by the tests below; the apply-mode cases have workers of their own (w-4..w-6), which no other
 * test touches, so each of them finds its node on the version it booted with.
 */
let t: TestFleet;
let client: TalosClient;
let w12: string, w13: string, w14: string;
/** The apply-mode cases' nodes: 1.10, 1.13 and 1.14 from the fleet's start. */
let a10: string, a13: string, a14: string;

beforeAll(async () => {
  t = await startFleet({
    nodes: '1cp,6w',
    state: 'bootstrapped',
    version: 'v1.10.9',
    versions: { 'w-1': 'v1.12.7', 'w-2': 'v1.13.3', 'w-3': 'v1.14.0', 'w-5': 'v1.13.3', 'w-6': 'v1.14.1' },
  });
  [w12, w13, w14] = ['w-1', 'w-2', 'w-3'].map((n) => t.addr(n)) as [string, string, string];
  [a10, a13, a14] = ['w-4', 'w-5', 'w-6'].map((n) => t.addr(n)) as [string, string, string];
  client = t.client();
}, 120_000);

afterAll(async () => {
  await t?.stop();
});

const tag = async (node: string) => onlyValue(await client.version({ node })).version!.tag;
const calls = (name: string, method: string) => t.fleet.node(name).record.filter((r) => r.method === method);

/** A node is back from a reboot: a new boot id, running and ready. */
async function waitForReboot(node: string, before: string): Promise<void> {
  await waitUntil(`${node} to come back with a new boot id`, whileRetryable(async () => (await client.bootId({ node })) !== before));
  await waitUntil(`${node} to be ready`, whileRetryable(async () => !!(await client.machineStatus({ node })).status?.ready));
}

describe('a mixed-version fleet', () => {
  it('answers Version with each node\'s own Talos version', async () => {
    expect(await Promise.all([t.addr('cp-1'), w12, w13, w14].map(tag))).toEqual(['v1.10.9', 'v1.12.7', 'v1.13.3', 'v1.14.0']);
  });

  it('refuses Bootstrap on a worker as each version does: FailedPrecondition up to 1.12, Unimplemented from 1.13', async () => {
    const errorOf = async (node: string) => (await client.bootstrap({}, { node }).catch((err: unknown) => err)) as { code: string; message: string };
    expect(await errorOf(w12)).toMatchObject({ code: 'failed_precondition', message: expect.stringMatching(/bootstrap can only be performed on a control plane node/) as unknown });
    expect(await errorOf(w14)).toMatchObject({ code: 'unimplemented', message: expect.stringMatching(/bootstrap is only available on control plane nodes/) as unknown });
  });

  it('runs the health check on a 1.12 worker but refuses it on a 1.14 worker', async () => {
    const on14 = await collect(client.healthCheck({ waitTimeoutMs: 5_000 }, { node: w14 })).catch((err: unknown) => err);
    expect(on14).toMatchObject({ code: 'unimplemented', message: expect.stringMatching(/cluster health check is only available on control plane nodes/) as unknown });
    const on12 = await collect(client.healthCheck({ waitTimeoutMs: 20_000 }, { node: w12 }));
    expect(on12.map((m) => m.value?.message).at(-1)).toBe('waiting for all k8s nodes to report schedulable: OK');
  });

  it('serves ImageService and LifecycleService only from 1.13: a 1.12 node does not know them', async () => {
    await expect(client.imagePull({ image: defaultInstallerImage('v1.12.7') }, { node: w12 })).rejects.toMatchObject({ code: 'unimplemented', message: expect.stringMatching(/unknown service machine.ImageService/) as unknown });
    expect(await client.imageList({ driver: 'CRI', namespace: 'NS_SYSTEM' }, { node: w13 })).toEqual([]);
  });

  it('refuses one-to-many `nodes` for services outside apid\'s allowlist on 1.13+, and still fans out MachineService', async () => {
    const conn = new Connection({ endpoints: [w14], credentials: mutualTlsCredentials(t.identity!), timeoutMs: 10_000 });
    try {
      const listed = collect(conn.serverStream('/machine.ImageService/List', { containerd: { driver: 'CRI', namespace: 'NS_SYSTEM' } }, { nodes: [w14, w13] }));
      await expect(listed).rejects.toMatchObject({ grpcCode: GrpcStatus.INVALID_ARGUMENT, detail: 'one-2-many proxying is not supported for method /machine.ImageService/List' });
      const versions = await conn.unary<unknown, { metadata?: null; version?: { tag: string } }>('/machine.MachineService/Version', {}, { nodes: [w14, w13] });
      expect(versions.map((v) => v.value?.version?.tag).sort()).toEqual(['v1.13.3', 'v1.14.0']);
    } finally {
      conn.close();
    }
  });
});

describe('upgrades through LifecycleService (1.13+)', () => {
  const target = defaultInstallerImage('v1.14.1');

  it('pulls, installs without rebooting, and the explicit reboot brings up the new version with a new boot id', async () => {
    const bootBefore = (await client.bootIdResource({ node: w14 }))!;
    expect(bootBefore).toMatch(/^[0-9a-f-]{36}$/);
    const pulled = await client.imagePull({ image: target }, { node: w14 });
    expect(pulled).toBe(target);
    const progress = await collect(client.lifecycleUpgrade({ image: target }, { node: w14 }));
    expect(progress.at(-1)).toEqual({ exitCode: 0 });
    expect(progress.filter((p) => p.line).length).toBeGreaterThan(0);
    // Installed, not booted: same version, same boot, still running (no UPGRADING stage, no drain).
    expect(await tag(w14)).toBe('v1.14.0');
    expect(await client.bootIdResource({ node: w14 })).toBe(bootBefore);
    expect((await client.machineStatus({ node: w14 })).stage).toBe('MACHINE_STAGE_RUNNING');
    await client.reboot({ mode: 'FORCE' }, { node: w14 });
    await waitForReboot(w14, bootBefore);
    expect(await tag(w14)).toBe('v1.14.1');
    expect(await client.bootIdResource({ node: w14 })).not.toBe(bootBefore);
    expect(calls('w-3', 'ImageService.Pull')).toHaveLength(1);
    expect(calls('w-3', 'LifecycleService.Upgrade').map((c) => c.outcome)).toEqual(['ok']);
    expect(calls('w-3', 'Reboot').map((c) => c.details)).toEqual([{ mode: 'FORCE' }]);
    expect(calls('w-3', 'Upgrade')).toHaveLength(0);
  });

  it('refuses to upgrade from an image that was not pulled into that containerd instance', async () => {
    const image = defaultInstallerImage('v1.13.3');
    await client.imagePull({ image, containerd: { driver: 'CRI', namespace: 'NS_CRI' } }, { node: w13 });
    await expect(collect(client.lifecycleUpgrade({ image }, { node: w13 }))).rejects.toMatchObject({
      code: 'internal',
      message: expect.stringMatching(/not found in containerd store/) as unknown,
    });
  });

  it('refuses a second upgrade while one runs (the node\'s install lock)', async () => {
    const image = defaultInstallerImage('v1.14.1');
    await client.imagePull({ image }, { node: w13 });
    const first = client.lifecycleUpgrade({ image }, { node: w13 });
    expect((await first.next()).value).toMatchObject({ line: expect.stringMatching(/running installer/) as unknown });
    await expect(collect(client.lifecycleUpgrade({ image }, { node: w13 }))).rejects.toMatchObject({
      code: 'failed_precondition',
      message: expect.stringMatching(/another installation\/upgrade is already in progress/) as unknown,
    });
    const rest = await collect(first);
    expect(rest.at(-1)).toEqual({ exitCode: 0 });
  });

  it('turns the installer\'s non-zero exit code (sent with status OK) into installer_failed, and the node keeps its version', async () => {
    // A downgrade the 1.11 installer refuses: a 1.13 host is too new for it.
    const image = 'ghcr.io/siderolabs/installer:v1.11.6';
    await client.imagePull({ image }, { node: w13 });
    const lines: string[] = [];
    let failure: unknown;
    try {
      for await (const p of client.lifecycleUpgrade({ image }, { node: w13 })) if (p.line) lines.push(p.line);
    } catch (err) {
      failure = err;
    }
    expect(failure).toBeInstanceOf(InstallerFailedError);
    expect(failure).toMatchObject({ code: 'installer_failed', exitCode: 1, retryable: false, message: expect.stringMatching(/host version 1.13.3 is too new to downgrade to Talos 1.11.6/) as unknown });
    expect(lines.at(-1)).toBe('error: host version 1.13.3 is too new to downgrade to Talos 1.11.6');
  });

  it('classifies a 1.14 installer refusal as invalid input (exit code 2): Kubernetes too old for 1.14', async () => {
    // Kubernetes 1.31 runs on 1.13 (1.31-1.36) but not on 1.14 (1.32-1.37); the kubelet image is applied live.
    const config = await client.machineConfig({ node: w13 });
    const older = config.replace(/ghcr\.io\/siderolabs\/kubelet:v[0-9.]+/, 'ghcr.io/siderolabs/kubelet:v1.31.4');
    onlyValue(await client.applyConfiguration({ data: older, mode: 'NO_REBOOT' }, { node: w13 }));
    const image = defaultInstallerImage('v1.14.1');
    await expect(collect(client.lifecycleUpgrade({ image }, { node: w13 }))).rejects.toMatchObject({
      code: 'installer_failed',
      exitCode: 2,
      message: expect.stringMatching(/exited with code 2 \(invalid input\): error: version of Kubernetes 1.31.4 is too old to be used with Talos 1.14.1/) as unknown,
    });
  });

  it('does not find the ghcr installer for 1.14, which is no longer published', async () => {
    await expect(client.imagePull({ image: 'ghcr.io/siderolabs/installer:v1.14.1' }, { node: w13 })).rejects.toMatchObject({ code: 'not_found' });
  });
});

describe('the legacy MachineService.Upgrade', () => {
  it('still upgrades a 1.12 node (server-side drain and reboot), and after the reboot it answers as 1.13', async () => {
    const before = await client.bootId({ node: w12 });
    const ack = onlyValue(await client.upgrade({ image: 'ghcr.io/siderolabs/installer:v1.13.3' }, { node: w12 }));
    expect(ack.ack).toBe('Upgrade request received');
    await waitForReboot(w12, before);
    expect(await tag(w12)).toBe('v1.13.3');
    expect(await client.imageList({ driver: 'CRI', namespace: 'NS_SYSTEM' }, { node: w12 })).toEqual([]);
  });

  it('still upgrades a 1.14 node, where it is deprecated but served', async () => {
    const before = await client.bootId({ node: w14 });
    onlyValue(await client.upgrade({ image: defaultInstallerImage('v1.14.2') }, { node: w14 }));
    await waitForReboot(w14, before);
    expect(await tag(w14)).toBe('v1.14.2');
  });

  it('refuses an image of no installer form before doing anything', async () => {
    const before = await client.bootId({ node: w14 });
    await expect(client.upgrade({ image: 'docker.io/library/nginx:v1.14.2' }, { node: w14 })).rejects.toMatchObject({
      code: 'unknown',
      message: expect.stringMatching(/error validating installer image "docker.io\/library\/nginx:v1.14.2": not a Talos installer image/) as unknown,
    });
    expect(await client.bootId({ node: w14 })).toBe(before);
  });
});

describe('apply modes per version', () => {
  /**
   * The node's config with another install disk: a change outside the parts Talos applies live, so it needs a reboot
   * on 1.10-1.13. Always a change, whatever disk an earlier case left.
   */
  const withRebootChange = async (node: string) => {
    const config = await client.machineConfig({ node });
    const disk = /disk: (\/dev\/sd[a-z])\n/.exec(config)?.[1];
    if (!disk) throw new Error(`the config of ${node} names no install disk`);
    return config.replace(`disk: ${disk}\n`, `disk: ${disk === '/dev/sdb' ? '/dev/sdc' : '/dev/sdb'}\n`);
  };
  const applies = (node: string, since: number) => t.fleet.calls('ApplyConfiguration', since).filter((c) => c.node === t.fleet.find(node)!.name);

  /** Applies a change that needs a reboot in `mode`: the reply says REBOOT, the node comes back with a new boot id running it, from that one call. */
  async function expectAppliedWithReboot(node: string, mode: 'REBOOT' | 'AUTO'): Promise<void> {
    const before = await client.bootId({ node });
    const since = Date.now();
    const data = await withRebootChange(node);
    expect(onlyValue(await client.applyConfiguration({ data, mode }, { node }))).toMatchObject({ mode: 'REBOOT', modeDetails: 'Applied configuration with a reboot' });
    await waitForReboot(node, before);
    expect(await client.machineConfig({ node })).toBe(data);
    expect(applies(node, since).map((c) => [c.outcome, c.details.mode])).toEqual([['ok', mode]]);
    // The apply rebooted the node itself: nobody called Reboot.
    expect(t.fleet.calls('Reboot', since)).toEqual([]);
  }

  /** NO_REBOOT of a change that needs a reboot: InvalidArgument, and the node keeps its config and its boot. */
  async function expectNoRebootRefused(node: string): Promise<void> {
    const before = { boot: await client.bootId({ node }), config: await client.machineConfig({ node }) };
    await expect(client.applyConfiguration({ data: await withRebootChange(node), mode: 'NO_REBOOT' }, { node })).rejects.toMatchObject({
      code: 'invalid_argument',
      message: expect.stringMatching(/can't be applied in immediate mode: it needs a reboot/) as unknown,
    });
    expect(await client.machineConfig({ node })).toBe(before.config);
    expect(await client.bootId({ node })).toBe(before.boot);
  }

  it('accepts REBOOT on a 1.10 node (the client sends it): the config is applied and the node reboots into it', async () => {
    expect(await tag(a10)).toBe('v1.10.9');
    await expectAppliedWithReboot(a10, 'REBOOT');
  });

  it('reboots a 1.10 node for AUTO when the change needs it', async () => {
    await expectAppliedWithReboot(a10, 'AUTO');
  });

  it('refuses NO_REBOOT on a 1.10 node for a change that needs a reboot, and changes nothing', async () => {
    await expectNoRebootRefused(a10);
  });

  it('never sends REBOOT to a configured 1.14 node: the client refuses it locally', async () => {
    const since = Date.now();
    await expect(client.applyConfiguration({ data: await client.machineConfig({ node: a14 }), mode: 'REBOOT' }, { node: a14 })).rejects.toMatchObject({
      code: 'apply_mode_unsupported',
      message: expect.stringMatching(/mode REBOOT is not supported by .* \(v1.14.1\): use AUTO or NO_REBOOT/) as unknown,
    });
    expect(applies(a14, since)).toEqual([]);
  });

  it('has a 1.14 node answer REBOOT (mode 0, also an unset mode) with Unimplemented, and change nothing', async () => {
    const conn = new Connection({ endpoints: [t.addr('cp-1')], credentials: mutualTlsCredentials(t.identity!), timeoutMs: 10_000 });
    try {
      const before = await client.machineConfig({ node: a14 });
      const data = Buffer.from(await withRebootChange(a14));
      const reply = conn.unary('/machine.MachineService/ApplyConfiguration', { data, mode: 'REBOOT' }, { node: a14 });
      await expect(reply).rejects.toMatchObject({ grpcCode: GrpcStatus.UNIMPLEMENTED, detail: 'the REBOOT mode is not supported, please use AUTO or NO_REBOOT modes instead' });
      expect(await client.machineConfig({ node: a14 })).toBe(before);
    } finally {
      conn.close();
    }
  });

  it('applies AUTO without a reboot on 1.14 even when the change would need one', async () => {
    const before = await client.bootId({ node: a14 });
    const data = await withRebootChange(a14);
    expect(onlyValue(await client.applyConfiguration({ data, mode: 'AUTO' }, { node: a14 }))).toMatchObject({ mode: 'NO_REBOOT', modeDetails: 'Applied configuration without a reboot' });
    expect(await client.machineConfig({ node: a14 })).toBe(data);
    expect(await client.bootId({ node: a14 })).toBe(before);
  });

  it('reboots a 1.13 node for AUTO when the change needs it', async () => {
    expect(await tag(a13)).toBe('v1.13.3');
    await expectAppliedWithReboot(a13, 'AUTO');
  });

  it('refuses NO_REBOOT for a change that needs a reboot on 1.13, as 1.10-1.13 do', async () => {
    await expectNoRebootRefused(a13);
  });

  it('refuses a document kind the node\'s version does not register, and keeps its config', async () => {
    const data = `${await client.machineConfig({ node: a13 })}---\napiVersion: v1alpha1\nkind: KubeletConfig\nimage: ghcr.io/siderolabs/kubelet:v1.33.6\n`;
    await expect(client.applyConfiguration({ data, mode: 'NO_REBOOT' }, { node: a13 })).rejects.toMatchObject({
      code: 'invalid_argument',
      message: expect.stringMatching(/failed to parse config: "KubeletConfig" "v1alpha1": not registered/) as unknown,
    });
    expect(await client.machineConfig({ node: a13 })).not.toContain('KubeletConfig');
  });
});
