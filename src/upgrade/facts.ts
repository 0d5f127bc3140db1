import { releaseDefaults } from '../config/versions';
import { compareSemVer, parseSemVer } from '../releases/versions';
import type { ReleaseFacts } from './plan';

/**
 * The release facts the planner reads, from the release data the project knows (src/config/versions.ts: the
 * latest patch and the Kubernetes range of each supported minor; the installer's host floor from talos-ops.md §2).
 */
export const releaseFacts: ReleaseFacts = {
  latestPatch(minor) {
    try {
      return releaseDefaults(minor).talosVersion;
    } catch {
      return undefined;
    }
  },

  installerRefusal(host, target) {
    const h = parseSemVer(host)!;
    const t = parseSemVer(target)!;
    // A 1.9 or 1.10 installer runs on hosts from 1.8.0 on.
    if (compareSemVer(h, { major: 1, minor: 8, patch: 0 }) < 0) return `the ${target} installer needs a host on v1.8.0 or later, not ${host}`;
    if (t.minor - h.minor > 2) return `the ${target} installer does not upgrade hosts on ${host}`;
    return undefined;
  },

  kubernetesRefusal(talos, kubernetes) {
    const t = parseSemVer(talos)!;
    const k = parseSemVer(kubernetes);
    if (!k) return undefined;
    let range: [string, string];
    try {
      range = releaseDefaults(t).kubernetesRange;
    } catch {
      return undefined;
    }
    const minor = (s: string) => Number(s.split('.')[1]);
    if (k.minor < minor(range[0]) || k.minor > minor(range[1])) return `Talos ${talos} runs Kubernetes ${range[0]}–${range[1]}, not ${kubernetes}`;
    return undefined;
  },

  installerImage(version, current) {
    // Keep the registry path (an Image Factory schematic, a mirror) of the node's image; change only the tag.
    const repository = current ? current.split('@')[0]!.replace(/:[^:/]+$/, '') : 'ghcr.io/siderolabs/installer';
    return `${repository}:${version}`;
  },

  upgradeApi() {
    return 'legacy';
  },
};
