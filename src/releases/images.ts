import { profileFor } from './profiles';
import { imageTag, parseSemVer } from './versions';

/** The Image Factory's empty schematic (no extensions, no extra kernel arguments): 1.14's default installer uses it. */
export const EMPTY_SCHEMATIC = '376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba';

/** The public Image Factory. */
export const IMAGE_FACTORY = 'factory.talos.dev';

/** Siderolabs' own installer repository (no longer published from 1.14 on). */
export const GHCR_INSTALLER = 'ghcr.io/siderolabs/installer';

/**
 * An installer image reference, by form: `installer` (`<registry>/…/installer:TAG`, ghcr.io/siderolabs/installer or a
 * mirror of it), `factory` (`<factory>/<platform>-installer/<schematic>:TAG`, 1.14's default), `factory-legacy`
 * (`<factory>/installer/<schematic>:TAG`, which many users pin).
 */
export interface InstallerImage {
  form: 'installer' | 'factory' | 'factory-legacy';
  /** The Talos version in the tag (`v1.14.1`). */
  version: string;
  registry: string;
  schematic?: string;
  platform?: string;
}

/** Reads an installer reference; undefined when the image is of no installer form or its tag is no Talos version. */
export function parseInstallerImage(image: string): InstallerImage | undefined {
  const tag = imageTag(image);
  if (!tag || !parseSemVer(tag) || !/^v/.test(tag)) return undefined;
  const name = image.split('@')[0]!.slice(0, -(tag.length + 1));
  const parts = name.split('/');
  const registry = parts.length > 1 && /[.:]|^localhost$/.test(parts[0]!) ? parts[0]! : 'docker.io';
  const path = registry === parts[0] ? parts.slice(1) : parts;
  const last = path[path.length - 1] ?? '';
  const schematic = /^[0-9a-f]{64}$/.test(last) ? last : undefined;
  if (schematic && path.length === 2) {
    const repo = path[0]!;
    if (repo === 'installer') return { form: 'factory-legacy', version: tag, registry, schematic };
    const m = /^([a-z0-9]+)-installer$/.exec(repo);
    if (m) return { form: 'factory', version: tag, registry, schematic, platform: m[1] };
    return undefined;
  }
  return last === 'installer' ? { form: 'installer', version: tag, registry } : undefined;
}

/** The installer image talosctl of `version`'s minor uses by default: ghcr before 1.14, the Image Factory with the empty schematic from 1.14. */
export function defaultInstallerImage(version: string, platform = 'metal'): string {
  const v = version.startsWith('v') ? version : `v${version}`;
  return profileFor(v).installer.defaultImage === 'factory' ? `${IMAGE_FACTORY}/${platform}-installer/${EMPTY_SCHEMATIC}:${v}` : `${GHCR_INSTALLER}:${v}`;
}

/** True when Siderolabs publishes this installer image: the ghcr installer is no longer published from 1.14 on (talos-lines.md §0). */
export function installerPublished(image: InstallerImage): boolean {
  if (image.form !== 'installer' || image.registry !== 'ghcr.io') return true;
  return profileFor(image.version).installer.ghcrPublished;
}
