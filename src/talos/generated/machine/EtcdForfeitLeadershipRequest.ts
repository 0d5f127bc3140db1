// Original file: src/talos/proto/machine/machine.proto


export interface EtcdForfeitLeadershipRequest {
}

export interface EtcdForfeitLeadershipRequest__Output {
}
