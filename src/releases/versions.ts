/** Talos and Kubernetes version strings: parsing and comparing (pure). */

/** A version split into numbers, for comparisons. */
export interface SemVer {
  major: number;
  minor: number;
  patch: number;
}

/** Parses `v1.10.9` / `1.33.6` (pre-release suffixes ignored); undefined when it is not a version. */
export function parseSemVer(text: string): SemVer | undefined {
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(text.trim());
  return m ? { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]) } : undefined;
}

/** Negative, zero or positive as `a` is older than, equal to, or newer than `b`. */
export function compareSemVer(a: SemVer, b: SemVer): number {
  return a.major - b.major || a.minor - b.minor || a.patch - b.patch;
}

/** The tag of an image reference (`ghcr.io/siderolabs/installer:v1.10.9` → `v1.10.9`), ignoring a registry port and a digest. */
export function imageTag(image: string): string | undefined {
  const name = image.split('@')[0]!;
  const lastSlash = name.lastIndexOf('/');
  const colon = name.indexOf(':', lastSlash + 1);
  return colon >= 0 ? name.slice(colon + 1) : undefined;
}
