import type { Readable } from 'node:stream';
import type { CallOptions, NodeMessage, Target } from './connection';
import type { NodeResult } from './replies';
import type * as machine from './types';
import type { InstallerProgress } from './installer';

/** Options of {@link TalosApi.forEachNode}: each node's call gets its own deadline of `timeoutMs`. */
export interface ForEachNodeOptions {
  /** Deadline of each node's call, ms; default: the client's `timeoutMs`. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * The Talos node API as activities use it. {@link TalosClient} implements it against real nodes (or the simulated
 * fleet, which speaks the same wire protocol); activities depend on this interface, never on the class.
 * Errors are {@link TalosApiError}s (see src/talos/errors.ts for codes, `retryable` and `mayHaveApplied`).
 */
export interface TalosApi {
  /** Talos version, platform and features of each node. */
  version(target?: Target, options?: CallOptions): Promise<NodeResult<machine.Version>[]>;
  /** Hostname of each node. */
  hostname(target?: Target, options?: CallOptions): Promise<NodeResult<machine.Hostname>[]>;
  /** /proc/meminfo of each node. */
  memory(target?: Target, options?: CallOptions): Promise<NodeResult<machine.Memory>[]>;
  /** Load averages of each node. */
  loadAvg(target?: Target, options?: CallOptions): Promise<NodeResult<machine.LoadAvg>[]>;

  /** Applies a machine configuration; `mode` is required (upstream's default reboots). */
  applyConfiguration(request: machine.ApplyConfigurationInput, target?: Target, options?: CallOptions): Promise<NodeResult<machine.ApplyConfiguration>[]>;
  /** Bootstraps etcd on one control plane; `AlreadyBootstrappedError` when it already has data. */
  bootstrap(request?: machine.BootstrapRequest, target?: Target, options?: CallOptions): Promise<NodeResult<machine.Bootstrap>[]>;
  /** Starts an upgrade to `image`; the node replies first, then installs and reboots. */
  upgrade(request: machine.UpgradeRequest & { image: string }, target?: Target, options?: CallOptions): Promise<NodeResult<machine.Upgrade>[]>;
  /** Boots the previous Talos image (A/B). */
  rollback(target?: Target, options?: CallOptions): Promise<NodeResult<machine.Rollback>[]>;
  /** Reboots; the node replies first. */
  reboot(request?: machine.RebootRequest, target?: Target, options?: CallOptions): Promise<NodeResult<machine.Reboot>[]>;
  /** Wipes the node (or the listed partitions), then reboots or halts. */
  reset(request: machine.ResetRequest, target?: Target, options?: CallOptions): Promise<NodeResult<machine.Reset>[]>;
  /** Shuts the node down; the node replies first. */
  shutdown(request?: machine.ShutdownRequest, target?: Target, options?: CallOptions): Promise<NodeResult<machine.Shutdown>[]>;

  /** ImageService.Pull (1.13+): pulls into a containerd instance; resolves with the resolved name. */
  imagePull(request: { image: string; containerd?: machine.ContainerdInstance; onProgress?: (progress: machine.ImagePullProgress) => void }, target: machine.OneNode, options?: CallOptions): Promise<string>;
  /** MachineService.ImagePull (every version; deprecated, removal planned for 1.18): pulls into the CRI containerd's namespace. */
  legacyImagePull(request: machine.LegacyImagePullRequest, target?: Target, options?: CallOptions): Promise<NodeResult<machine.LegacyImagePull>[]>;
  /** ImageService.List (1.13+): the images in a containerd instance. */
  imageList(containerd: machine.ContainerdInstance, target: machine.OneNode, options?: CallOptions): Promise<machine.ImageListEntry[]>;
  /** LifecycleService.Upgrade (1.13+): installer lines, then `{ exitCode: 0 }`; a non-zero exit throws `installer_failed`. No reboot. */
  lifecycleUpgrade(request: { image: string; containerd?: machine.ContainerdInstance }, target: machine.OneNode, options?: CallOptions): AsyncGenerator<InstallerProgress>;

  /** State and health of every Talos service on each node. */
  serviceList(target?: Target, options?: CallOptions): Promise<NodeResult<machine.ServiceList>[]>;
  /** Starts a service. */
  serviceStart(id: string, target?: Target, options?: CallOptions): Promise<NodeResult<machine.ServiceStart>[]>;
  /** Stops a service. */
  serviceStop(id: string, target?: Target, options?: CallOptions): Promise<NodeResult<machine.ServiceStop>[]>;
  /** Restarts a service. */
  serviceRestart(id: string, target?: Target, options?: CallOptions): Promise<NodeResult<machine.ServiceRestart>[]>;
  /** Log chunks of a service or container (pass `timeoutMs: Infinity` to follow). */
  logs(request: machine.LogsRequest & { id: string }, target?: Target, options?: CallOptions): AsyncGenerator<NodeMessage<machine.Data>>;
  /** Kernel log lines. */
  dmesg(request?: machine.DmesgRequest, target?: Target, options?: CallOptions): AsyncGenerator<NodeMessage<machine.Data>>;
  /** Reads a file from one node as a byte stream. */
  read(path: string, target: Target, options?: CallOptions): Readable;
  /** The node's boot id, which changes on every boot. */
  bootId(target: Target, options?: CallOptions): Promise<string>;
  /** Machine events, decoded (pass `timeoutMs: Infinity` to follow). */
  events(request?: machine.EventsRequest, target?: Target, options?: CallOptions): AsyncGenerator<NodeMessage<machine.DecodedEvent>>;

  /** The admin kubeconfig of a control plane (a secret). */
  kubeconfig(target?: Target, options?: CallOptions): Promise<string>;

  /** The etcd members as each control plane sees them. */
  etcdMemberList(request?: machine.EtcdMemberListRequest, target?: Target, options?: CallOptions): Promise<NodeResult<machine.EtcdMembers>[]>;
  /** Status of each node's local etcd member. */
  etcdStatus(target?: Target, options?: CallOptions): Promise<NodeResult<machine.EtcdStatus>[]>;
  /** Moves etcd leadership away from this node if it leads. */
  etcdForfeitLeadership(target?: Target, options?: CallOptions): Promise<NodeResult<machine.EtcdForfeitLeadership>[]>;
  /** Removes this node's member from etcd and deletes its data. */
  etcdLeaveCluster(target?: Target, options?: CallOptions): Promise<NodeResult<machine.EtcdLeaveCluster>[]>;
  /** Removes a member by ID. */
  etcdRemoveMemberById(memberId: string | bigint, target?: Target, options?: CallOptions): Promise<NodeResult<machine.EtcdRemoveMemberByID>[]>;
  /** Active etcd alarms. */
  etcdAlarmList(target?: Target, options?: CallOptions): Promise<NodeResult<machine.EtcdAlarm>[]>;
  /** Disarms etcd alarms. */
  etcdAlarmDisarm(target?: Target, options?: CallOptions): Promise<NodeResult<machine.EtcdAlarmDisarm>[]>;
  /** Defragments the node's etcd data. */
  etcdDefragment(target?: Target, options?: CallOptions): Promise<NodeResult<machine.EtcdDefragment>[]>;
  /** A consistent etcd snapshot from one control plane, as a byte stream. */
  etcdSnapshot(target: Target, options?: CallOptions): Readable;
  /** Uploads a snapshot for a recovering Bootstrap. */
  etcdRecover(snapshot: AsyncIterable<Uint8Array>, target: Target, options?: CallOptions): Promise<machine.EtcdRecover>;

  /** Issues a client certificate and talosconfig with the given roles. */
  generateClientConfiguration(request: { roles: string[]; crtTtlMs: number }, target?: Target, options?: CallOptions): Promise<NodeResult<machine.GenerateClientConfiguration>[]>;
  /** Upstream's named cluster health checks, as progress lines. */
  healthCheck(request: { waitTimeoutMs: number; controlPlaneNodes?: string[]; workerNodes?: string[]; forceEndpoint?: string }, target?: Target, options?: CallOptions): AsyncGenerator<NodeMessage<machine.HealthCheckProgress>>;

  /** One COSI resource of one node. */
  getResource(namespace: string, type: string, id: string, target: { node: string } | Record<string, never>, options?: CallOptions): Promise<machine.Resource>;
  /** The node's MachineStatus. */
  machineStatus(target: { node: string } | Record<string, never>, options?: CallOptions): Promise<machine.MachineStatusSpec>;
  /** Every resource of a type in a namespace of one node. */
  listResources(namespace: string, type: string, target: machine.OneNode, options?: CallOptions): Promise<machine.Resource[]>;
  /** The boot id from COSI BootIDs (1.14+, readable by os:reader); undefined on older nodes. */
  bootIdResource(target: machine.OneNode, options?: CallOptions): Promise<string | undefined>;
  /** The node's Kubernetes node name (COSI Nodenames). */
  nodename(target: machine.OneNode, options?: CallOptions): Promise<machine.NodenameSpec | undefined>;
  /** The static pods' statuses (COSI StaticPodStatuses). */
  staticPodStatuses(target: machine.OneNode, options?: CallOptions): Promise<machine.StaticPodStatus[]>;
  /** The 1.14 unattended install's status; undefined when there is none. */
  unattendedInstallStatus(target: machine.OneNode, options?: CallOptions): Promise<machine.UnattendedInstallStatusSpec | undefined>;
  /** The Image Factory schematic the node booted (1.14+); undefined when none. */
  imageFactorySchematic(target: machine.OneNode, options?: CallOptions): Promise<machine.ImageFactorySchematicSpec | undefined>;
  /** How apid serves (1.13+ COSI APIServiceConfigs). */
  apiServiceConfigs(target: machine.OneNode, options?: CallOptions): Promise<machine.APIServiceConfigSpec[]>;
  /** The machine configuration the node runs (holds secrets). */
  machineConfig(target: { node: string } | Record<string, never>, options?: CallOptions): Promise<string>;

  /** One call per node with `node` metadata, each with its own deadline; results in the order of `nodes`. */
  forEachNode<T>(nodes: string[], call: (target: { node: string }, options: CallOptions) => Promise<NodeResult<T>[]>, options?: ForEachNodeOptions): Promise<NodeResult<T>[]>;

  /** Closes the connections; calls in flight and later calls fail with code `closed`. */
  close(): void;
}
