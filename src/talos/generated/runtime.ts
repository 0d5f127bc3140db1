import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { APIServiceConfigSpec as _talos_resource_definitions_runtime_APIServiceConfigSpec, APIServiceConfigSpec__Output as _talos_resource_definitions_runtime_APIServiceConfigSpec__Output } from './talos/resource/definitions/runtime/APIServiceConfigSpec';
import type { BootIDSpec as _talos_resource_definitions_runtime_BootIDSpec, BootIDSpec__Output as _talos_resource_definitions_runtime_BootIDSpec__Output } from './talos/resource/definitions/runtime/BootIDSpec';
import type { ImageFactorySchematicSpec as _talos_resource_definitions_runtime_ImageFactorySchematicSpec, ImageFactorySchematicSpec__Output as _talos_resource_definitions_runtime_ImageFactorySchematicSpec__Output } from './talos/resource/definitions/runtime/ImageFactorySchematicSpec';
import type { MachineStatusSpec as _talos_resource_definitions_runtime_MachineStatusSpec, MachineStatusSpec__Output as _talos_resource_definitions_runtime_MachineStatusSpec__Output } from './talos/resource/definitions/runtime/MachineStatusSpec';
import type { MachineStatusStatus as _talos_resource_definitions_runtime_MachineStatusStatus, MachineStatusStatus__Output as _talos_resource_definitions_runtime_MachineStatusStatus__Output } from './talos/resource/definitions/runtime/MachineStatusStatus';
import type { UnattendedInstallStatusSpec as _talos_resource_definitions_runtime_UnattendedInstallStatusSpec, UnattendedInstallStatusSpec__Output as _talos_resource_definitions_runtime_UnattendedInstallStatusSpec__Output } from './talos/resource/definitions/runtime/UnattendedInstallStatusSpec';
import type { UnmetCondition as _talos_resource_definitions_runtime_UnmetCondition, UnmetCondition__Output as _talos_resource_definitions_runtime_UnmetCondition__Output } from './talos/resource/definitions/runtime/UnmetCondition';
import type { VersionSpec as _talos_resource_definitions_runtime_VersionSpec, VersionSpec__Output as _talos_resource_definitions_runtime_VersionSpec__Output } from './talos/resource/definitions/runtime/VersionSpec';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  talos: {
    resource: {
      definitions: {
        enums: {
          RuntimeMachineStage: EnumTypeDefinition
          RuntimeUnattendedInstallPhase: EnumTypeDefinition
        }
        runtime: {
          APIServiceConfigSpec: MessageTypeDefinition<_talos_resource_definitions_runtime_APIServiceConfigSpec, _talos_resource_definitions_runtime_APIServiceConfigSpec__Output>
          BootIDSpec: MessageTypeDefinition<_talos_resource_definitions_runtime_BootIDSpec, _talos_resource_definitions_runtime_BootIDSpec__Output>
          ImageFactorySchematicSpec: MessageTypeDefinition<_talos_resource_definitions_runtime_ImageFactorySchematicSpec, _talos_resource_definitions_runtime_ImageFactorySchematicSpec__Output>
          MachineStatusSpec: MessageTypeDefinition<_talos_resource_definitions_runtime_MachineStatusSpec, _talos_resource_definitions_runtime_MachineStatusSpec__Output>
          MachineStatusStatus: MessageTypeDefinition<_talos_resource_definitions_runtime_MachineStatusStatus, _talos_resource_definitions_runtime_MachineStatusStatus__Output>
          UnattendedInstallStatusSpec: MessageTypeDefinition<_talos_resource_definitions_runtime_UnattendedInstallStatusSpec, _talos_resource_definitions_runtime_UnattendedInstallStatusSpec__Output>
          UnmetCondition: MessageTypeDefinition<_talos_resource_definitions_runtime_UnmetCondition, _talos_resource_definitions_runtime_UnmetCondition__Output>
          VersionSpec: MessageTypeDefinition<_talos_resource_definitions_runtime_VersionSpec, _talos_resource_definitions_runtime_VersionSpec__Output>
        }
      }
    }
  }
}

