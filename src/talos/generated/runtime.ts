import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { MachineStatusSpec as _talos_resource_definitions_runtime_MachineStatusSpec, MachineStatusSpec__Output as _talos_resource_definitions_runtime_MachineStatusSpec__Output } from './talos/resource/definitions/runtime/MachineStatusSpec';
import type { MachineStatusStatus as _talos_resource_definitions_runtime_MachineStatusStatus, MachineStatusStatus__Output as _talos_resource_definitions_runtime_MachineStatusStatus__Output } from './talos/resource/definitions/runtime/MachineStatusStatus';
import type { UnmetCondition as _talos_resource_definitions_runtime_UnmetCondition, UnmetCondition__Output as _talos_resource_definitions_runtime_UnmetCondition__Output } from './talos/resource/definitions/runtime/UnmetCondition';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  talos: {
    resource: {
      definitions: {
        enums: {
          RuntimeMachineStage: EnumTypeDefinition
        }
        runtime: {
          MachineStatusSpec: MessageTypeDefinition<_talos_resource_definitions_runtime_MachineStatusSpec, _talos_resource_definitions_runtime_MachineStatusSpec__Output>
          MachineStatusStatus: MessageTypeDefinition<_talos_resource_definitions_runtime_MachineStatusStatus, _talos_resource_definitions_runtime_MachineStatusStatus__Output>
          UnmetCondition: MessageTypeDefinition<_talos_resource_definitions_runtime_UnmetCondition, _talos_resource_definitions_runtime_UnmetCondition__Output>
        }
      }
    }
  }
}

