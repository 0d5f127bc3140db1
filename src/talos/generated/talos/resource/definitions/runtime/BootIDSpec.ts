// Original file: src/talos/proto/resource/definitions/runtime/runtime.proto


export interface BootIDSpec {
  'bootId'?: (string);
}

export interface BootIDSpec__Output {
  'bootId': (string);
}
