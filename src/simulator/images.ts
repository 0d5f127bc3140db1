import { parseInstallerImage, installerPublished } from '../releases/images';
import { imageTag } from '../releases/versions';
import { Code, GrpcError } from './grpc/server';

/** A containerd instance as the API names it: driver and namespace (`CRI/NS_SYSTEM`). */
export interface ContainerdRef {
  driver: string;
  namespace: string;
}

/** One pulled image. */
export interface StoredImage {
  name: string;
  digest: string;
  size: number;
  createdAt: number;
}

const key = (c: ContainerdRef): string => `${c.driver}/${c.namespace}`;

/** The containerd instances a node has (talos-lines.md §1.2): CONTAINERD with the CRI namespace does not exist. */
export function checkContainerd(c: ContainerdRef): void {
  if (c.driver === 'CONTAINERD' && c.namespace === 'NS_CRI') throw new GrpcError(Code.INVALID_ARGUMENT, 'the CRI namespace is not available in the Talos containerd instance');
  if (c.namespace === 'NS_UNKNOWN') throw new GrpcError(Code.INVALID_ARGUMENT, 'containerd namespace must be specified');
}

/**
 * What the simulated registry serves: any image with a tag, except installers that are not published (the ghcr
 * installer from 1.14 on, talos-lines.md §0) and installer tags that name no Talos version.
 */
export function registryProblem(ref: string): string | undefined {
  if (!imageTag(ref)) return `failed to resolve reference "${ref}": a tag is required`;
  const installer = parseInstallerImage(ref);
  if (/\/(installer|[a-z0-9]+-installer)(\/[0-9a-f]{64})?:/.test(ref) && !installer) return `failed to resolve reference "${ref}": not found`;
  if (installer) {
    try {
      if (!installerPublished(installer)) return `failed to resolve reference "${ref}": ${ref}: not found`;
    } catch {
      return `failed to resolve reference "${ref}": ${ref}: not found`;
    }
  }
  return undefined;
}

/** The images of a node, one store per containerd instance, as ImageService sees them; they survive reboots (they live on EPHEMERAL). */
export class ImageStore {
  private readonly stores = new Map<string, Map<string, StoredImage>>();

  /** Pulls `ref` into an instance; a registry miss is `NotFound`. */
  pull(c: ContainerdRef, ref: string): StoredImage {
    checkContainerd(c);
    const problem = registryProblem(ref);
    if (problem) throw new GrpcError(Code.NOT_FOUND, `error pulling image "${ref}": ${problem}`);
    let store = this.stores.get(key(c));
    if (!store) this.stores.set(key(c), (store = new Map<string, StoredImage>()));
    const found = store.get(ref);
    if (found) return found;
    const image = { name: ref, digest: `sha256:${Buffer.from(ref).toString('hex').padEnd(64, '0').slice(0, 64)}`, size: 80 * 1024 * 1024, createdAt: Date.now() };
    store.set(ref, image);
    return image;
  }

  has(c: ContainerdRef, ref: string): boolean {
    return this.stores.get(key(c))?.has(ref) ?? false;
  }

  list(c: ContainerdRef): StoredImage[] {
    checkContainerd(c);
    return [...(this.stores.get(key(c))?.values() ?? [])];
  }

  remove(c: ContainerdRef, ref: string): void {
    checkContainerd(c);
    if (!this.stores.get(key(c))?.delete(ref)) throw new GrpcError(Code.NOT_FOUND, `image "${ref}": not found`);
  }
}
