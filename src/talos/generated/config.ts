import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { MachineConfigSpec as _resource_config_MachineConfigSpec, MachineConfigSpec__Output as _resource_config_MachineConfigSpec__Output } from './resource/config/MachineConfigSpec';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  resource: {
    config: {
      MachineConfigSpec: MessageTypeDefinition<_resource_config_MachineConfigSpec, _resource_config_MachineConfigSpec__Output>
    }
  }
}

