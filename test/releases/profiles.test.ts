import { defaultInstallerImage, installerPublished, parseInstallerImage } from '../../src/releases/images';
import {
  allProfiles,
  installerAccepts,
  installerProblem,
  kubernetesProblem,
  nextHops,
  profileFor,
  supportsKubernetes,
  upgradeApiFor,
  UpgradePathError,
} from '../../src/releases/profiles';
import { allowedRoles, knownRoles } from '../../src/releases/roles';

describe('version profiles', () => {
  it('has one profile per minor from 1.9 to 1.14, each with its latest patch in that minor', () => {
    expect(allProfiles().map((p) => p.minor)).toEqual(['1.9', '1.10', '1.11', '1.12', '1.13', '1.14']);
    for (const p of allProfiles()) expect(p.latest.startsWith(`v${p.minor}.`)).toBe(true);
  });

  it('finds the profile of a full version, a minor with or without v, and a pre-release', () => {
    expect(profileFor('v1.14.1').minor).toBe('1.14');
    expect(profileFor('1.12').minor).toBe('1.12');
    expect(profileFor('v1.13.0-alpha.3').minor).toBe('1.13');
  });

  it('refuses a version it has no profile for, naming the known ones', () => {
    expect(() => profileFor('v1.8.4')).toThrow(/Talos v1.8.4 is not a version this project knows; known: v1.9, .*v1.14/);
    expect(() => profileFor('latest')).toThrow(expect.objectContaining({ code: 'unknown_talos_version' }) as Error);
  });

  it('ships etcd 3.5 with 1.9/1.10, 3.6 with 1.11-1.13 and 3.7 with 1.14', () => {
    expect(allProfiles().map((p) => p.etcd.line)).toEqual(['3.5', '3.5', '3.6', '3.6', '3.6', '3.7']);
  });

  it('upgrades 1.13 and later through LifecycleService and older nodes through the legacy Upgrade', () => {
    expect(['v1.10.9', 'v1.12.7', 'v1.13.0', 'v1.14.1'].map(upgradeApiFor)).toEqual(['legacy', 'legacy', 'lifecycle', 'lifecycle']);
  });
});

describe('Kubernetes support', () => {
  it('accepts the default Kubernetes of every minor and the ends of its range', () => {
    for (const p of allProfiles()) {
      expect(supportsKubernetes(p.latest, p.kubernetes.default)).toBe(true);
      expect(supportsKubernetes(p.latest, `${p.kubernetes.oldest}.0`)).toBe(true);
      expect(supportsKubernetes(p.latest, `${p.kubernetes.newest}.9`)).toBe(true);
    }
  });

  it('says in upstream words when Kubernetes is too old or too new for a Talos version', () => {
    expect(kubernetesProblem('v1.14.1', '1.31.4')).toBe('version of Kubernetes 1.31.4 is too old to be used with Talos 1.14.1');
    expect(kubernetesProblem('v1.10.9', 'v1.34.0')).toBe('version of Kubernetes 1.34.0 is too new to be used with Talos 1.10.9');
  });
});

describe('installer bounds', () => {
  it('refuses to install 1.14 over a 1.10 host, as the real installer does', () => {
    expect(installerAccepts('v1.10.9', 'v1.14.1')).toBe(false);
    expect(installerProblem('v1.10.9', 'v1.14.1')).toBe('host version 1.10.9 is too old to upgrade to Talos 1.14.1');
  });

  it('accepts two minors at a time (1.10 → 1.12, 1.12 → 1.14, 1.11 → 1.13) and refuses 1.11 → 1.14', () => {
    expect(installerAccepts('v1.10.9', 'v1.12.7')).toBe(true);
    expect(installerAccepts('v1.12.0', 'v1.14.1')).toBe(true);
    expect(installerAccepts('v1.11.6', 'v1.13.3')).toBe(true);
    expect(installerAccepts('v1.11.6', 'v1.14.1')).toBe(false);
  });

  it('refuses a downgrade from too new a host', () => {
    expect(installerProblem('v1.14.1', 'v1.11.6')).toBe('host version 1.14.1 is too new to downgrade to Talos 1.11.6');
    expect(installerAccepts('v1.13.3', 'v1.12.7')).toBe(true);
  });
});

describe('upgrade paths', () => {
  it('goes from 1.10 to 1.14 through the latest 1.12', () => {
    expect(nextHops('v1.10.9', 'v1.14.1')).toEqual(['v1.12.7', 'v1.14.1']);
  });

  it('stops at every minor when asked to', () => {
    expect(nextHops('v1.10.9', 'v1.14.1', { everyMinor: true })).toEqual(['v1.11.6', 'v1.12.7', 'v1.13.3', 'v1.14.1']);
  });

  it('is one hop within what the installer accepts, and nothing when already there', () => {
    expect(nextHops('v1.12.0', 'v1.12.7')).toEqual(['v1.12.7']);
    expect(nextHops('v1.12.7', 'v1.14.0')).toEqual(['v1.14.0']);
    expect(nextHops('v1.14.1', 'v1.14.1')).toEqual([]);
  });

  it('refuses a path whose hops cannot run the cluster\'s Kubernetes', () => {
    expect(() => nextHops('v1.10.9', 'v1.14.1', { kubernetes: '1.30.2' })).toThrow(UpgradePathError);
    expect(() => nextHops('v1.10.9', 'v1.14.1', { kubernetes: '1.30.2' })).toThrow(/Talos v1.14.1: version of Kubernetes 1.30.2 is too old .*upgrade Kubernetes first/);
    expect(nextHops('v1.10.9', 'v1.12.7', { kubernetes: '1.33.6' })).toEqual(['v1.12.7']);
  });

  it('refuses a downgrade the target installer does not take', () => {
    expect(() => nextHops('v1.14.1', 'v1.11.6')).toThrow(/too new to downgrade/);
  });
});

describe('installer images', () => {
  it('defaults to ghcr before 1.14 and to the Image Factory with the empty schematic from 1.14', () => {
    expect(defaultInstallerImage('v1.12.7')).toBe('ghcr.io/siderolabs/installer:v1.12.7');
    expect(defaultInstallerImage('v1.14.1')).toBe('factory.talos.dev/metal-installer/376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba:v1.14.1');
  });

  it('reads the installer forms and rejects images that are no installer', () => {
    expect(parseInstallerImage(defaultInstallerImage('v1.14.1'))).toMatchObject({ form: 'factory', platform: 'metal', version: 'v1.14.1' });
    expect(parseInstallerImage(`factory.talos.dev/installer/${'a'.repeat(64)}:v1.13.3`)).toMatchObject({ form: 'factory-legacy' });
    expect(parseInstallerImage('registry.local:5000/siderolabs/installer:v1.12.7')).toMatchObject({ form: 'installer', registry: 'registry.local:5000' });
    expect(parseInstallerImage('docker.io/library/nginx:v1.14.1')).toBeUndefined();
    expect(parseInstallerImage('ghcr.io/siderolabs/installer:latest')).toBeUndefined();
  });

  it('knows the ghcr installer is not published for 1.14', () => {
    expect(installerPublished(parseInstallerImage('ghcr.io/siderolabs/installer:v1.14.1')!)).toBe(false);
    expect(installerPublished(parseInstallerImage('ghcr.io/siderolabs/installer:v1.13.3')!)).toBe(true);
  });
});

describe('role table rows', () => {
  it('opens ImageService.Pull to operators and LifecycleService.Upgrade to admins only, from 1.13', () => {
    expect(allowedRoles('/machine.ImageService/Pull', 'v1.14.1')).toEqual(['os:admin', 'os:operator']);
    expect(allowedRoles('/machine.LifecycleService/Upgrade', 'v1.13.0')).toEqual(['os:admin']);
    expect(allowedRoles('/machine.MachineService/Reboot', 'v1.14.1')).toEqual(['os:admin', 'os:operator']);
  });

  it('keeps the narrower etcd reads of releases before 1.10.1', () => {
    expect(allowedRoles('/machine.MachineService/EtcdStatus', 'v1.10.0')).toEqual(['os:admin', 'os:operator']);
    expect(allowedRoles('/machine.MachineService/EtcdStatus', 'v1.12.7')).toContain('os:etcd:backup');
  });

  it('knows the 1.13 roles only from 1.13 on', () => {
    expect(knownRoles('v1.12.7')).not.toContain('os:image:verifier');
    expect(knownRoles('v1.13.3')).toEqual(expect.arrayContaining(['os:image:verifier', 'os:meta:writer']) as unknown);
  });
});
