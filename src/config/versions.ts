import { ValidationError } from '../errors';
import { minorOf, profileFor, TALOS_MINORS, type VersionProfile } from '../releases/profiles';

/** Talos's config "version contract": which Talos minor release a generated config targets. */
export interface VersionContract {
  major: number;
  minor: number;
}

/** What `talosctl gen config` of each supported release uses by default (read from the release's version profile). */
export interface ReleaseDefaults {
  contract: VersionContract;
  /** The latest patch release we know for the minor; its installer image is the default install image. */
  talosVersion: string;
  kubernetesVersion: string;
  /** Kubernetes minors this Talos minor supports (inclusive). */
  kubernetesRange: [string, string];
  /** The whole profile of the minor (document layout, installer image form, ...). */
  profile: VersionProfile;
}

/** Contract used when the user names none. */
export const DEFAULT_CONTRACT: VersionContract = { major: 1, minor: 10 };

/** Parses `v1.10`, `1.10`, `v1.10.9` or `v1.10.0-alpha.1` into a contract, like upstream's ParseContractFromVersion. */
export function parseVersionContract(version: string): VersionContract {
  const m = /^v?(\d+)\.(\d+)($|\.|-)/.exec(version.trim());
  if (!m) {
    throw new ValidationError('Talos version', [{ path: 'talosVersion', message: `"${version}" is not a Talos version such as v1.10` }]);
  }
  return { major: Number(m[1]), minor: Number(m[2]) };
}

/** `v1.10` */
export function formatContract(c: VersionContract): string {
  return `v${c.major}.${c.minor}`;
}

/** True when `a` is a later release than `b`. */
export function contractGreater(a: VersionContract, b: VersionContract): boolean {
  return a.major > b.major || (a.major === b.major && a.minor > b.minor);
}

/** Defaults for a contract we can render machine configs for (1.9 to 1.14); a clear error for others. */
export function releaseDefaults(contract: VersionContract): ReleaseDefaults {
  const version = formatContract(contract);
  if (!minorOf(version)) {
    throw new ValidationError('Talos version', [
      { path: 'talosVersion', message: `machine configs for Talos ${version} are not supported; supported: ${TALOS_MINORS.map((m) => `v${m}`).join(', ')}` },
    ]);
  }
  const profile = profileFor(version);
  return { contract, talosVersion: profile.latest, kubernetesVersion: profile.kubernetes.default, kubernetesRange: [profile.kubernetes.oldest, profile.kubernetes.newest], profile };
}

/** Normalizes `v1.33.6` to `1.33.6` and checks it is a full version inside the release's supported range. */
export function checkKubernetesVersion(version: string, release: ReleaseDefaults): string {
  const v = version.trim().replace(/^v/, '');
  const m = /^(\d+)\.(\d+)\.(\d+)(-[0-9A-Za-z.-]+)?$/.exec(v);
  if (!m) {
    throw new ValidationError('Kubernetes version', [{ path: 'kubernetesVersion', message: `"${version}" is not a Kubernetes version such as 1.33.6` }]);
  }
  const minor = (s: string): number => Number(s.split('.')[1]);
  const [lo, hi] = release.kubernetesRange;
  if (Number(m[1]) !== 1 || Number(m[2]) < minor(lo) || Number(m[2]) > minor(hi)) {
    throw new ValidationError('Kubernetes version', [
      {
        path: 'kubernetesVersion',
        message: `Kubernetes ${v} is not supported by Talos ${formatContract(release.contract)} (supported: ${lo}–${hi})`,
      },
    ]);
  }
  return v;
}
