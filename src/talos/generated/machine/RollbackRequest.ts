// Original file: src/talos/proto/machine/machine.proto


export interface RollbackRequest {
}

export interface RollbackRequest__Output {
}
