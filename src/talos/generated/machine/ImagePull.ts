// Original file: src/talos/proto/machine/machine.proto

import type { Metadata as _common_Metadata, Metadata__Output as _common_Metadata__Output } from '../common/Metadata';

export interface ImagePull {
  'metadata'?: (_common_Metadata | null);
}

export interface ImagePull__Output {
  'metadata': (_common_Metadata__Output | null);
}
