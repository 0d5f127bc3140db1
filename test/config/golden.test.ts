import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateMachineConfigs } from '../../src/config/generate';
import { parseMachineConfig } from '../../src/config/machineconfig';
import { parseSecretsBundle, stringifySecretsBundle } from '../../src/config/secrets';
import { contextIdentity, parseTalosconfig } from '../../src/config/talosconfig';

/** Files a real talosctl 1.10 wrote (test/golden/talosctl-v1.10/README.md says how), compared on every run. */
const GOLDEN = join(__dirname, '..', 'golden', 'talosctl-v1.10');
const golden = (name: string) => readFileSync(join(GOLDEN, name), 'utf8');

describe('byte compatibility with talosctl 1.10 (golden files from the real talosctl)', () => {
  it('reads the secrets bundle talosctl gen secrets wrote, and writes it back byte for byte', () => {
    const text = golden('secrets.yaml');
    expect(stringifySecretsBundle(parseSecretsBundle(text, 'golden secrets.yaml'))).toBe(text);
  });

  it('generates exactly the controlplane.yaml and worker.yaml talosctl gen config made from that bundle', async () => {
    const generated = await generateMachineConfigs({
      clusterName: 'golden',
      endpoint: 'https://10.5.0.10:6443',
      secrets: parseSecretsBundle(golden('secrets.yaml'), 'golden secrets.yaml'),
      talosVersion: 'v1.10',
    });
    expect(generated.controlplane).toBe(golden('controlplane.yaml'));
    expect(generated.worker).toBe(golden('worker.yaml'));
    expect(parseMachineConfig(golden('worker.yaml'), 'golden worker.yaml').machine.type).toBe('worker');
  });

  it('reads the talosconfig talosctl wrote: its context, endpoints and an identity whose CA is the bundle\'s', () => {
    const cfg = parseTalosconfig(golden('talosconfig'), 'golden talosconfig');
    const { name, context, identity } = contextIdentity(cfg, undefined, 'golden talosconfig');
    expect(name).toBe('golden');
    expect(context.endpoints).toEqual([]);
    expect(identity!.ca.replace(/\s+/g, '')).toBe(parseSecretsBundle(golden('secrets.yaml'), 'golden').certs.os.crt.replace(/\s+/g, ''));
  });
});

/** Files upstream's generator (pkg/machinery v1.12.7 and v1.14.1) wrote from the same bundle (their READMEs say how). */
describe.each(['1.12', '1.14'])('byte compatibility with upstream\'s generator for the v%s contract', (minor) => {
  const dir = join(__dirname, '..', 'golden', `machinery-v${minor}`);

  it('generates exactly the controlplane.yaml and worker.yaml upstream\'s generator wrote for that bundle', async () => {
    const generated = await generateMachineConfigs({
      clusterName: 'golden',
      endpoint: 'https://10.5.0.10:6443',
      secrets: parseSecretsBundle(golden('secrets.yaml'), 'golden secrets.yaml'),
      talosVersion: `v${minor}`,
    });
    expect(generated.controlplane).toBe(readFileSync(join(dir, 'controlplane.yaml'), 'utf8'));
    expect(generated.worker).toBe(readFileSync(join(dir, 'worker.yaml'), 'utf8'));
  });

  it('reads upstream\'s files back: role, endpoint, cluster identity and installer image', () => {
    const cp = parseMachineConfig(readFileSync(join(dir, 'controlplane.yaml'), 'utf8'), 'controlplane.yaml');
    const w = parseMachineConfig(readFileSync(join(dir, 'worker.yaml'), 'utf8'), 'worker.yaml');
    expect([cp.machine.type, w.machine.type]).toEqual(['controlplane', 'worker']);
    expect(cp.cluster.controlPlane.endpoint).toBe('https://10.5.0.10:6443');
    expect(w.cluster.id).toBe('lO0oTyLnAbhZwuC1n1X6s16pSc4AlO1zxS9v2EQDvHk=');
    expect(cp.machine.install.image).toBe(minor === '1.14' ? 'factory.talos.dev/metal-installer/376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba:v1.14.1' : 'ghcr.io/siderolabs/installer:v1.12.7');
  });
});

/** Files a real talosctl 1.13.0 wrote from the same bundle (test/golden/talosctl-v1.13/README.md says how). */
describe('byte compatibility with talosctl 1.13 for the v1.13 contract', () => {
  it('generates exactly the controlplane.yaml and worker.yaml talosctl 1.13 wrote: 1.12\'s shape without the empty machine.network', async () => {
    const dir = join(__dirname, '..', 'golden', 'talosctl-v1.13');
    const generated = await generateMachineConfigs({ clusterName: 'golden', endpoint: 'https://10.5.0.10:6443', secrets: parseSecretsBundle(golden('secrets.yaml'), 'golden secrets.yaml'), talosVersion: 'v1.13' });
    expect(generated.controlplane).toBe(readFileSync(join(dir, 'controlplane.yaml'), 'utf8'));
    expect(generated.worker).toBe(readFileSync(join(dir, 'worker.yaml'), 'utf8'));
    expect(parseMachineConfig(generated.worker, 'worker.yaml').raw.machine).not.toHaveProperty('network');
  });
});
