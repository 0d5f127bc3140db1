import { createHash } from 'node:crypto';
import { compareSemVer, parseSemVer, type SemVer } from '../releases/versions';

export { compareSemVer, imageTag, parseSemVer, type SemVer } from '../releases/versions';

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
