// Original file: src/talos/proto/resource/definitions/runtime/runtime.proto


export interface APIServiceConfigSpec {
  'listenAddress'?: (string);
  'nodeRoutingDisabled'?: (boolean);
  'readonlyRoleMode'?: (boolean);
  'skipVerifyingClientCert'?: (boolean);
}

export interface APIServiceConfigSpec__Output {
  'listenAddress': (string);
  'nodeRoutingDisabled': (boolean);
  'readonlyRoleMode': (boolean);
  'skipVerifyingClientCert': (boolean);
}
