import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { ContainerdInstance as _common_ContainerdInstance, ContainerdInstance__Output as _common_ContainerdInstance__Output } from './common/ContainerdInstance';
import type { Data as _common_Data, Data__Output as _common_Data__Output } from './common/Data';
import type { DataResponse as _common_DataResponse, DataResponse__Output as _common_DataResponse__Output } from './common/DataResponse';
import type { Empty as _common_Empty, Empty__Output as _common_Empty__Output } from './common/Empty';
import type { EmptyResponse as _common_EmptyResponse, EmptyResponse__Output as _common_EmptyResponse__Output } from './common/EmptyResponse';
import type { Error as _common_Error, Error__Output as _common_Error__Output } from './common/Error';
import type { Metadata as _common_Metadata, Metadata__Output as _common_Metadata__Output } from './common/Metadata';
import type { Any as _google_protobuf_Any, Any__Output as _google_protobuf_Any__Output } from './google/protobuf/Any';
import type { Duration as _google_protobuf_Duration, Duration__Output as _google_protobuf_Duration__Output } from './google/protobuf/Duration';
import type { Empty as _google_protobuf_Empty, Empty__Output as _google_protobuf_Empty__Output } from './google/protobuf/Empty';
import type { Timestamp as _google_protobuf_Timestamp, Timestamp__Output as _google_protobuf_Timestamp__Output } from './google/protobuf/Timestamp';
import type { Status as _google_rpc_Status, Status__Output as _google_rpc_Status__Output } from './google/rpc/Status';
import type { ImageServiceClient as _machine_ImageServiceClient, ImageServiceDefinition as _machine_ImageServiceDefinition } from './machine/ImageService';
import type { ImageServiceListRequest as _machine_ImageServiceListRequest, ImageServiceListRequest__Output as _machine_ImageServiceListRequest__Output } from './machine/ImageServiceListRequest';
import type { ImageServiceListResponse as _machine_ImageServiceListResponse, ImageServiceListResponse__Output as _machine_ImageServiceListResponse__Output } from './machine/ImageServiceListResponse';
import type { ImageServicePullLayerProgress as _machine_ImageServicePullLayerProgress, ImageServicePullLayerProgress__Output as _machine_ImageServicePullLayerProgress__Output } from './machine/ImageServicePullLayerProgress';
import type { ImageServicePullProgress as _machine_ImageServicePullProgress, ImageServicePullProgress__Output as _machine_ImageServicePullProgress__Output } from './machine/ImageServicePullProgress';
import type { ImageServicePullRequest as _machine_ImageServicePullRequest, ImageServicePullRequest__Output as _machine_ImageServicePullRequest__Output } from './machine/ImageServicePullRequest';
import type { ImageServicePullResponse as _machine_ImageServicePullResponse, ImageServicePullResponse__Output as _machine_ImageServicePullResponse__Output } from './machine/ImageServicePullResponse';
import type { ImageServiceRemoveRequest as _machine_ImageServiceRemoveRequest, ImageServiceRemoveRequest__Output as _machine_ImageServiceRemoveRequest__Output } from './machine/ImageServiceRemoveRequest';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  common: {
    Code: EnumTypeDefinition
    ContainerDriver: EnumTypeDefinition
    ContainerdInstance: MessageTypeDefinition<_common_ContainerdInstance, _common_ContainerdInstance__Output>
    ContainerdNamespace: EnumTypeDefinition
    Data: MessageTypeDefinition<_common_Data, _common_Data__Output>
    DataResponse: MessageTypeDefinition<_common_DataResponse, _common_DataResponse__Output>
    Empty: MessageTypeDefinition<_common_Empty, _common_Empty__Output>
    EmptyResponse: MessageTypeDefinition<_common_EmptyResponse, _common_EmptyResponse__Output>
    Error: MessageTypeDefinition<_common_Error, _common_Error__Output>
    Metadata: MessageTypeDefinition<_common_Metadata, _common_Metadata__Output>
  }
  google: {
    protobuf: {
      Any: MessageTypeDefinition<_google_protobuf_Any, _google_protobuf_Any__Output>
      Duration: MessageTypeDefinition<_google_protobuf_Duration, _google_protobuf_Duration__Output>
      Empty: MessageTypeDefinition<_google_protobuf_Empty, _google_protobuf_Empty__Output>
      Timestamp: MessageTypeDefinition<_google_protobuf_Timestamp, _google_protobuf_Timestamp__Output>
    }
    rpc: {
      Status: MessageTypeDefinition<_google_rpc_Status, _google_rpc_Status__Output>
    }
  }
  machine: {
    ImageService: SubtypeConstructor<typeof grpc.Client, _machine_ImageServiceClient> & { service: _machine_ImageServiceDefinition }
    ImageServiceListRequest: MessageTypeDefinition<_machine_ImageServiceListRequest, _machine_ImageServiceListRequest__Output>
    ImageServiceListResponse: MessageTypeDefinition<_machine_ImageServiceListResponse, _machine_ImageServiceListResponse__Output>
    ImageServicePullLayerProgress: MessageTypeDefinition<_machine_ImageServicePullLayerProgress, _machine_ImageServicePullLayerProgress__Output>
    ImageServicePullProgress: MessageTypeDefinition<_machine_ImageServicePullProgress, _machine_ImageServicePullProgress__Output>
    ImageServicePullRequest: MessageTypeDefinition<_machine_ImageServicePullRequest, _machine_ImageServicePullRequest__Output>
    ImageServicePullResponse: MessageTypeDefinition<_machine_ImageServicePullResponse, _machine_ImageServicePullResponse__Output>
    ImageServiceRemoveRequest: MessageTypeDefinition<_machine_ImageServiceRemoveRequest, _machine_ImageServiceRemoveRequest__Output>
  }
}

