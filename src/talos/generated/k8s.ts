import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { ListValue as _google_protobuf_ListValue, ListValue__Output as _google_protobuf_ListValue__Output } from './google/protobuf/ListValue';
import type { Struct as _google_protobuf_Struct, Struct__Output as _google_protobuf_Struct__Output } from './google/protobuf/Struct';
import type { Value as _google_protobuf_Value, Value__Output as _google_protobuf_Value__Output } from './google/protobuf/Value';
import type { NodenameSpec as _talos_resource_definitions_k8s_NodenameSpec, NodenameSpec__Output as _talos_resource_definitions_k8s_NodenameSpec__Output } from './talos/resource/definitions/k8s/NodenameSpec';
import type { StaticPodStatusSpec as _talos_resource_definitions_k8s_StaticPodStatusSpec, StaticPodStatusSpec__Output as _talos_resource_definitions_k8s_StaticPodStatusSpec__Output } from './talos/resource/definitions/k8s/StaticPodStatusSpec';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  google: {
    protobuf: {
      ListValue: MessageTypeDefinition<_google_protobuf_ListValue, _google_protobuf_ListValue__Output>
      NullValue: EnumTypeDefinition
      Struct: MessageTypeDefinition<_google_protobuf_Struct, _google_protobuf_Struct__Output>
      Value: MessageTypeDefinition<_google_protobuf_Value, _google_protobuf_Value__Output>
    }
  }
  talos: {
    resource: {
      definitions: {
        k8s: {
          NodenameSpec: MessageTypeDefinition<_talos_resource_definitions_k8s_NodenameSpec, _talos_resource_definitions_k8s_NodenameSpec__Output>
          StaticPodStatusSpec: MessageTypeDefinition<_talos_resource_definitions_k8s_StaticPodStatusSpec, _talos_resource_definitions_k8s_StaticPodStatusSpec__Output>
        }
      }
    }
  }
}

