// Original file: src/talos/proto/resource/definitions/runtime/runtime.proto


export interface ImageFactorySchematicSpec {
  'schematicId'?: (string);
  'flavor'?: (string);
  'apiurl'?: (string);
}

export interface ImageFactorySchematicSpec__Output {
  'schematicId': (string);
  'flavor': (string);
  'apiurl': (string);
}
