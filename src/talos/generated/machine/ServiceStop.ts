// Original file: src/talos/proto/machine/machine.proto

import type { Metadata as _common_Metadata, Metadata__Output as _common_Metadata__Output } from '../common/Metadata';

export interface ServiceStop {
  'metadata'?: (_common_Metadata | null);
  'resp'?: (string);
}

export interface ServiceStop__Output {
  'metadata': (_common_Metadata__Output | null);
  'resp': (string);
}
