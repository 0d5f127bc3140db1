/**
 * Friendly names for the Talos API messages the client returns (decoded: camelCase fields, enums as
 * strings, 64-bit integers as decimal strings) and the requests it takes.
 */
export type { Data__Output as Data } from './generated/common/Data';
export type { ApplyConfiguration__Output as ApplyConfiguration } from './generated/machine/ApplyConfiguration';
export type { Bootstrap__Output as Bootstrap } from './generated/machine/Bootstrap';
export type { BootstrapRequest } from './generated/machine/BootstrapRequest';
export type { DmesgRequest } from './generated/machine/DmesgRequest';
export type { EtcdAlarm__Output as EtcdAlarm } from './generated/machine/EtcdAlarm';
export type { EtcdAlarmDisarm__Output as EtcdAlarmDisarm } from './generated/machine/EtcdAlarmDisarm';
export type { EtcdDefragment__Output as EtcdDefragment } from './generated/machine/EtcdDefragment';
export type { EtcdForfeitLeadership__Output as EtcdForfeitLeadership } from './generated/machine/EtcdForfeitLeadership';
export type { EtcdLeaveCluster__Output as EtcdLeaveCluster } from './generated/machine/EtcdLeaveCluster';
export type { EtcdMember__Output as EtcdMember } from './generated/machine/EtcdMember';
export type { EtcdMemberListRequest } from './generated/machine/EtcdMemberListRequest';
export type { EtcdMembers__Output as EtcdMembers } from './generated/machine/EtcdMembers';
export type { EtcdMemberStatus__Output as EtcdMemberStatus } from './generated/machine/EtcdMemberStatus';
export type { EtcdRecover__Output as EtcdRecover } from './generated/machine/EtcdRecover';
export type { EtcdRemoveMemberByID__Output as EtcdRemoveMemberByID } from './generated/machine/EtcdRemoveMemberByID';
export type { EtcdStatus__Output as EtcdStatus } from './generated/machine/EtcdStatus';
export type { Event__Output as Event } from './generated/machine/Event';
export type { EventsRequest } from './generated/machine/EventsRequest';
export type { GenerateClientConfiguration__Output as GenerateClientConfiguration } from './generated/machine/GenerateClientConfiguration';
export type { Hostname__Output as Hostname } from './generated/machine/Hostname';
export type { LoadAvg__Output as LoadAvg } from './generated/machine/LoadAvg';
export type { LogsRequest } from './generated/machine/LogsRequest';
export type { MachineStatusEvent__Output as MachineStatusEvent } from './generated/machine/MachineStatusEvent';
export type { Memory__Output as Memory } from './generated/machine/Memory';
export type { PhaseEvent__Output as PhaseEvent } from './generated/machine/PhaseEvent';
export type { Reboot__Output as Reboot } from './generated/machine/Reboot';
export type { RebootRequest } from './generated/machine/RebootRequest';
export type { Reset__Output as Reset } from './generated/machine/Reset';
export type { ResetRequest } from './generated/machine/ResetRequest';
export type { Rollback__Output as Rollback } from './generated/machine/Rollback';
export type { SequenceEvent__Output as SequenceEvent } from './generated/machine/SequenceEvent';
export type { ServiceInfo__Output as ServiceInfo } from './generated/machine/ServiceInfo';
export type { ServiceList__Output as ServiceList } from './generated/machine/ServiceList';
export type { ServiceRestart__Output as ServiceRestart } from './generated/machine/ServiceRestart';
export type { ImagePull__Output as LegacyImagePull } from './generated/machine/ImagePull';
export type { ServiceStart__Output as ServiceStart } from './generated/machine/ServiceStart';
export type { ServiceStateEvent__Output as ServiceStateEvent } from './generated/machine/ServiceStateEvent';
export type { ServiceStop__Output as ServiceStop } from './generated/machine/ServiceStop';
export type { Shutdown__Output as Shutdown } from './generated/machine/Shutdown';
export type { ShutdownRequest } from './generated/machine/ShutdownRequest';
export type { TaskEvent__Output as TaskEvent } from './generated/machine/TaskEvent';
export type { Upgrade__Output as Upgrade } from './generated/machine/Upgrade';
export type { UpgradeRequest } from './generated/machine/UpgradeRequest';
export type { Version__Output as Version } from './generated/machine/Version';
export type { HealthCheckProgress__Output as HealthCheckProgress } from './generated/cluster/HealthCheckProgress';
export type { Resource__Output as Resource } from './generated/cosi/resource/Resource';
export type { MachineStatusSpec__Output as MachineStatusSpec } from './generated/talos/resource/definitions/runtime/MachineStatusSpec';

/** ApplyConfiguration modes; the client makes the caller choose one (upstream's default, REBOOT, reboots). */
export type ApplyMode = 'REBOOT' | 'AUTO' | 'NO_REBOOT' | 'STAGED' | 'TRY';

/** ApplyConfiguration input with a mandatory mode. */
export interface ApplyConfigurationInput {
  /** Machine configuration YAML (may hold several documents). */
  data: string | Buffer;
  mode: ApplyMode;
  dryRun?: boolean;
  /** TRY mode: how long until the node reverts (Talos default 1 min). */
  tryModeTimeoutMs?: number;
}

/** An event with its payload unpacked: `type` is the message name (`machine.PhaseEvent`...). */
export interface DecodedEvent {
  id: string;
  actorId: string;
  type: string;
  payload: unknown;
}

export type { NodenameSpec__Output as NodenameSpec } from './generated/talos/resource/definitions/k8s/NodenameSpec';
export type { UnattendedInstallStatusSpec__Output as UnattendedInstallStatusSpec } from './generated/talos/resource/definitions/runtime/UnattendedInstallStatusSpec';
export type { ImageFactorySchematicSpec__Output as ImageFactorySchematicSpec } from './generated/talos/resource/definitions/runtime/ImageFactorySchematicSpec';
export type { APIServiceConfigSpec__Output as APIServiceConfigSpec } from './generated/talos/resource/definitions/runtime/APIServiceConfigSpec';
export type { ImageServiceListResponse__Output as ImageListEntry } from './generated/machine/ImageServiceListResponse';
export type { ImageServicePullProgress__Output as ImagePullProgress } from './generated/machine/ImageServicePullProgress';

/** One containerd and a namespace in it (1.13+ ImageService and LifecycleService); Pull and Upgrade must name the same one. */
export interface ContainerdInstance {
  driver: 'CONTAINERD' | 'CRI';
  namespace: 'NS_SYSTEM' | 'NS_CRI' | 'NS_TALOSCONTAINERS';
}

/** An image for MachineService.ImagePull, into the CRI containerd: namespace `system` (the kubelet's) or `k8s.io` (NS_CRI). */
export interface LegacyImagePullRequest {
  image: string;
  namespace: 'NS_SYSTEM' | 'NS_CRI';
}

/** CRI containerd, namespace `system`: where talosctl 1.13+ pulls the installer for an upgrade. */
export const UPGRADE_CONTAINERD: ContainerdInstance = { driver: 'CRI', namespace: 'NS_SYSTEM' };

/** A call that must reach exactly one node: `{ node }` through the endpoint, or `{}` for the endpoint itself. */
export type OneNode = { node: string } | Record<string, never>;

/** A static pod's status as kubelet reports it (StaticPodStatuses, namespace `k8s`). */
export interface StaticPodStatus {
  /** The resource id: `kube-system/kube-apiserver-<node>`. */
  id: string;
  podStatus: Record<string, unknown>;
}
