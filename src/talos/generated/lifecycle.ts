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
import type { Status as _google_rpc_Status, Status__Output as _google_rpc_Status__Output } from './google/rpc/Status';
import type { InstallArtifactsSource as _machine_InstallArtifactsSource, InstallArtifactsSource__Output as _machine_InstallArtifactsSource__Output } from './machine/InstallArtifactsSource';
import type { InstallDestination as _machine_InstallDestination, InstallDestination__Output as _machine_InstallDestination__Output } from './machine/InstallDestination';
import type { LifecycleServiceClient as _machine_LifecycleServiceClient, LifecycleServiceDefinition as _machine_LifecycleServiceDefinition } from './machine/LifecycleService';
import type { LifecycleServiceInstallProgress as _machine_LifecycleServiceInstallProgress, LifecycleServiceInstallProgress__Output as _machine_LifecycleServiceInstallProgress__Output } from './machine/LifecycleServiceInstallProgress';
import type { LifecycleServiceInstallRequest as _machine_LifecycleServiceInstallRequest, LifecycleServiceInstallRequest__Output as _machine_LifecycleServiceInstallRequest__Output } from './machine/LifecycleServiceInstallRequest';
import type { LifecycleServiceInstallResponse as _machine_LifecycleServiceInstallResponse, LifecycleServiceInstallResponse__Output as _machine_LifecycleServiceInstallResponse__Output } from './machine/LifecycleServiceInstallResponse';
import type { LifecycleServiceUpgradeRequest as _machine_LifecycleServiceUpgradeRequest, LifecycleServiceUpgradeRequest__Output as _machine_LifecycleServiceUpgradeRequest__Output } from './machine/LifecycleServiceUpgradeRequest';
import type { LifecycleServiceUpgradeResponse as _machine_LifecycleServiceUpgradeResponse, LifecycleServiceUpgradeResponse__Output as _machine_LifecycleServiceUpgradeResponse__Output } from './machine/LifecycleServiceUpgradeResponse';

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
    }
    rpc: {
      Status: MessageTypeDefinition<_google_rpc_Status, _google_rpc_Status__Output>
    }
  }
  machine: {
    InstallArtifactsSource: MessageTypeDefinition<_machine_InstallArtifactsSource, _machine_InstallArtifactsSource__Output>
    InstallDestination: MessageTypeDefinition<_machine_InstallDestination, _machine_InstallDestination__Output>
    LifecycleService: SubtypeConstructor<typeof grpc.Client, _machine_LifecycleServiceClient> & { service: _machine_LifecycleServiceDefinition }
    LifecycleServiceInstallProgress: MessageTypeDefinition<_machine_LifecycleServiceInstallProgress, _machine_LifecycleServiceInstallProgress__Output>
    LifecycleServiceInstallRequest: MessageTypeDefinition<_machine_LifecycleServiceInstallRequest, _machine_LifecycleServiceInstallRequest__Output>
    LifecycleServiceInstallResponse: MessageTypeDefinition<_machine_LifecycleServiceInstallResponse, _machine_LifecycleServiceInstallResponse__Output>
    LifecycleServiceUpgradeRequest: MessageTypeDefinition<_machine_LifecycleServiceUpgradeRequest, _machine_LifecycleServiceUpgradeRequest__Output>
    LifecycleServiceUpgradeResponse: MessageTypeDefinition<_machine_LifecycleServiceUpgradeResponse, _machine_LifecycleServiceUpgradeResponse__Output>
  }
}

