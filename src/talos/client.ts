import { status as GrpcStatus } from '@grpc/grpc-js';
import type { Readable } from 'node:stream';
import type * as machine from './types';
import { UPGRADE_CONTAINERD } from './types';
import type { ForEachNodeOptions, TalosApi } from './api';
import { Connection, type CallOptions, type ConnectionOptions, type NodeMessage, type Target } from './connection';
import { insecureMaintenanceCredentials, mutualTlsCredentials, pinnedMaintenanceCredentials } from './credentials';
import { FleetError } from '../errors';
import { contextIdentity, type ClientIdentity } from '../config/talosconfig';
import { loadTalosconfig, resolveTalosconfigPath } from './talosconfig';
import { messageCodec, toProtoTime, unpackAny } from './codec';
import { TalosApiError } from './errors';
import { extractKubeconfig } from './kubeconfig';
import { onlyValue, type NodeResult } from './replies';
import { installerProgress, type InstallerProgress } from './installer';
import { profileFor } from '../releases/profiles';

const M = '/machine.MachineService/';

/** What to connect to and how long to wait; see {@link ConnectionOptions}. */
export type TalosClientOptions = Omit<ConnectionOptions, 'credentials'>;

/** Options of a maintenance-mode client (no endpoints: it talks to the node directly). */
export type MaintenanceClientOptions = Omit<TalosClientOptions, 'endpoints'>;

/**
 * A client of the Talos node API (the API talosctl uses), with one method per RPC.
 *
 * Every method takes a {@link Target}: `{ node }` is forwarded one-to-one (per-node work: {@link forEachNode});
 * `{ nodes: [...] }` fans out through the endpoint and returns one {@link NodeResult} per node (a node's failure is
 * an error entry, never dropped); no target asks the endpoint itself. Every call, streams included, has a deadline
 * (`timeoutMs`, default 30 s) unless it passes `timeoutMs: Infinity`; calls fail over to the next endpoint only when
 * the request certainly did not leave. Errors: src/talos/errors.ts.
 */
export class TalosClient implements TalosApi {
  private readonly conn: Connection;

  constructor(options: ConstructorParameters<typeof Connection>[0]) {
    this.conn = new Connection(options);
  }

  /** A client authenticated with mutual TLS (the CA, certificate and key of a talosconfig context). */
  static withIdentity(identity: ClientIdentity, options: TalosClientOptions): TalosClient {
    return new TalosClient({ ...options, credentials: mutualTlsCredentials(identity) });
  }

  /**
   * A client from a talosconfig, as talosctl builds one: the file from `path`, else `$TALOSCONFIG`, else
   * `~/.talos/config`; the named context, else the current one; its endpoints unless `endpoints` overrides them.
   * Every problem (missing file, unknown context, bad certificate or key, no endpoints) names the file and context.
   */
  static fromTalosconfig(options: Omit<TalosClientOptions, 'endpoints'> & { path?: string; context?: string; endpoints?: string[] } = {}): TalosClient {
    const path = options.path ?? resolveTalosconfigPath();
    const { name, context, identity } = contextIdentity(loadTalosconfig(path), options.context, `talosconfig ${path}`);
    if (!identity) throw new FleetError('talosconfig_context', `talosconfig ${path} context "${name}" has no ca, crt and key: it cannot authenticate to the Talos API`);
    const endpoints = options.endpoints ?? context.endpoints;
    if (!endpoints.length) {
      throw new FleetError('no_endpoints', `talosconfig ${path} context "${name}" has no endpoints: add the control plane addresses (talosctl config endpoint ...) or pass endpoints`);
    }
    return TalosClient.withIdentity(identity, { ...options, endpoints });
  }

  /**
   * A client for a node in maintenance mode that does **not verify the node** (talosctl `apply-config --insecure`):
   * whoever answers at `node` gets what you send. The controlplane config you apply there holds the cluster's CA
   * keys, so prefer {@link maintenancePinned} with the fingerprint the node's console shows.
   */
  static maintenanceInsecure(node: string, options: MaintenanceClientOptions = {}): TalosClient {
    return new TalosClient({ ...options, endpoints: [node], credentials: insecureMaintenanceCredentials() });
  }

  /**
   * A client for a node in maintenance mode that accepts only a certificate whose SPKI fingerprint is one of
   * `fingerprints` (talosctl `--cert-fingerprint`; the node's console and `sim status` show it). TLS without a client
   * certificate, as maintenance mode expects. The controlplane config you apply holds the cluster's CA keys.
   */
  static maintenancePinned(node: string, fingerprints: string[], options: MaintenanceClientOptions = {}): TalosClient {
    if (fingerprints.length === 0) {
      throw new FleetError('invalid_option', `maintenancePinned(${node}): no fingerprints given; pass the node's SPKI fingerprint, or call maintenanceInsecure to skip verification knowingly`);
    }
    return new TalosClient({ ...options, endpoints: [node], credentials: pinnedMaintenanceCredentials(fingerprints) });
  }

  /**
   * Whether the node at `node` is in maintenance mode, on every Talos version: its MachineStatus stage, read over TLS
   * without a client certificate (which 1.13+'s apid-based maintenance answers as well as the older maintenance
   * service). A node that insists on a client certificate (`tls_failed`) is configured. Never "Version is
   * Unimplemented": Version answers in maintenance from 1.13 on. Does not verify the node (read-only call).
   */
  static async detectMaintenance(node: string, options: MaintenanceClientOptions = {}): Promise<{ inMaintenance: boolean; stage?: string; reason: string }> {
    const client = TalosClient.maintenanceInsecure(node, options);
    try {
      const status = await client.machineStatus({});
      const stage = status.stage.replace(/^MACHINE_STAGE_/, '').toLowerCase();
      return { inMaintenance: stage === 'maintenance', stage, reason: `MachineStatus stage is ${stage}` };
    } catch (err) {
      if (err instanceof TalosApiError && err.code === 'tls_failed') return { inMaintenance: false, reason: 'the node requires a client certificate (it is configured)' };
      throw err;
    } finally {
      client.close();
    }
  }

  /** Closes the connections: calls in flight end with code `closed`, and so does every later call. */
  close(): void {
    this.conn.close();
  }

  /** `await using talos = ...` closes the client at the end of the scope. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
  }

  /**
   * Runs `call` once per node with `{ node }` (one-to-one through the endpoint, as talosctl 1.14 fans out), all at
   * once, each with its own deadline; returns the results in the order of `nodes`. A node's failure (a thrown
   * {@link TalosApiError}) becomes its error entry, so one slow or dead node never hides the others.
   *
   * ```ts
   * const versions = await talos.forEachNode(nodes, (target, options) => talos.version(target, options));
   * ```
   */
  async forEachNode<T>(nodes: string[], call: (target: { node: string }, options: CallOptions) => Promise<NodeResult<T>[]>, options: ForEachNodeOptions = {}): Promise<NodeResult<T>[]> {
    const settled = await Promise.allSettled(nodes.map((node) => call({ node }, { timeoutMs: options.timeoutMs ?? this.conn.timeoutMs, signal: options.signal })));
    const results: NodeResult<T>[] = [];
    for (const [i, outcome] of settled.entries()) {
      const node = nodes[i]!;
      if (outcome.status === 'rejected') {
        // Anything else is a mistake in the call itself (a bad target, an unknown method): the same for every node.
        if (!(outcome.reason instanceof TalosApiError)) throw outcome.reason;
        results.push({ node, error: outcome.reason });
      } else if (outcome.value.length === 0) {
        results.push({ node, error: new TalosApiError(GrpcStatus.UNKNOWN, 'the node sent an empty reply', { method: 'forEachNode', node }) });
      } else {
        results.push(...outcome.value);
      }
    }
    return results;
  }

  // --- Node information ---------------------------------------------------------------------------

  /** Talos version, platform and features of each node. */
  version(target?: Target, options?: CallOptions): Promise<NodeResult<machine.Version>[]> {
    return this.conn.unary(`${M}Version`, {}, target, options);
  }

  /** Hostname of each node. */
  hostname(target?: Target, options?: CallOptions): Promise<NodeResult<machine.Hostname>[]> {
    return this.conn.unary(`${M}Hostname`, {}, target, options);
  }

  /** /proc/meminfo of each node. */
  memory(target?: Target, options?: CallOptions): Promise<NodeResult<machine.Memory>[]> {
    return this.conn.unary(`${M}Memory`, {}, target, options);
  }

  /** Load averages of each node. */
  loadAvg(target?: Target, options?: CallOptions): Promise<NodeResult<machine.LoadAvg>[]> {
    return this.conn.unary(`${M}LoadAvg`, {}, target, options);
  }

  // --- Configuration and lifecycle ----------------------------------------------------------------

  /**
   * Applies a machine configuration. `mode` is required on purpose: upstream's default (REBOOT = 0)
   * reboots the node, which a caller should never get by omission.
   */
  async applyConfiguration(request: machine.ApplyConfigurationInput, target?: Target, options?: CallOptions): Promise<NodeResult<machine.ApplyConfiguration>[]> {
    if (request.mode === 'REBOOT') await this.refuseRebootModeWhereRemoved(target ?? {}, options);
    return this.conn.unary(
      `${M}ApplyConfiguration`,
      {
        data: typeof request.data === 'string' ? Buffer.from(request.data) : request.data,
        mode: request.mode,
        dryRun: request.dryRun ?? false,
        tryModeTimeout: request.tryModeTimeoutMs === undefined ? undefined : toProtoTime(request.tryModeTimeoutMs),
      },
      target,
      options,
    );
  }

  /**
   * Mode REBOOT (0) is never sent to a node whose Talos removed it (1.14 answers `Unimplemented`, and an unset mode is
   * 0): asks each target's version first and refuses locally, naming the nodes, before anything is sent.
   */
  private async refuseRebootModeWhereRemoved(target: Target, options: CallOptions | undefined): Promise<void> {
    const replies = await this.version(target, options).catch((err: TalosApiError) => {
      // A maintenance server before 1.13 does not answer Version, and serves only Talos that still has REBOOT.
      if (err.code === 'unimplemented') return [];
      throw err;
    });
    // A target whose version is unknown (it did not answer) might be a 1.14 node: nothing is sent.
    const unknown = replies.find((r) => r.error);
    if (unknown?.error) throw unknown.error;
    const removed = replies.flatMap((r) => {
      const tag = r.value?.version?.tag;
      const profile = tag ? tryProfile(tag) : undefined;
      // In maintenance mode (no features in the reply) 1.13+ turns REBOOT into NO_REBOOT: only a configured node refuses.
      return profile?.applyModes.reboot === 'unimplemented' && r.value?.features ? [`${r.node} (${tag})`] : [];
    });
    if (removed.length) {
      throw new FleetError('apply_mode_unsupported', `ApplyConfiguration mode REBOOT is not supported by ${removed.join(', ')}: use AUTO or NO_REBOOT, then reboot explicitly if the change needs it; nothing was sent`);
    }
  }

  /**
   * Bootstraps etcd on one control plane (or recovers it from a snapshot uploaded with {@link etcdRecover}).
   * A node that already has etcd data answers with an {@link AlreadyBootstrappedError}.
   */
  bootstrap(request: machine.BootstrapRequest = {}, target?: Target, options?: CallOptions): Promise<NodeResult<machine.Bootstrap>[]> {
    return this.conn.unary(`${M}Bootstrap`, request, target, options);
  }

  /** Starts an upgrade to `image`; the node replies first, then drains, installs and reboots. */
  upgrade(request: machine.UpgradeRequest & { image: string }, target?: Target, options?: CallOptions): Promise<NodeResult<machine.Upgrade>[]> {
    return this.conn.unary(`${M}Upgrade`, request, target, options);
  }

  /** Boots the previous Talos image (A/B); the node reboots after replying. */
  rollback(target?: Target, options?: CallOptions): Promise<NodeResult<machine.Rollback>[]> {
    return this.conn.unary(`${M}Rollback`, {}, target, options);
  }

  /** Reboots; the node replies first. */
  reboot(request: machine.RebootRequest = {}, target?: Target, options?: CallOptions): Promise<NodeResult<machine.Reboot>[]> {
    return this.conn.unary(`${M}Reboot`, request, target, options);
  }

  /** Wipes the node (all of it, or the listed system partitions) and then reboots or halts. */
  reset(request: machine.ResetRequest, target?: Target, options?: CallOptions): Promise<NodeResult<machine.Reset>[]> {
    return this.conn.unary(`${M}Reset`, request, target, options);
  }

  /** Shuts the node down; the node replies first. */
  shutdown(request: machine.ShutdownRequest = {}, target?: Target, options?: CallOptions): Promise<NodeResult<machine.Shutdown>[]> {
    return this.conn.unary(`${M}Shutdown`, request, target, options);
  }

  // --- Images and the 1.13+ lifecycle -------------------------------------------------------------

  /**
   * ImageService.Pull (Talos 1.13+): pulls `image` into a containerd instance (default: CRI, namespace `system`, where
   * an upgrade looks for its installer) and resolves with the resolved name, the stream's last message. Older nodes
   * answer `unimplemented`. One node per call: apid 1.13+ refuses `nodes` here.
   */
  async imagePull(request: { image: string; containerd?: machine.ContainerdInstance; onProgress?: (progress: machine.ImagePullProgress) => void }, target: machine.OneNode, options?: CallOptions): Promise<string> {
    let name: string | undefined;
    const stream = this.conn.serverStream<unknown, Bare<{ name?: string; pullProgress?: machine.ImagePullProgress | null; response?: string }>>(
      '/machine.ImageService/Pull',
      { containerd: request.containerd ?? UPGRADE_CONTAINERD, imageRef: request.image },
      target,
      options,
    );
    for await (const m of stream) {
      if (m.error) throw m.error;
      if (m.value.response === 'name') name = m.value.name;
      else if (m.value.pullProgress) request.onProgress?.(m.value.pullProgress);
    }
    if (!name) throw new FleetError('unexpected_reply', `ImageService.Pull of ${request.image} on ${describeTarget(target)} ended without the image's resolved name`);
    return name;
  }

  /**
   * MachineService.ImagePull, on every Talos version (deprecated since 1.13, removal planned for 1.18): pulls `image`
   * into the CRI containerd, namespace `system` (where the kubelet's image is looked up) or `k8s.io` (the control
   * plane's static pods). upgrade-k8s pre-pulls with it, as upstream's does.
   */
  legacyImagePull(request: machine.LegacyImagePullRequest, target?: Target, options?: CallOptions): Promise<NodeResult<machine.LegacyImagePull>[]> {
    return this.conn.unary(`${M}ImagePull`, { namespace: request.namespace, reference: request.image }, target, options);
  }

  /** ImageService.List (Talos 1.13+): the images in a containerd instance. */
  async imageList(containerd: machine.ContainerdInstance, target: machine.OneNode, options?: CallOptions): Promise<machine.ImageListEntry[]> {
    const out: machine.ImageListEntry[] = [];
    for await (const m of this.conn.serverStream<unknown, Bare<machine.ImageListEntry>>('/machine.ImageService/List', { containerd }, target, options)) {
      if (m.error) throw m.error;
      out.push(m.value);
    }
    return out;
  }

  /**
   * LifecycleService.Upgrade (Talos 1.13+): runs the installer of `image` (pulled first with {@link imagePull} into the
   * same containerd instance) against the system disk, and yields its output lines, then `{ exitCode: 0 }`. A non-zero
   * exit code, which arrives with status OK, throws an {@link InstallerFailedError} (`installer_failed`). The node keeps
   * running: no drain, no etcd check, no reboot; the caller guards quorum, drains, and reboots.
   */
  async *lifecycleUpgrade(request: { image: string; containerd?: machine.ContainerdInstance }, target: machine.OneNode, options?: CallOptions): AsyncGenerator<InstallerProgress> {
    const stream = this.conn.serverStream<unknown, Bare<{ progress?: { message?: string; exitCode?: number; response?: string } | null }>>(
      '/machine.LifecycleService/Upgrade',
      { containerd: request.containerd ?? UPGRADE_CONTAINERD, source: { imageName: request.image } },
      target,
      options,
    );
    yield* installerProgress(describeTarget(target), unwrapProgress(stream));
  }

  // --- Services and logs --------------------------------------------------------------------------

  /** State and health of every Talos service on each node. */
  serviceList(target?: Target, options?: CallOptions): Promise<NodeResult<machine.ServiceList>[]> {
    return this.conn.unary(`${M}ServiceList`, {}, target, options);
  }

  /** Starts a service. */
  serviceStart(id: string, target?: Target, options?: CallOptions): Promise<NodeResult<machine.ServiceStart>[]> {
    return this.conn.unary(`${M}ServiceStart`, { id }, target, options);
  }

  /** Stops a service. */
  serviceStop(id: string, target?: Target, options?: CallOptions): Promise<NodeResult<machine.ServiceStop>[]> {
    return this.conn.unary(`${M}ServiceStop`, { id }, target, options);
  }

  /** Restarts a service. */
  serviceRestart(id: string, target?: Target, options?: CallOptions): Promise<NodeResult<machine.ServiceRestart>[]> {
    return this.conn.unary(`${M}ServiceRestart`, { id }, target, options);
  }

  /**
   * Log chunks of a service (`namespace: 'system'`, the default) or container. `tailLines` -1 means all
   * lines (the default here, as in talosctl); 0 means none.
   */
  logs(request: machine.LogsRequest & { id: string }, target?: Target, options?: CallOptions): AsyncGenerator<NodeMessage<machine.Data>> {
    return this.conn.serverStream(`${M}Logs`, { namespace: 'system', tailLines: -1, ...request }, target, options);
  }

  /** Reads a file from one node (admin only), as a byte stream; `nodes` with several entries is refused. */
  read(path: string, target: Target, options?: CallOptions): Readable {
    return this.conn.byteStream(`${M}Read`, { path }, target, options);
  }

  /** The node's current boot id: it changes on every boot, which is how a finished reboot is recognized. */
  async bootId(target: Target, options?: CallOptions): Promise<string> {
    const chunks: Buffer[] = [];
    for await (const chunk of this.read('/proc/sys/kernel/random/boot_id', target, options)) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8').trim();
  }

  /** Kernel log lines. */
  dmesg(request: machine.DmesgRequest = {}, target?: Target, options?: CallOptions): AsyncGenerator<NodeMessage<machine.Data>> {
    return this.conn.serverStream(`${M}Dmesg`, request, target, options);
  }

  /** Machine events (sequences, phases, tasks, service states, machine status), decoded. */
  async *events(request: machine.EventsRequest = {}, target?: Target, options?: CallOptions): AsyncGenerator<NodeMessage<machine.DecodedEvent>> {
    for await (const m of this.conn.serverStream<machine.EventsRequest, machine.Event>(`${M}Events`, request, target, options)) {
      if (m.error) {
        yield m;
        continue;
      }
      const payload = m.value.data ? unpackAny(m.value.data) : undefined;
      yield { node: m.node, value: { id: m.value.id, actorId: m.value.actorId, type: payload?.type ?? m.value.data?.type_url ?? '', payload: payload?.value } };
    }
  }

  // --- Kubernetes ---------------------------------------------------------------------------------

  /** The admin kubeconfig minted by a control plane node. It is a secret: never log it. */
  async kubeconfig(target?: Target, options?: CallOptions): Promise<string> {
    const chunks: Buffer[] = [];
    for await (const chunk of this.conn.byteStream(`${M}Kubeconfig`, {}, target ?? {}, options)) chunks.push(chunk as Buffer);
    return extractKubeconfig(Buffer.concat(chunks));
  }

  // --- etcd ---------------------------------------------------------------------------------------

  /** The etcd members as each control plane sees them. */
  etcdMemberList(request: machine.EtcdMemberListRequest = {}, target?: Target, options?: CallOptions): Promise<NodeResult<machine.EtcdMembers>[]> {
    return this.conn.unary(`${M}EtcdMemberList`, request, target, options);
  }

  /** Status of each node's local etcd member (DB size, leader, raft index, errors). */
  etcdStatus(target?: Target, options?: CallOptions): Promise<NodeResult<machine.EtcdStatus>[]> {
    return this.conn.unary(`${M}EtcdStatus`, {}, target, options);
  }

  /** Moves etcd leadership away from this node if it leads; returns the leader afterwards. */
  etcdForfeitLeadership(target?: Target, options?: CallOptions): Promise<NodeResult<machine.EtcdForfeitLeadership>[]> {
    return this.conn.unary(`${M}EtcdForfeitLeadership`, {}, target, options);
  }

  /** Removes this node's member from etcd and deletes its data. */
  etcdLeaveCluster(target?: Target, options?: CallOptions): Promise<NodeResult<machine.EtcdLeaveCluster>[]> {
    return this.conn.unary(`${M}EtcdLeaveCluster`, {}, target, options);
  }

  /** Removes a member (by ID, a decimal string or bigint) that has no working node any more. */
  etcdRemoveMemberById(memberId: string | bigint, target?: Target, options?: CallOptions): Promise<NodeResult<machine.EtcdRemoveMemberByID>[]> {
    return this.conn.unary(`${M}EtcdRemoveMemberByID`, { memberId: String(memberId) }, target, options);
  }

  /** Active etcd alarms (NOSPACE, CORRUPT). */
  etcdAlarmList(target?: Target, options?: CallOptions): Promise<NodeResult<machine.EtcdAlarm>[]> {
    return this.conn.unary(`${M}EtcdAlarmList`, {}, target, options);
  }

  /** Disarms etcd alarms. */
  etcdAlarmDisarm(target?: Target, options?: CallOptions): Promise<NodeResult<machine.EtcdAlarmDisarm>[]> {
    return this.conn.unary(`${M}EtcdAlarmDisarm`, {}, target, options);
  }

  /** Defragments the node's etcd data; blocks that member meanwhile, so do one node at a time. */
  etcdDefragment(target?: Target, options?: CallOptions): Promise<NodeResult<machine.EtcdDefragment>[]> {
    return this.conn.unary(`${M}EtcdDefragment`, {}, target, options);
  }

  /**
   * A consistent etcd snapshot from one control plane's local member, as a byte stream with backpressure
   * (raw etcd v3 snapshot: bbolt database plus SHA-256 trailer). One node only: `nodes` with several entries is
   * refused, as two snapshots would interleave into one corrupt stream. The deadline covers the whole transfer
   * (default: the client's `timeoutMs`); pass a longer `timeoutMs` for a large database.
   */
  etcdSnapshot(target: Target, options?: CallOptions): Readable {
    return this.conn.byteStream(`${M}EtcdSnapshot`, {}, target, options);
  }

  /** Uploads a snapshot (to one node) for {@link bootstrap} with `recoverEtcd`; the deadline covers the whole upload. */
  async etcdRecover(snapshot: AsyncIterable<Uint8Array>, target: Target, options?: CallOptions): Promise<machine.EtcdRecover> {
    return onlyValue(await this.conn.clientStream<machine.EtcdRecover>(`${M}EtcdRecover`, snapshot, target, options));
  }

  // --- Cluster ------------------------------------------------------------------------------------

  /** Issues a client certificate and talosconfig with the given roles from a control plane's OS CA. */
  generateClientConfiguration(request: { roles: string[]; crtTtlMs: number }, target?: Target, options?: CallOptions): Promise<NodeResult<machine.GenerateClientConfiguration>[]> {
    return this.conn.unary(`${M}GenerateClientConfiguration`, { roles: request.roles, crtTtl: toProtoTime(request.crtTtlMs) }, target, options);
  }

  /**
   * Runs upstream's named cluster health checks on the receiving node and streams its progress lines.
   * The stream ends normally when every check passed and with an error when one failed or timed out.
   * Its deadline defaults to `waitTimeoutMs` plus the client's `timeoutMs`, so the node's own timeout comes first.
   */
  healthCheck(request: { waitTimeoutMs: number; controlPlaneNodes?: string[]; workerNodes?: string[]; forceEndpoint?: string }, target?: Target, options?: CallOptions): AsyncGenerator<NodeMessage<machine.HealthCheckProgress>> {
    return this.conn.serverStream(
      '/cluster.ClusterService/HealthCheck',
      {
        waitTimeout: toProtoTime(request.waitTimeoutMs),
        clusterInfo: { controlPlaneNodes: request.controlPlaneNodes ?? [], workerNodes: request.workerNodes ?? [], forceEndpoint: request.forceEndpoint ?? '' },
      },
      target,
      { ...options, timeoutMs: options?.timeoutMs ?? request.waitTimeoutMs + this.conn.timeoutMs },
    );
  }

  // --- Resources (COSI) ---------------------------------------------------------------------------

  /** One resource from the node's COSI state (must target one node with `node`). */
  async getResource(namespace: string, type: string, id: string, target: { node: string } | Record<string, never>, options?: CallOptions): Promise<machine.Resource> {
    // COSI replies are not wrapped in `messages` and carry no per-node metadata.
    const reply = await this.conn.call<unknown, { resource: machine.Resource | null }>('/cosi.resource.State/Get', { namespace, type, id }, target, options);
    return reply.resource!;
  }

  /** The node's MachineStatus: stage (booting, running, upgrading...) and readiness. */
  async machineStatus(target: { node: string } | Record<string, never>, options?: CallOptions): Promise<machine.MachineStatusSpec> {
    const resource = await this.getResource('runtime', 'MachineStatuses.runtime.talos.dev', 'machine', target, options);
    return messageCodec<unknown, machine.MachineStatusSpec>('talos.resource.definitions.runtime.MachineStatusSpec').decode(resource.spec!.protoSpec);
  }

  /** Every resource of a type in a namespace of one node (COSI List). */
  async listResources(namespace: string, type: string, target: machine.OneNode, options?: CallOptions): Promise<machine.Resource[]> {
    const out: machine.Resource[] = [];
    for await (const m of this.conn.serverStream<unknown, Bare<{ resource: machine.Resource | null }>>('/cosi.resource.State/List', { namespace, type }, target, options)) {
      if (m.error) throw m.error;
      if (m.value.resource) out.push(m.value.resource);
    }
    return out;
  }

  /** The decoded spec of one resource, or undefined when the node has none by that id (`NotFound`). */
  private async optionalSpec<T>(namespace: string, type: string, id: string, spec: string, target: machine.OneNode, options?: CallOptions): Promise<T | undefined> {
    try {
      const resource = await this.getResource(namespace, type, id, target, options);
      return messageCodec<unknown, T>(spec).decode(resource.spec!.protoSpec);
    } catch (err) {
      if (err instanceof TalosApiError && err.code === 'not_found') return undefined;
      throw err;
    }
  }

  /** The boot id from COSI `BootIDs` (Talos 1.14+; readable by os:reader, unlike {@link bootId}); undefined on older nodes. */
  async bootIdResource(target: machine.OneNode, options?: CallOptions): Promise<string | undefined> {
    return (await this.optionalSpec<{ bootId: string }>('runtime', 'BootIDs.runtime.talos.dev', 'boot-id', 'talos.resource.definitions.runtime.BootIDSpec', target, options))?.bootId;
  }

  /** The node's name in Kubernetes (COSI `Nodenames`, namespace `k8s`): what a drain cordons. */
  async nodename(target: machine.OneNode, options?: CallOptions): Promise<machine.NodenameSpec | undefined> {
    return this.optionalSpec('k8s', 'Nodenames.kubernetes.talos.dev', 'nodename', 'talos.resource.definitions.k8s.NodenameSpec', target, options);
  }

  /** The control-plane static pods' statuses as kubelet reports them (COSI `StaticPodStatuses`, namespace `k8s`). */
  async staticPodStatuses(target: machine.OneNode, options?: CallOptions): Promise<machine.StaticPodStatus[]> {
    const codec = messageCodec<unknown, { podStatus?: Record<string, unknown> | null }>('talos.resource.definitions.k8s.StaticPodStatusSpec');
    return (await this.listResources('k8s', 'StaticPodStatuses.kubernetes.talos.dev', target, options)).map((r) => ({
      id: r.metadata!.id,
      podStatus: structToObject(codec.decode(r.spec!.protoSpec).podStatus),
    }));
  }

  /** The 1.14 unattended install's status (COSI `UnattendedInstallStatuses`); undefined when the node has none. */
  async unattendedInstallStatus(target: machine.OneNode, options?: CallOptions): Promise<machine.UnattendedInstallStatusSpec | undefined> {
    return this.optionalSpec('runtime', 'UnattendedInstallStatuses.runtime.talos.dev', 'unattended-install', 'talos.resource.definitions.runtime.UnattendedInstallStatusSpec', target, options);
  }

  /** The Image Factory schematic the node booted (COSI `ImageFactorySchematics`, 1.14+); undefined when none. */
  async imageFactorySchematic(target: machine.OneNode, options?: CallOptions): Promise<machine.ImageFactorySchematicSpec | undefined> {
    return this.optionalSpec('runtime', 'ImageFactorySchematics.runtime.talos.dev', 'image-factory-schematic', 'talos.resource.definitions.runtime.ImageFactorySchematicSpec', target, options);
  }

  /** How apid serves (COSI `APIServiceConfigs`, 1.13+): in maintenance mode, routing disabled and every caller a reader. */
  async apiServiceConfigs(target: machine.OneNode, options?: CallOptions): Promise<machine.APIServiceConfigSpec[]> {
    const codec = messageCodec<unknown, machine.APIServiceConfigSpec>('talos.resource.definitions.runtime.APIServiceConfigSpec');
    return (await this.listResources('runtime', 'APIServiceConfigs.runtime.talos.dev', target, options)).map((r) => codec.decode(r.spec!.protoSpec));
  }

  /** The machine configuration the node runs, as the YAML bytes that were applied (holds secrets). */
  async machineConfig(target: { node: string } | Record<string, never>, options?: CallOptions): Promise<string> {
    const resource = await this.getResource('config', 'MachineConfigs.config.talos.dev', 'v1alpha1', target, options);
    return messageCodec<unknown, { yamlMarshalled: Buffer }>('resource.config.MachineConfigSpec').decode(resource.spec!.protoSpec).yamlMarshalled.toString('utf8');
  }
}

/** A reply without Talos's per-node metadata (the 1.13+ services and COSI carry none). */
type Bare<T> = T & { metadata?: null };

/** The profile of a version, or undefined for one this project does not know. */
function tryProfile(tag: string) {
  try {
    return profileFor(tag);
  } catch {
    return undefined;
  }
}

function describeTarget(target: Target): string {
  return target.node ?? target.nodes?.join(',') ?? 'the endpoint';
}

/** The `progress` of each LifecycleService reply; a node's error entry is thrown. */
async function* unwrapProgress(stream: AsyncIterable<NodeMessage<{ progress?: { message?: string; exitCode?: number; response?: string } | null }>>) {
  for await (const m of stream) {
    if (m.error) throw m.error;
    yield m.value.progress;
  }
}

interface StructValue {
  nullValue?: string;
  numberValue?: number;
  stringValue?: string;
  boolValue?: boolean;
  structValue?: { fields?: Record<string, StructValue> } | null;
  listValue?: { values?: StructValue[] } | null;
  kind?: string;
}

/** google.protobuf.Struct as decoded here → a plain object. */
function structToObject(s: { fields?: Record<string, StructValue> } | null | undefined): Record<string, unknown> {
  const value = (v: StructValue): unknown => {
    switch (v.kind) {
      case 'numberValue':
        return v.numberValue;
      case 'stringValue':
        return v.stringValue;
      case 'boolValue':
        return v.boolValue;
      case 'structValue':
        return structToObject(v.structValue);
      case 'listValue':
        return (v.listValue?.values ?? []).map(value);
      default:
        return null;
    }
  };
  return Object.fromEntries(Object.entries(s?.fields ?? {}).map(([k, v]) => [k, value(v)]));
}
