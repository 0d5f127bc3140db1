import { createHash } from 'node:crypto';

/** A Talos or Kubernetes version split into numbers, for comparisons. */
export interface SemVer {
  major: number;
  minor: number;
  patch: number;
}

/** Parses `v1.10.9` / `1.33.6` (pre-release suffixes ignored); undefined when it is not a version. */
export function parseSemVer(text: string): SemVer | undefined {
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(text);
  return m ? { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]) } : undefined;
}

/** Negative, zero or positive as `a` is older than, equal to, or newer than `b`. */
export function compareSemVer(a: SemVer, b: SemVer): number {
  return a.major - b.major || a.minor - b.minor || a.patch - b.patch;
}

/** The tag of an image reference (`ghcr.io/siderolabs/installer:v1.10.9` → `v1.10.9`), ignoring a registry port. */
export function imageTag(image: string): string | undefined {
  const name = image.split('@')[0]!;
  const lastSlash = name.lastIndexOf('/');
  const colon = name.indexOf(':', lastSlash + 1);
  return colon >= 0 ? name.slice(colon + 1) : undefined;
}

/** Kubernetes minors each Talos minor runs (talos-ops.md §2 support matrix); used by the installer pre-flight. */
const KUBERNETES_RANGES: Record<string, [number, number]> = {
  '1.8': [26, 31],
  '1.9': [27, 32],
  '1.10': [28, 33],
};

/** Why the installer of `target` refuses to run on a host at `host` with kubelet `kubelet` (undefined: it runs). */
export function installerPreflightProblem(host: SemVer, target: SemVer, kubelet: SemVer | undefined): string | undefined {
  if (target.major === 1 && (target.minor === 9 || target.minor === 10) && compareSemVer(host, { major: 1, minor: 8, patch: 0 }) < 0) {
    return `host Talos version v${host.major}.${host.minor}.${host.patch} is too old to upgrade to v${target.major}.${target.minor}.${target.patch}: upgrade to v1.8.0 or later first`;
  }
  const range = KUBERNETES_RANGES[`${target.major}.${target.minor}`];
  if (range && kubelet && kubelet.major === 1 && (kubelet.minor < range[0] || kubelet.minor > range[1])) {
    return `Kubernetes v1.${kubelet.minor} is not supported by Talos v${target.major}.${target.minor} (supported: 1.${range[0]}–1.${range[1]}); upgrade Kubernetes first`;
  }
  return undefined;
}

/** Build facts a node reports in Version: a stable fake commit per tag and the Go toolchain of that release line. */
export function buildInfo(tag: string): { sha: string; goVersion: string } {
  const v = parseSemVer(tag);
  const goVersion = v && v.minor >= 10 ? 'go1.24.11' : 'go1.23.8';
  return { sha: createHash('sha1').update(tag).digest('hex').slice(0, 8), goVersion };
}
