import { ValidationError } from '../../src/errors';
import { issueCertificate } from '../../src/config/certs';
import { checkClusterEndpoint } from '../../src/config/endpoint';
import { generateMachineConfigs, type GeneratedConfigs } from '../../src/config/generate';
import { renderNodeConfig } from '../../src/config/node';
import { machineCertificateAuthority, parseMachineConfig, stringifyMachineConfig } from '../../src/config/machineconfig';
import { applyPatches, parsePatch } from '../../src/config/patches';
import { generateSecretsBundle, parseSecretsBundle, type SecretsBundle } from '../../src/config/secrets';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { contextIdentity } from '../../src/config/talosconfig';
import { certText, subjectOf, validityOf, verifies } from './openssl';

const now = new Date('2025-06-01T12:00:00Z');

/** The problems of a ValidationError thrown by `fn`, as `path: message` lines. */
function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ValidationError) return err.problems.map((p) => `${p.path}: ${p.message}`);
    throw err;
  }
  throw new Error('expected a ValidationError');
}

describe('generated machine configs', () => {
  let secrets: SecretsBundle;
  let out: GeneratedConfigs;
  beforeAll(async () => {
    secrets = await generateSecretsBundle({ now });
    out = await generateMachineConfigs({ clusterName: 'prod', endpoint: 'https://10.5.0.2:6443', secrets, now });
  });

  it('render the controlplane document with the top-level layout and defaults talosctl 1.10 writes', () => {
    const cp = parseMachineConfig(out.controlplane, 'controlplane.yaml');
    expect(Object.keys(cp.raw)).toEqual(['version', 'debug', 'persist', 'machine', 'cluster']);
    expect(Object.keys(cp.raw.machine as object)).toEqual(['type', 'token', 'ca', 'certSANs', 'kubelet', 'network', 'install', 'features', 'nodeLabels']);
    expect(cp.machine.type).toBe('controlplane');
    expect(cp.machine.kubelet.image).toBe('ghcr.io/siderolabs/kubelet:v1.33.6');
    expect(cp.machine.install).toEqual({ disk: '/dev/sda', image: 'ghcr.io/siderolabs/installer:v1.10.9' });
    expect(cp.machine.features.rbac).toBe(true);
    expect(cp.cluster.apiServer).toEqual({ image: 'registry.k8s.io/kube-apiserver:v1.33.6', certSANs: ['10.5.0.2'] });
    expect(cp.cluster.network).toEqual({ dnsDomain: 'cluster.local', podSubnets: ['10.244.0.0/16'], serviceSubnets: ['10.96.0.0/12'] });
    expect(cp.cluster.clusterName).toBe('prod');
    expect(cp.cluster.id).toBe(secrets.cluster.id);
    expect(out.controlplane).toMatch(/\n {4}secretboxEncryptionSecret: /);
    expect(out.controlplane).toMatch(/\n {8}admissionControl:\n {12}- name: PodSecurity\n {14}configuration:\n {16}apiVersion: pod-security/);
  });

  it('weave the secrets in: the control plane holds the CA keys, the worker only the certificates', () => {
    const cp = parseMachineConfig(out.controlplane);
    const worker = parseMachineConfig(out.worker);
    expect(machineCertificateAuthority(cp)).toEqual(secrets.certs.os);
    expect(cp.machine.token).toBe(secrets.trustdInfo.token);
    expect(cp.cluster.token).toBe(secrets.secrets.bootstrapToken);
    expect(worker.machine.type).toBe('worker');
    expect(worker.machine.ca.key).toBeUndefined();
    expect(worker.cluster.ca?.key).toBeUndefined();
    expect(out.worker).not.toMatch(/etcd:|apiServer:|serviceAccount:|aggregatorCA:|secretboxEncryptionSecret/);
    expect(out.worker).toMatch(/\n {4}ca:\n {8}crt: \S+\n {8}key: ""\n/);
    expect(() => machineCertificateAuthority(worker)).toThrow(/machine\.ca\.key: is required/);
  });

  it('use the Kubernetes default of the chosen Talos contract, and refuse unsupported versions', async () => {
    const v19 = await generateMachineConfigs({ clusterName: 'old', endpoint: 'https://old:6443', secrets, talosVersion: 'v1.9' });
    expect(parseMachineConfig(v19.controlplane).cluster.apiServer.image).toBe('registry.k8s.io/kube-apiserver:v1.32.4');
    expect(v19.controlplane).toMatch(/image: ghcr.io\/siderolabs\/installer:v1.9.6/);
    await expect(generateMachineConfigs({ clusterName: 'x', endpoint: 'https://x:6443', secrets, talosVersion: 'v1.7' })).rejects.toThrow(/not supported; supported: v1.9, v1.10/);
    await expect(generateMachineConfigs({ clusterName: 'x', endpoint: 'https://x:6443', secrets, kubernetesVersion: '1.34.0' })).rejects.toThrow(/Kubernetes 1.34.0 is not supported by Talos v1.10 \(supported: 1.28–1.33\)/);
  });

  it('come with a talosconfig whose admin certificate is Ed25519, O=os:admin, ClientAuth, valid one year, from the OS CA', () => {
    const { name, context, identity } = contextIdentity(out.talosconfig);
    expect(name).toBe('prod');
    expect(context.endpoints).toEqual([]);
    expect(identity!.ca).toBe(secrets.certs.os.crt);
    expect(subjectOf(identity!.crt)).toBe('O=os:admin');
    expect(certText(identity!.crt)).toMatch(/Public Key Algorithm: ED25519[\s\S]*TLS Web Client Authentication\n/);
    expect(validityOf(identity!.crt)).toEqual({ notBefore: now, notAfter: new Date('2026-06-01T12:00:00Z') });
    expect(verifies(secrets.certs.os.crt, identity!.crt, now)).toBe(true);
  });

  it('give the simulator a CA that issues an Ed25519 server certificate with loopback IP SANs', async () => {
    const ca = machineCertificateAuthority(parseMachineConfig(out.controlplane));
    const server = await issueCertificate(ca, { ipAddresses: ['127.0.0.5'], usage: 'server', ttlMs: 86_400_000, now });
    expect(certText(server.crt)).toMatch(/IP Address:127.0.0.5/);
    expect(verifies(ca.crt, server.crt, now)).toBe(true);
  });

  it('apply per-node settings: hostname, static addresses and routes, install disk', () => {
    const node = renderNodeConfig(out.controlplane, {
      hostname: 'cp-1',
      installDisk: '/dev/nvme0n1',
      interfaces: [{ interface: 'eth0', addresses: ['10.5.0.2/24'], routes: [{ network: '0.0.0.0/0', gateway: '10.5.0.1' }] }],
    });
    const cfg = parseMachineConfig(node);
    expect(cfg.machine.network.hostname).toBe('cp-1');
    expect(cfg.machine.install.disk).toBe('/dev/nvme0n1');
    expect(cfg.machine.network.interfaces).toEqual([{ interface: 'eth0', addresses: ['10.5.0.2/24'], routes: [{ network: '0.0.0.0/0', gateway: '10.5.0.1' }] }]);
    expect(() => renderNodeConfig(out.controlplane, { interfaces: [{ interface: 'eth0', addresses: ['10.5.0.300/24'] }] })).toThrow(
      /machine\.network\.interfaces\[0\]\.addresses\[0\]: "10\.5\.0\.300\/24" is not an IP address or CIDR/,
    );
  });

  it('reject a patch that would produce an invalid config, naming the field', async () => {
    const bad = parsePatch('cluster:\n  network:\n    podSubnets: ["10.244.0.0/33"]\n');
    await expect(generateMachineConfigs({ clusterName: 'p', endpoint: 'https://p:6443', secrets, patches: [bad] })).rejects.toThrow(
      /cluster\.network\.podSubnets\[0\]: "10\.244\.0\.0\/33" is not a valid CIDR/,
    );
  });

  it('write back unchanged after parsing', () => {
    expect(stringifyMachineConfig(parseMachineConfig(out.controlplane))).toBe(out.controlplane);
    expect(stringifyMachineConfig(parseMachineConfig(out.worker))).toBe(out.worker);
  });
});

describe('machine config validation', () => {
  let base: string;
  let otherKey: string;
  beforeAll(async () => {
    const secrets = await generateSecretsBundle({ versionContract: 'v1.10' });
    base = (await generateMachineConfigs({ clusterName: 'v', endpoint: 'https://v:6443', secrets })).controlplane;
    otherKey = Buffer.from((await generateSecretsBundle({ versionContract: 'v1.2' })).certs.os.key).toString('base64');
  });

  it('reports a configuration without a v1alpha1 document', () => {
    expect(problemsOf(() => parseMachineConfig('apiVersion: v1alpha1\nkind: KubeletConfig\n'))).toEqual([
      ': no v1alpha1 document (a document with "version: v1alpha1") found',
    ]);
  });

  it('collects every problem with its field path: type, endpoint, CIDR, CA key, token', () => {
    const broken = base
      .replace('    type: controlplane\n', '')
      .replace('endpoint: https://v:6443', 'endpoint: v:6443')
      .replace('- 10.96.0.0/12', '- 10.96.0.0/40')
      .replace(/(\n {4}ca:\n {8}crt: \S+\n {8}key: )\S+/, `$1${otherKey}`)
      .replace(/(\n {4}token: )\S+/, '$1bad');
    const problems = problemsOf(() => parseMachineConfig(broken, 'cp.yaml'));
    expect(problems).toEqual(
      expect.arrayContaining([
        'machine.type: is required',
        'machine.token: is not a token of the form [0-9a-z]{6}.[0-9a-z]{16} (the value is a secret and not shown)',
        'machine.ca.key: does not match the certificate in machine.ca.crt',
        'cluster.controlPlane.endpoint: "v:6443" has no scheme; try "https://v:6443"',
        'cluster.network.serviceSubnets[0]: "10.96.0.0/40" is not a valid CIDR (e.g. 10.244.0.0/16)',
      ]),
    );
  });

  it('names a malformed token or a mistyped secret field without showing its value', () => {
    // Near misses of real secrets (upper case, a dropped character): echoing them would leak the real ones.
    const token = 'K7QX2M.9F4TZ0B8W1RC5HJL';
    const broken = base.replace(/(\n {4}token: )\S+/g, `$1${token}`);
    const err = (() => {
      try {
        parseMachineConfig(broken, 'cp.yaml');
      } catch (e) {
        return e as ValidationError;
      }
      throw new Error('expected a ValidationError');
    })();
    expect(err.problems.map((p) => p.path)).toEqual(expect.arrayContaining(['machine.token', 'cluster.token']));
    expect(err.message).not.toContain(token);
    // A patch that puts a mapping where a secret is names the path and the kinds, not the secret it would replace.
    const machineToken = /\n {4}token: (\S+)/.exec(base)![1]!;
    const clusterSecret = /\n {4}secret: (\S+)/.exec(base)![1]!;
    const messageOf = (patch: string): string => {
      try {
        applyPatches(base, [parsePatch(patch)]);
      } catch (e) {
        return (e as Error).message;
      }
      throw new Error('expected the patch to fail');
    };
    expect(messageOf('machine:\n  token:\n    nested: true\n')).toMatch(/cannot merge a mapping into a string at machine\.token$/);
    expect(messageOf('machine:\n  token:\n    nested: true\n')).not.toContain(machineToken);
    expect(messageOf('cluster:\n  secret:\n    - listed\n')).toMatch(/cannot merge a list into a string at cluster\.secret$/);
    expect(messageOf('cluster:\n  secret:\n    - listed\n')).not.toContain(clusterSecret);
  });

  it('finds the v1alpha1 document among several', () => {
    const multi = `${base}---\napiVersion: v1alpha1\nkind: KmsgLogConfig\nname: remote\nurl: tcp://10.0.0.9:514\n`;
    const cfg = parseMachineConfig(multi);
    expect(cfg.documents).toHaveLength(2);
    expect(cfg.machine.type).toBe('controlplane');
  });
});

describe('cluster endpoint validation', () => {
  it.each([
    ['10.0.0.1', 'has no scheme and no port; try "https://10.0.0.1:6443"'],
    ['lb.example.com:6443', 'has no scheme; try "https://lb.example.com:6443"'],
    ['http://lb:6443', 'must use the https:// scheme; try "https://lb:6443"'],
    ['https://lb', 'has no port; try "https://lb:6443"'],
    ['https://lb:70000', 'port 70000 must be between 1 and 65535'],
    ['https://fd00::1:6443', 'IPv6 addresses must be enclosed in square brackets'],
    ['https://:6443', 'has no host name'],
  ])('refuses %s, saying what is wrong and what to try', (endpoint, message) => {
    expect(() => checkClusterEndpoint(endpoint)).toThrow(message);
  });

  it('refuses user information in the endpoint without repeating the password', () => {
    expect(() => checkClusterEndpoint('https://admin:hunter2@lb:6443')).toThrow('must not contain user information');
    expect(() => checkClusterEndpoint('https://admin:hunter2@lb:6443')).not.toThrow(/hunter2/);
  });

  it('accepts https URLs with a host and port, IPv6 in brackets included', () => {
    expect(checkClusterEndpoint('https://[fd00::1]:6443')).toBe('https://[fd00::1]:6443');
    expect(checkClusterEndpoint('https://cp.example.com:443')).toBe('https://cp.example.com:443');
  });
});

describe('gen config for the 1.12-1.14 contracts', () => {
  const bundle = () => parseSecretsBundle(readFileSync(join(__dirname, '..', 'golden', 'talosctl-v1.10', 'secrets.yaml'), 'utf8'), 'golden bundle');

  it('patches the documents that hold the component images in the 1.14 contract', async () => {
    const patch = parsePatch('apiVersion: v1alpha1\nkind: KubeAPIServerConfig\nimage: registry.k8s.io/kube-apiserver:v1.37.1\n');
    const { controlplane } = await generateMachineConfigs({ clusterName: 'x', endpoint: 'https://10.0.0.1:6443', secrets: bundle(), talosVersion: 'v1.14', controlPlanePatches: [patch] });
    expect(parseMachineConfig(controlplane).cluster.apiServer.image).toBe('registry.k8s.io/kube-apiserver:v1.37.1');
  });

  it('says where a field went when a patch sets it where the chosen contract no longer keeps it', async () => {
    const patch = parsePatch('cluster:\n  apiServer:\n    image: registry.k8s.io/kube-apiserver:v1.37.1\n');
    await expect(generateMachineConfigs({ clusterName: 'x', endpoint: 'https://10.0.0.1:6443', secrets: bundle(), talosVersion: 'v1.14', controlPlanePatches: [patch] })).rejects.toThrow(
      /cluster\.apiServer: the v1\.14 contract moved this field to the KubeAPIServerConfig document: patch that document instead/,
    );
    const hostname = parsePatch('machine:\n  network:\n    hostname: cp-1\n');
    await expect(generateMachineConfigs({ clusterName: 'x', endpoint: 'https://10.0.0.1:6443', secrets: bundle(), talosVersion: 'v1.12', patches: [hostname] })).rejects.toThrow(
      /machine\.network\.hostname: the v1\.12 contract moved this field to the HostnameConfig document/,
    );
  });

  it('defaults to each release\'s Kubernetes and installer: 1.35.4 and ghcr for 1.12, 1.37.0 and the Image Factory for 1.14', async () => {
    const on12 = parseMachineConfig((await generateMachineConfigs({ clusterName: 'x', endpoint: 'https://10.0.0.1:6443', secrets: bundle(), talosVersion: 'v1.12' })).worker);
    const on14 = parseMachineConfig((await generateMachineConfigs({ clusterName: 'x', endpoint: 'https://10.0.0.1:6443', secrets: bundle(), talosVersion: 'v1.14' })).worker);
    expect([on12.machine.kubelet.image, on12.machine.install.image]).toEqual(['ghcr.io/siderolabs/kubelet:v1.35.4', 'ghcr.io/siderolabs/installer:v1.12.7']);
    expect(on14.machine.kubelet.image).toBe('ghcr.io/siderolabs/kubelet:v1.37.0');
    expect(on14.machine.install.image).toMatch(/^factory\.talos\.dev\/metal-installer\/376567988ad3/);
  });

  it('refuses Kubernetes outside the 1.14 range', async () => {
    await expect(generateMachineConfigs({ clusterName: 'x', endpoint: 'https://10.0.0.1:6443', secrets: bundle(), talosVersion: 'v1.14', kubernetesVersion: '1.31.4' })).rejects.toThrow(
      /Kubernetes 1.31.4 is not supported by Talos v1.14 \(supported: 1.32–1.37\)/,
    );
  });
});
