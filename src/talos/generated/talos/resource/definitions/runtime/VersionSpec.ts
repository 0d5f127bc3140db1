// Original file: src/talos/proto/resource/definitions/runtime/runtime.proto


export interface VersionSpec {
  'version'?: (string);
  'name'?: (string);
}

export interface VersionSpec__Output {
  'version': (string);
  'name': (string);
}
