import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { applyPatches, loadPatch, parsePatch } from '../../src/config/patches';

const base = `version: v1alpha1
machine:
    type: controlplane
    certSANs:
        - a.example.com
    network:
        hostname: node-1
        interfaces:
            - interface: eth0
              addresses:
                - 10.0.0.2/24
              vlans:
                - vlanId: 10
                  addresses:
                    - 192.168.10.2/24
            - interface: eth1
              dhcp: true
    install:
        disk: /dev/sda
        wipe: false
    nodeLabels:
        node.kubernetes.io/exclude-from-external-load-balancers: ""
cluster:
    network:
        podSubnets:
            - 10.244.0.0/16
        serviceSubnets:
            - 10.96.0.0/12
    apiServer:
        certSANs:
            - cp
        admissionControl:
            - name: PodSecurity
              configuration:
                kind: PodSecurityConfiguration
        auditPolicy:
            apiVersion: audit.k8s.io/v1
            kind: Policy
            rules:
                - level: Metadata
`;

/** The fields of the v1alpha1 document these tests look at. */
interface V1 {
  machine: {
    type: string;
    certSANs: string[];
    install: { disk?: string; wipe?: boolean };
    network: { hostname?: string; nameservers?: string[]; interfaces: { interface: string; addresses?: string[]; vlans?: unknown[] }[] };
    nodeLabels: Record<string, string>;
  };
  cluster: {
    network: { podSubnets: string[]; serviceSubnets: string[] };
    apiServer: { auditPolicy: { rules: unknown[] }; admissionControl: unknown[] };
  };
}

/** The v1alpha1 document of a patched config, as data. */
const v1 = (yaml: string): V1 => {
  const [doc] = YAML.parseAllDocuments(yaml);
  if (!doc) throw new Error(`no YAML document in:\n${yaml}`);
  return doc.toJS() as V1;
};
const apply = (...patches: string[]): string => applyPatches(base, patches.map((p) => parsePatch(p)));

describe('strategic merge patches', () => {
  it('override scalars and append to ordinary lists', () => {
    const out = v1(apply('machine:\n  install:\n    disk: /dev/vda\n    wipe: true\n  certSANs: [b.example.com]\n'));
    expect(out.machine.install).toEqual({ disk: '/dev/vda', wipe: true });
    expect(out.machine.certSANs).toEqual(['a.example.com', 'b.example.com']);
  });

  it('replace podSubnets, serviceSubnets and the audit policy instead of appending, as upstream does', () => {
    const out = v1(apply('cluster:\n  network:\n    podSubnets: [10.0.0.0/16]\n    serviceSubnets: [10.1.0.0/16]\n  apiServer:\n    auditPolicy:\n      apiVersion: audit.k8s.io/v1\n      kind: Policy\n      rules: [{level: None}]\n'));
    expect(out.cluster.network.podSubnets).toEqual(['10.0.0.0/16']);
    expect(out.cluster.network.serviceSubnets).toEqual(['10.1.0.0/16']);
    expect(out.cluster.apiServer.auditPolicy.rules).toEqual([{ level: 'None' }]);
  });

  it('merge network interfaces by name, VLANs by vlanId and admission plugins by name', () => {
    const out = v1(
      apply(
        'machine:\n  network:\n    interfaces:\n      - interface: eth0\n        addresses: [10.0.0.3/24]\n        vlans:\n          - vlanId: 10\n            mtu: 1400\n          - vlanId: 20\n            dhcp: true\n      - interface: eth2\n        dhcp: true\n' +
          'cluster:\n  apiServer:\n    admissionControl:\n      - name: PodSecurity\n        configuration:\n          apiVersion: pod-security.admission.config.k8s.io/v1\n',
      ),
    );
    expect(out.machine.network.interfaces.map((i: { interface: string }) => i.interface)).toEqual(['eth0', 'eth1', 'eth2']);
    expect(out.machine.network.interfaces[0]?.addresses).toEqual(['10.0.0.2/24', '10.0.0.3/24']);
    expect(out.machine.network.interfaces[0]?.vlans).toEqual([
      { vlanId: 10, addresses: ['192.168.10.2/24'], mtu: 1400 },
      { vlanId: 20, dhcp: true },
    ]);
    expect(out.cluster.apiServer.admissionControl).toEqual([
      { name: 'PodSecurity', configuration: { kind: 'PodSecurityConfiguration', apiVersion: 'pod-security.admission.config.k8s.io/v1' } },
    ]);
  });

  it('delete a key, a list item selected by its key, and a map entry with $patch: delete', () => {
    const out = v1(
      apply(
        'machine:\n  network:\n    hostname:\n      $patch: delete\n    interfaces:\n      - interface: eth1\n        $patch: delete\n  nodeLabels:\n    node.kubernetes.io/exclude-from-external-load-balancers:\n      $patch: delete\n' +
          'cluster:\n  apiServer:\n    admissionControl:\n      - name: PodSecurity\n        $patch: delete\n',
      ),
    );
    expect(out.machine.network.hostname).toBeUndefined();
    expect(out.machine.network.interfaces.map((i: { interface: string }) => i.interface)).toEqual(['eth0']);
    expect(out.machine.nodeLabels).toEqual({});
    expect(out.cluster.apiServer.admissionControl).toEqual([]);
  });

  it('refuse to delete what is not there, naming the path', () => {
    expect(() => apply('machine:\n  network:\n    hostname:\n      $patch: delete\n', 'machine:\n  network:\n    hostname:\n      $patch: delete\n')).toThrow(
      /patch delete: path 'machine\.network\.hostname' in document v1alpha1: lookup failed/,
    );
  });

  it('add, merge and delete whole extra documents matched by kind and name', () => {
    const withDoc = apply('apiVersion: v1alpha1\nkind: ExtensionServiceConfig\nname: foo\nenvironment: [A=1]\n');
    expect(withDoc.split('---\n')).toHaveLength(2);
    const merged = applyPatches(withDoc, [parsePatch('apiVersion: v1alpha1\nkind: ExtensionServiceConfig\nname: foo\nenvironment: [B=2]\n')]);
    expect(YAML.parseAllDocuments(merged)[1]?.toJS()).toEqual({ apiVersion: 'v1alpha1', kind: 'ExtensionServiceConfig', name: 'foo', environment: ['A=1', 'B=2'] });
    const removed = applyPatches(merged, [parsePatch('apiVersion: v1alpha1\nkind: ExtensionServiceConfig\nname: foo\n$patch: delete\n')]);
    expect(removed.split('---\n')).toHaveLength(1);
  });

  it('keep Talos field layout in the output', () => {
    expect(apply('machine:\n  install:\n    disk: /dev/vda\n')).toBe(base.replace('disk: /dev/sda', 'disk: /dev/vda'));
  });
});

describe('JSON (RFC 6902) patches', () => {
  it('add, replace and remove fields', () => {
    const out = v1(
      apply('[{"op":"add","path":"/machine/network/nameservers","value":["1.1.1.1"]},{"op":"replace","path":"/machine/install/disk","value":"/dev/nvme0n1"},{"op":"remove","path":"/machine/certSANs/0"}]'),
    );
    expect(out.machine.network.nameservers).toEqual(['1.1.1.1']);
    expect(out.machine.install.disk).toBe('/dev/nvme0n1');
    expect(out.machine.certSANs).toEqual([]);
  });

  it('accept the YAML form of the operation list', () => {
    expect(v1(apply('- op: replace\n  path: /machine/type\n  value: worker\n')).machine.type).toBe('worker');
  });

  it('report which operation failed and why', () => {
    expect(() => apply('[{"op":"replace","path":"/machine/nope/deeper","value":1}]')).toThrow(/operation 1 \(replace \/machine\/nope\/deeper\) failed/);
  });

  it('are refused on multi-document configs, as upstream refuses them', () => {
    const multi = `${base}---\napiVersion: v1alpha1\nkind: KubeletConfig\n`;
    expect(() => applyPatches(multi, [parsePatch('[{"op":"remove","path":"/machine/certSANs"}]')])).toThrow(/not supported for multi-document/);
  });

  it('are checked before use: unknown op, missing path or value', () => {
    expect(() => parsePatch('[{"op":"frobnicate","path":"/a"},{"op":"add"},{"op":"add","path":"/b"}]')).toThrow(
      /\[0\]\.op: must be one of[\s\S]*\[1\]\.path: is required[\s\S]*\[2\]\.value: is required for "add"/,
    );
  });
});

describe('loading patches', () => {
  it('reads @file patches and inline ones, and names an unreadable file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'patch-'));
    try {
      writeFileSync(join(dir, 'p.yaml'), 'machine:\n  install:\n    disk: /dev/vdb\n');
      const fromFile = loadPatch('@p.yaml', { cwd: dir });
      expect(fromFile.source).toBe(join(dir, 'p.yaml'));
      expect(v1(applyPatches(base, [fromFile])).machine.install.disk).toBe('/dev/vdb');
      expect(loadPatch('machine: {install: {disk: /dev/vdc}}').type).toBe('strategic');
      expect(() => loadPatch('@missing.yaml', { cwd: dir })).toThrow(new RegExp(`cannot read config patch ${join(dir, 'missing.yaml')}`));
      expect(() => loadPatch('machine: [unclosed')).toThrow(/YAML syntax/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
