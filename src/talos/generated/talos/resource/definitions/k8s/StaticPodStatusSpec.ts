// Original file: src/talos/proto/resource/definitions/k8s/k8s.proto

import type { Struct as _google_protobuf_Struct, Struct__Output as _google_protobuf_Struct__Output } from '../../../../google/protobuf/Struct';

export interface StaticPodStatusSpec {
  'podStatus'?: (_google_protobuf_Struct | null);
}

export interface StaticPodStatusSpec__Output {
  'podStatus': (_google_protobuf_Struct__Output | null);
}
