import { ValidationError } from '../errors';

/** Talos's config "version contract": which Talos minor release a generated config targets. */
export interface VersionContract {
  major: number;
  minor: number;
}

/** What `talosctl gen config` of each supported release uses by default. */
export interface ReleaseDefaults {
  contract: VersionContract;
  /** The latest patch release we know for the minor; its installer image is the default install image. */
  talosVersion: string;
  kubernetesVersion: string;
  /** Kubernetes minors this Talos minor supports (talos-ops.md §2, support matrix). */
  kubernetesRange: [string, string];
}

const RELEASES: ReleaseDefaults[] = [
  { contract: { major: 1, minor: 9 }, talosVersion: 'v1.9.6', kubernetesVersion: '1.32.4', kubernetesRange: ['1.27', '1.32'] },
  { contract: { major: 1, minor: 10 }, talosVersion: 'v1.10.9', kubernetesVersion: '1.33.6', kubernetesRange: ['1.28', '1.33'] },
];

/** Contract used when the user names none: the newest supported release. */
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

/** Defaults for a contract we can render machine configs for (1.9 and 1.10); a clear error for others. */
export function releaseDefaults(contract: VersionContract): ReleaseDefaults {
  const found = RELEASES.find((r) => r.contract.major === contract.major && r.contract.minor === contract.minor);
  if (!found) {
    throw new ValidationError('Talos version', [
      {
        path: 'talosVersion',
        message: `machine configs for Talos ${formatContract(contract)} are not supported; supported: ${RELEASES.map((r) => formatContract(r.contract)).join(', ')}`,
      },
    ]);
  }
  return found;
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
