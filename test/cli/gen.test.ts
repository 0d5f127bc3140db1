import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main';
import { parseMachineConfig } from '../../src/config/machineconfig';
import { parseSecretsBundle } from '../../src/config/secrets';
import { contextIdentity } from '../../src/config/talosconfig';
import { loadTalosconfig } from '../../src/talos/talosconfig';
import { certText, subjectOf, validityOf } from '../config/openssl';

let dir: string;
let stderr: string;

/** Runs the CLI in-process and returns its exit code; what it printed to stderr lands in `stderr`. */
async function run(...args: string[]): Promise<number> {
  stderr = '';
  const spy = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += chunk.toString();
    return true;
  });
  try {
    return await main(args);
  } finally {
    spy.mockRestore();
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gen-cli-'));
  expect(await run('gen', 'secrets', '-o', join(dir, 'secrets.yaml'))).toBe(0);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('talos-fleet gen secrets', () => {
  it('writes a bundle that loads, and refuses to overwrite it without --force', async () => {
    const path = join(dir, 'secrets.yaml');
    const first = readFileSync(path, 'utf8');
    expect(parseSecretsBundle(first, path).trustdInfo.token).toMatch(/^[0-9a-z]{6}\.[0-9a-z]{16}$/);
    expect(await run('gen', 'secrets', '-o', path)).toBe(1);
    expect(stderr).toMatch(/refusing to overwrite .*secrets\.yaml; use --force/);
    expect(readFileSync(path, 'utf8')).toBe(first);
    expect(await run('gen', 'secrets', '-o', join(dir, 'other.yaml'), '--talos-version', 'v1.9')).toBe(0);
    expect(await run('gen', 'secrets', '-o', join(dir, 'other.yaml'), '--force')).toBe(0);
    expect(stderr).toMatch(/Created .*other\.yaml/);
  });
});

describe('talos-fleet gen config', () => {
  it('writes controlplane.yaml, worker.yaml and talosconfig from the bundle, with patches per role', async () => {
    const out = join(dir, 'cluster');
    writeFileSync(join(dir, 'cp-patch.yaml'), 'cluster:\n  allowSchedulingOnControlPlanes: true\n');
    const code = await run(
      'gen', 'config', 'prod', 'https://10.5.0.10:6443',
      '--with-secrets', join(dir, 'secrets.yaml'),
      '--talos-version', 'v1.10', '--kubernetes-version', 'v1.33.1',
      '--config-patch', '[{"op":"add","path":"/machine/network/nameservers","value":["10.5.0.1"]}]',
      '--config-patch-control-plane', `@${join(dir, 'cp-patch.yaml')}`,
      '--config-patch-worker', 'machine:\n  install:\n    disk: /dev/vdb\n',
      '--endpoints', '10.5.0.2,10.5.0.3',
      '-o', out,
    );
    expect(stderr).toBe(['controlplane.yaml', 'worker.yaml', 'talosconfig'].map((f) => `Created ${join(out, f)}\n`).join(''));
    expect(code).toBe(0);
    const secrets = parseSecretsBundle(readFileSync(join(dir, 'secrets.yaml'), 'utf8'), 'secrets');
    const cp = parseMachineConfig(readFileSync(join(out, 'controlplane.yaml'), 'utf8'));
    const worker = parseMachineConfig(readFileSync(join(out, 'worker.yaml'), 'utf8'));
    expect(cp.cluster.id).toBe(secrets.cluster.id);
    expect(cp.cluster.apiServer.image).toBe('registry.k8s.io/kube-apiserver:v1.33.1');
    expect(cp.machine.network.nameservers).toEqual(['10.5.0.1']);
    expect(worker.machine.network.nameservers).toEqual(['10.5.0.1']);
    expect(cp.raw.cluster).toMatchObject({ allowSchedulingOnControlPlanes: true });
    expect(worker.raw.cluster).not.toHaveProperty('allowSchedulingOnControlPlanes');
    expect(worker.machine.install.disk).toBe('/dev/vdb');
    expect(cp.machine.install.disk).toBe('/dev/sda');
    const tc = loadTalosconfig(join(out, 'talosconfig'));
    const { context, identity } = contextIdentity(tc, 'prod');
    expect(context.endpoints).toEqual(['10.5.0.2', '10.5.0.3']);
    expect(identity!.ca).toBe(secrets.certs.os.crt);
    expect(subjectOf(identity!.crt)).toBe('O=os:admin');
  });

  it('refuses to overwrite any of the three files and writes none of them', async () => {
    const out = join(dir, 'partial');
    expect(await run('gen', 'config', 'c', 'https://c:6443', '--with-secrets', join(dir, 'secrets.yaml'), '-o', out)).toBe(0);
    rmSync(join(out, 'controlplane.yaml'));
    rmSync(join(out, 'worker.yaml'));
    expect(await run('gen', 'config', 'c', 'https://c:6443', '--with-secrets', join(dir, 'secrets.yaml'), '-o', out)).toBe(1);
    expect(stderr).toMatch(/refusing to overwrite .*talosconfig/);
    expect(readdirSync(out)).toEqual(['talosconfig']);
  });

  it('explains a bad endpoint and suggests the URL to use', async () => {
    expect(await run('gen', 'config', 'c', '10.0.0.1', '-o', join(dir, 'never'))).toBe(1);
    expect(stderr).toContain('"10.0.0.1" has no scheme and no port; try "https://10.0.0.1:6443"');
    expect(existsSync(join(dir, 'never'))).toBe(false);
  });

  it('refuses --with-cluster-discovery other than true or false, writing nothing', async () => {
    const out = join(dir, 'never-discovery');
    expect(await run('gen', 'config', 'c', 'https://c:6443', '--with-secrets', join(dir, 'secrets.yaml'), '--with-cluster-discovery', 'yes please', '-o', out)).toBe(1);
    expect(stderr).toBe('error: --with-cluster-discovery must be true or false, got "yes please"\n');
    expect(existsSync(out)).toBe(false);
    expect(await run('gen', 'config', 'c', 'https://c:6443', '--with-secrets', join(dir, 'secrets.yaml'), '--with-cluster-discovery', 'false', '-o', out)).toBe(0);
    expect(readFileSync(join(out, 'controlplane.yaml'), 'utf8')).toMatch(/discovery:\n\s+enabled: false/);
  });

  it('names the field when the bundle is truncated', async () => {
    const text = readFileSync(join(dir, 'secrets.yaml'), 'utf8');
    writeFileSync(join(dir, 'cut.yaml'), text.slice(0, Math.floor(text.length / 2)));
    expect(await run('gen', 'config', 'c', 'https://c:6443', '--with-secrets', join(dir, 'cut.yaml'), '-o', join(dir, 'never'))).toBe(1);
    expect(stderr).toMatch(/secrets bundle .*cut\.yaml is invalid:\n[\s\S]*certs\.os: is required/);
    expect(existsSync(join(dir, 'never'))).toBe(false);
  });
});

describe('talos-fleet gen talosconfig', () => {
  it('issues a least-privilege os:etcd:backup certificate with the requested lifetime', async () => {
    const path = join(dir, 'backup-talosconfig');
    expect(await run('gen', 'talosconfig', '--with-secrets', join(dir, 'secrets.yaml'), '--roles', 'os:etcd:backup', '--crt-ttl', '24h', '--cluster', 'prod', '-o', path)).toBe(0);
    const { name, context, identity } = contextIdentity(loadTalosconfig(path));
    expect(name).toBe('prod');
    expect(context.cluster).toBe('prod');
    expect(subjectOf(identity!.crt)).toBe('O=os:etcd:backup');
    expect(certText(identity!.crt)).toMatch(/Public Key Algorithm: ED25519[\s\S]*TLS Web Client Authentication\n/);
    const { notBefore, notAfter } = validityOf(identity!.crt);
    expect(notAfter.getTime() - notBefore.getTime()).toBe(24 * 3_600_000);
  });

  it('refuses unknown roles and a zero lifetime without writing anything', async () => {
    const path = join(dir, 'never-talosconfig');
    expect(await run('gen', 'talosconfig', '--with-secrets', join(dir, 'secrets.yaml'), '--roles', 'os:backup', '-o', path)).toBe(1);
    expect(stderr).toContain('unknown role "os:backup"; known roles: os:admin, os:operator, os:reader, os:etcd:backup, os:impersonator');
    expect(await run('gen', 'talosconfig', '--with-secrets', join(dir, 'secrets.yaml'), '--crt-ttl', '0h', '-o', path)).toBe(1);
    expect(stderr).toContain('--crt-ttl must be longer than zero, got "0h"');
    expect(await run('gen', 'talosconfig', '--with-secrets', join(dir, 'secrets.yaml'), '--crt-ttl', 'forever', '-o', path)).toBe(1);
    expect(stderr).toContain('"forever" is not a duration such as 8760h or 1h30m');
    expect(existsSync(path)).toBe(false);
  });

  it('refuses a lifetime under a minute or past the CA\'s, with one error and no file', async () => {
    const path = join(dir, 'never-talosconfig');
    const secrets = join(dir, 'secrets.yaml');
    expect(await run('gen', 'talosconfig', '--with-secrets', secrets, '--crt-ttl', '1ns', '-o', path)).toBe(1);
    expect(stderr).toBe('error: --crt-ttl 1ns is shorter than a minute: the certificate would expire before it is used; use for example 24h or 8760h\n');
    expect(await run('gen', 'talosconfig', '--with-secrets', secrets, '--crt-ttl', '99999999999h', '-o', path)).toBe(1);
    expect(stderr).toMatch(/^error: --crt-ttl 99999999999h would outlive the OS CA of .*secrets\.yaml, which expires at \d{4}-\d\d-\d\dT[\d:.]+Z; use at most \d+h\n$/);
    expect(existsSync(path)).toBe(false);
    // The longest lifetime the message offers is accepted.
    const hours = /use at most (\d+)h/.exec(stderr)![1]!;
    expect(await run('gen', 'talosconfig', '--with-secrets', secrets, '--crt-ttl', `${hours}h`, '-o', path)).toBe(0);
  });
});
