import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { GetOptions as _cosi_resource_GetOptions, GetOptions__Output as _cosi_resource_GetOptions__Output } from './cosi/resource/GetOptions';
import type { GetRequest as _cosi_resource_GetRequest, GetRequest__Output as _cosi_resource_GetRequest__Output } from './cosi/resource/GetRequest';
import type { GetResponse as _cosi_resource_GetResponse, GetResponse__Output as _cosi_resource_GetResponse__Output } from './cosi/resource/GetResponse';
import type { IDQuery as _cosi_resource_IDQuery, IDQuery__Output as _cosi_resource_IDQuery__Output } from './cosi/resource/IDQuery';
import type { LabelQuery as _cosi_resource_LabelQuery, LabelQuery__Output as _cosi_resource_LabelQuery__Output } from './cosi/resource/LabelQuery';
import type { LabelTerm as _cosi_resource_LabelTerm, LabelTerm__Output as _cosi_resource_LabelTerm__Output } from './cosi/resource/LabelTerm';
import type { ListOptions as _cosi_resource_ListOptions, ListOptions__Output as _cosi_resource_ListOptions__Output } from './cosi/resource/ListOptions';
import type { ListRequest as _cosi_resource_ListRequest, ListRequest__Output as _cosi_resource_ListRequest__Output } from './cosi/resource/ListRequest';
import type { ListResponse as _cosi_resource_ListResponse, ListResponse__Output as _cosi_resource_ListResponse__Output } from './cosi/resource/ListResponse';
import type { Metadata as _cosi_resource_Metadata, Metadata__Output as _cosi_resource_Metadata__Output } from './cosi/resource/Metadata';
import type { Resource as _cosi_resource_Resource, Resource__Output as _cosi_resource_Resource__Output } from './cosi/resource/Resource';
import type { Spec as _cosi_resource_Spec, Spec__Output as _cosi_resource_Spec__Output } from './cosi/resource/Spec';
import type { StateClient as _cosi_resource_StateClient, StateDefinition as _cosi_resource_StateDefinition } from './cosi/resource/State';
import type { Timestamp as _google_protobuf_Timestamp, Timestamp__Output as _google_protobuf_Timestamp__Output } from './google/protobuf/Timestamp';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  cosi: {
    resource: {
      GetOptions: MessageTypeDefinition<_cosi_resource_GetOptions, _cosi_resource_GetOptions__Output>
      GetRequest: MessageTypeDefinition<_cosi_resource_GetRequest, _cosi_resource_GetRequest__Output>
      GetResponse: MessageTypeDefinition<_cosi_resource_GetResponse, _cosi_resource_GetResponse__Output>
      IDQuery: MessageTypeDefinition<_cosi_resource_IDQuery, _cosi_resource_IDQuery__Output>
      LabelQuery: MessageTypeDefinition<_cosi_resource_LabelQuery, _cosi_resource_LabelQuery__Output>
      LabelTerm: MessageTypeDefinition<_cosi_resource_LabelTerm, _cosi_resource_LabelTerm__Output>
      ListOptions: MessageTypeDefinition<_cosi_resource_ListOptions, _cosi_resource_ListOptions__Output>
      ListRequest: MessageTypeDefinition<_cosi_resource_ListRequest, _cosi_resource_ListRequest__Output>
      ListResponse: MessageTypeDefinition<_cosi_resource_ListResponse, _cosi_resource_ListResponse__Output>
      Metadata: MessageTypeDefinition<_cosi_resource_Metadata, _cosi_resource_Metadata__Output>
      Resource: MessageTypeDefinition<_cosi_resource_Resource, _cosi_resource_Resource__Output>
      Spec: MessageTypeDefinition<_cosi_resource_Spec, _cosi_resource_Spec__Output>
      State: SubtypeConstructor<typeof grpc.Client, _cosi_resource_StateClient> & { service: _cosi_resource_StateDefinition }
    }
  }
  google: {
    protobuf: {
      Timestamp: MessageTypeDefinition<_google_protobuf_Timestamp, _google_protobuf_Timestamp__Output>
    }
  }
}

