import { createHash } from 'node:crypto';
import { installerProblem, kubernetesProblem, profileFor } from '../releases/profiles';

export { compareSemVer, imageTag, parseSemVer, type SemVer } from '../releases/versions';

/**
 * Why the installer of `target` refuses to run on a host at `host` with kubelet `kubelet` (undefined: it runs): the
 * host bounds and the Kubernetes range of the target's profile, in the installer's own words.
 */
export function installerPreflightProblem(host: string, target: string, kubelet: string | undefined): string | undefined {
  return installerProblem(host, target) ?? (kubelet ? kubernetesProblem(target, kubelet) : undefined);
}

/** Build facts a node reports in Version: a stable fake commit per tag and the Go toolchain of that release line. */
export function buildInfo(tag: string): { sha: string; goVersion: string } {
  return { sha: createHash('sha1').update(tag).digest('hex').slice(0, 8), goVersion: profileFor(tag).goVersion };
}
