// Original file: src/talos/proto/v1alpha1/resource.proto


// Original file: src/talos/proto/v1alpha1/resource.proto

export const _cosi_resource_LabelTerm_Operation = {
  EXISTS: 'EXISTS',
  EQUAL: 'EQUAL',
  NOT_EXISTS: 'NOT_EXISTS',
} as const;

export type _cosi_resource_LabelTerm_Operation =
  | 'EXISTS'
  | 0
  | 'EQUAL'
  | 1
  | 'NOT_EXISTS'
  | 2

export type _cosi_resource_LabelTerm_Operation__Output = typeof _cosi_resource_LabelTerm_Operation[keyof typeof _cosi_resource_LabelTerm_Operation]

export interface LabelTerm {
  'key'?: (string);
  'op'?: (_cosi_resource_LabelTerm_Operation);
  'value'?: (string);
}

export interface LabelTerm__Output {
  'key': (string);
  'op': (_cosi_resource_LabelTerm_Operation__Output);
  'value': (string);
}
