// Original file: src/talos/proto/resource/definitions/runtime/runtime.proto

import type { RuntimeUnattendedInstallPhase as _talos_resource_definitions_enums_RuntimeUnattendedInstallPhase, RuntimeUnattendedInstallPhase__Output as _talos_resource_definitions_enums_RuntimeUnattendedInstallPhase__Output } from '../../../../talos/resource/definitions/enums/RuntimeUnattendedInstallPhase';

export interface UnattendedInstallStatusSpec {
  'image'?: (string);
  'phase'?: (_talos_resource_definitions_enums_RuntimeUnattendedInstallPhase);
  'error'?: (string);
}

export interface UnattendedInstallStatusSpec__Output {
  'image': (string);
  'phase': (_talos_resource_definitions_enums_RuntimeUnattendedInstallPhase__Output);
  'error': (string);
}
