// Original file: src/talos/proto/machine/machine.proto


export interface EtcdLeaveClusterRequest {
}

export interface EtcdLeaveClusterRequest__Output {
}
