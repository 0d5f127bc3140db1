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
