import { toProtoTime } from '../../talos/codec';
import type { ContainerdRef } from '../images';
import type { Impl } from './types';

interface ContainerdField {
  containerd?: ContainerdRef | null;
}

/** An unset instance is the zero value on the wire: CONTAINERD with NS_UNKNOWN. */
const instance = (req: ContainerdField): ContainerdRef => req.containerd ?? { driver: 'CONTAINERD', namespace: 'NS_UNKNOWN' };

/** ImageService (Talos 1.13+): one image store per containerd instance; Pull streams layer progress, then the resolved name. */
export const imageHandlers: Record<string, Impl> = {
  List: {
    stream: async (req: ContainerdField, { node }, send) => {
      for (const image of node.images.list(instance(req))) {
        await send({ name: image.name, digest: image.digest, size: String(image.size), createdAt: toProtoTime(image.createdAt), labels: {} });
      }
    },
  },
  Pull: {
    details: (req: ContainerdField & { imageRef: string }) => ({ image: req.imageRef, containerd: instance(req) }),
    stream: async (req: ContainerdField & { imageRef: string }, { node }, send) => {
      const already = node.images.has(instance(req), req.imageRef);
      const image = node.images.pull(instance(req), req.imageRef);
      const layerId = image.digest.slice(7, 19);
      if (already) {
        await send({ pullProgress: { layerId, progress: { status: 'ALREADY_EXISTS', offset: String(image.size), total: String(image.size) } } });
      } else {
        await send({ pullProgress: { layerId, progress: { status: 'DOWNLOADING', offset: '0', total: String(image.size) } } });
        await send({ pullProgress: { layerId, progress: { status: 'DOWNLOAD_COMPLETE', offset: String(image.size), total: String(image.size) } } });
      }
      await send({ name: image.name });
    },
  },
  Remove: {
    details: (req: ContainerdField & { imageRef: string }) => ({ image: req.imageRef, containerd: instance(req) }),
    unary: async (req: ContainerdField & { imageRef: string }, { node }) => {
      node.images.remove(instance(req), req.imageRef);
      return {};
    },
  },
};
