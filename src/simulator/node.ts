import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { generateCertificateAuthority, issueCertificate, type CertificateAndKey } from '../config/certs';
import { decodePair, machineCertificateAuthority, parseMachineConfig, type MachineConfig } from '../config/machineconfig';
import { ValidationError } from '../errors';
import { EtcdClient } from './etcd/client';
import { EtcdService } from './etcd/service';
import { EventLog } from './events';
import type { NodeFaults, PowerCutPoint } from './faults';
import type { KubernetesHooks } from './kubernetes/hooks';
import { Code, GrpcError, type GrpcServer, type TlsOptions } from './grpc/server';
import { LogBuffer } from './logs';
import { serviceIds, ServiceTable } from './services';
import type { SimClock } from './timing';
import { imageTag, installerPreflightProblem, parseSemVer } from './versions';
import { profileFor, type VersionProfile } from '../releases/profiles';
import { ImageStore } from './images';
import { bootstrapRefusal, legacyUpgradeRefusal, type UnattendedPhase } from './version-rules';
import type { EtcdLine } from '../tools/catalog';

/** Machine stages as MachineStatus reports them. */
export type MachineStage = 'MAINTENANCE' | 'BOOTING' | 'INSTALLING' | 'RUNNING' | 'REBOOTING' | 'SHUTTING_DOWN' | 'RESETTING' | 'UPGRADING';

export type NodeRole = 'controlplane' | 'worker';

/** One mutating call the node received, kept so tests can prove exactly-once effects and ordering. */
export interface MutationRecord {
  /** The method's name: `Upgrade`, `ServiceRestart`, ... */
  method: string;
  /** ISO-8601 time of receipt. */
  at: string;
  /** `pending` while the call runs, then `ok`, or the gRPC status it ended with (`PermissionDenied`, `Unavailable`, ...). */
  outcome: string;
  /** A fresh id per call; the operation it starts publishes its events under it (`talosctl upgrade --wait` follows them). */
  actorId: string;
  /** What the call asked for, without secrets (a config is recorded by size and mode, never by content). */
  details: Record<string, unknown>;
}

/** What a node needs from the fleet it lives in. */
export interface NodeEnvironment {
  clock: SimClock;
  etcdBin: string;
  etcdctlBin: string;
  /** The etcd, etcdctl and etcdutl of a line: each boot runs the etcd its Talos version ships. */
  etcdTools(line: EtcdLine): { etcd: string; etcdctl: string; etcdutl?: string };
  /** Starts this node's API server (maintenance or mutual TLS) on its address. */
  startServer(node: SimulatedNode, tls: TlsOptions): Promise<GrpcServer>;
  /** trustd: a certificate from a control plane of the same cluster, for nodes without the CA key. */
  issueFromClusterCa(node: SimulatedNode, opts: Parameters<typeof issueCertificate>[1]): Promise<CertificateAndKey | undefined>;
  /** Client URLs of running etcd members of this node's cluster on other nodes. */
  etcdJoinTargets(node: SimulatedNode): string[];
  /** The etcd upgrade mutex of a cluster (upstream keeps it in etcd with a 60 s lease, held only for the pre-checks). */
  tryLockUpgrade(clusterId: string, holder: string): boolean;
  unlockUpgrade(clusterId: string, holder: string): void;
  /** The real Kubernetes side (API server, kubelets); absent: the lightweight in-process model of `kubernetes` below. */
  kubernetes?: KubernetesHooks;
}

/** Static facts about a simulated node. */
export interface NodeSpec {
  name: string;
  role: NodeRole;
  address: string;
  port: number;
  /** Talos version the node boots in maintenance mode (its ISO). */
  isoVersion: string;
  /** Directory standing in for the node's disks. */
  dir: string;
}

/** Client certificate lifetime apid uses towards other nodes. */
const IMPERSONATOR_TTL_MS = 24 * 3_600_000;
/** Upstream's apid server certificate: valid 24 h. */
const SERVER_CERT_TTL_MS = 24 * 3_600_000;

function abortError(): Error {
  return new Error('node powered off');
}

/**
 * A simulated Talos node: its disks (a directory), its boot and install sequences, its services and its
 * real etcd member, driven through the same lifecycle as a real machine. The API layer (api/) maps gRPC
 * calls to the operations here; everything observable goes through that API.
 */
export class SimulatedNode {
  readonly events = new EventLog();
  readonly services: ServiceTable;
  readonly logs = new Map<string, LogBuffer>();
  readonly kernelLog = new LogBuffer();
  readonly record: MutationRecord[] = [];
  readonly faults: NodeFaults = { upgradeFailsToBoot: false, upgradeHangs: false, installerFails: false, slowRebootFactor: 1 };
  readonly etcd?: EtcdService;
  /** The 1.14 unattended install's status (UnattendedInstallStatus), once one started. */
  unattended?: { image: string; phase: UnattendedPhase; error: string };
  /** Images per containerd instance (ImageService, and where LifecycleService finds its installer). */
  readonly images = new ImageStore();

  powered = false;
  stage: MachineStage = 'BOOTING';
  bootId = '';
  /** Running Talos version. */
  version: string;
  /** A/B boot slots: the installed image's version and the one before it. */
  installed?: { current: string; previous?: string };
  config?: { yaml: string; parsed: MachineConfig };
  stagedConfig?: string;
  /** Set while a sequence (install, reboot, upgrade, reset...) runs; others wait for it or are refused. */
  sequence?: string;
  /** Kubernetes view of this node: registered with the API server, cordoned during drains. */
  kubernetes = { cordoned: false, kubeletReady: false };
  /** Our client certificate towards other nodes (os:impersonator), and the maintenance-mode certificate. */
  impersonator?: CertificateAndKey;
  maintenanceCertificate?: string;

  /** Counts sequences, so that one ending clears `sequence` only when it is still the latest. */
  private sequenceId = 0;
  /** Why the last boot failed (the API server or etcd could not start), until the next boot. */
  private failure?: string;

  private server?: GrpcServer;
  /** The API server being started, if any: settles once it listens (or was closed again) or failed. */
  private serverStarting?: Promise<void>;
  /** Settles when the last stop of the machine (server closed, etcd stopped) is complete. */
  private stopped: Promise<void> = Promise.resolve();
  /** Readiness as last published in a MachineStatus event. */
  private reportedReady = false;
  /** Aborted when the power is cut; every sequence of this power-on runs under its signal. */
  private powerCycle = new AbortController();

  constructor(
    readonly spec: NodeSpec,
    private readonly env: NodeEnvironment,
  ) {
    this.version = spec.isoVersion;
    this.services = new ServiceTable((s, msg) => {
      this.log(s.id, msg);
      this.events.publish('machine.ServiceStateEvent', {
        service: s.id,
        action: s.state.toUpperCase(),
        message: msg,
        health: { unknown: s.health.unknown, healthy: s.health.healthy, lastMessage: s.health.lastMessage },
      });
      // Readiness follows the services; a watcher (talosctl upgrade --wait) learns of it from MachineStatus.
      if (this.stage === 'RUNNING' && this.ready !== this.reportedReady) this.setStage('RUNNING');
    });
    if (spec.role === 'controlplane') {
      this.etcd = new EtcdService(
        { name: this.hostname, address: spec.address, dataDir: join(spec.dir, 'var', 'lib', 'etcd'), logFile: join(spec.dir, 'var', 'log', 'etcd.log'), etcdBin: env.etcdBin, etcdctlBin: env.etcdctlBin, extraArgs: () => this.config?.parsed.cluster.etcd?.extraArgs ?? {} },
        this.services,
        env.clock,
        () => env.etcdJoinTargets(this),
        () => this.config?.parsed.cluster.id ?? 'talos',
        join(spec.dir, 'var', 'lib', 'etcd.snapshot'),
        (line) => this.log('etcd', line),
      );
    }
    this.loadDisks();
  }

  get name(): string {
    return this.spec.name;
  }

  /** What the running Talos version does differently: the version profile of its minor. */
  get profile(): VersionProfile {
    return profileFor(this.version);
  }

  /** The hostname from the applied config, else the node's name. */
  get hostname(): string {
    return this.config?.parsed.machine.network.hostname ?? this.spec.name;
  }

  get role(): NodeRole {
    const type = this.config?.parsed.machine.type;
    return type === undefined ? this.spec.role : type === 'worker' ? 'worker' : 'controlplane';
  }

  get clusterId(): string | undefined {
    return this.config?.parsed.cluster.id;
  }

  get rbacEnabled(): boolean {
    return this.config?.parsed.machine.features.rbac ?? true;
  }

  /** True while the node serves the maintenance API (booted without a configuration). */
  get inMaintenance(): boolean {
    return this.powered && this.stage === 'MAINTENANCE';
  }

  log(service: string, line: string): void {
    let buffer = this.logs.get(service);
    if (!buffer) {
      buffer = new LogBuffer();
      this.logs.set(service, buffer);
    }
    buffer.append(`${new Date().toISOString()} ${line}`);
  }

  private kmsg(line: string): void {
    this.kernelLog.append(`kern: info: [${new Date().toISOString()}]: ${line}`);
  }

  // --- Disks ----------------------------------------------------------------------------------------

  private get configPath(): string {
    return join(this.spec.dir, 'state', 'config.yaml');
  }

  private get bootPath(): string {
    return join(this.spec.dir, 'state', 'boot.json');
  }

  /** Reads what the "disks" hold: an installed image and an applied config survive restarts of the simulator. */
  private loadDisks(): void {
    mkdirSync(join(this.spec.dir, 'state'), { recursive: true });
    if (existsSync(this.bootPath)) this.installed = JSON.parse(readFileSync(this.bootPath, 'utf8')) as { current: string; previous?: string };
    if (existsSync(this.configPath)) {
      const yaml = readFileSync(this.configPath, 'utf8');
      this.config = { yaml, parsed: parseMachineConfig(yaml, this.configPath) };
    }
  }

  private saveBoot(): void {
    if (this.installed) writeFileSync(this.bootPath, JSON.stringify(this.installed));
    else rmSync(this.bootPath, { force: true });
  }

  private saveConfig(yaml: string | undefined): void {
    if (yaml === undefined) {
      rmSync(this.configPath, { force: true });
      this.config = undefined;
      return;
    }
    this.config = { yaml, parsed: parseMachineConfig(yaml, `machine config of ${this.name}`) };
    writeFileSync(this.configPath, yaml, { mode: 0o600 });
  }

  /** Validates a configuration as Talos does: any problem is InvalidArgument naming the field. */
  static validateConfig(yaml: string, source: string): MachineConfig {
    try {
      return parseMachineConfig(yaml, source);
    } catch (err) {
      if (err instanceof ValidationError) throw new GrpcError(Code.INVALID_ARGUMENT, err.message);
      throw new GrpcError(Code.INVALID_ARGUMENT, `failed to parse config: ${(err as Error).message}`);
    }
  }

  // --- Stages and events ----------------------------------------------------------------------------

  /** Conditions that keep a running node from being Ready, as MachineStatus lists them. */
  unmetConditions(): { name: string; reason: string }[] {
    if (this.stage !== 'RUNNING') return [];
    const down = serviceIds(this.role)
      .filter((id) => id !== 'dashboard')
      .filter((id) => !this.services.isUp(id));
    const out = down.length ? [{ name: 'services', reason: `some services are not up: ${down.join(', ')}` }] : [];
    if (!this.kubernetes.kubeletReady) out.push({ name: 'nodeReady', reason: 'node is not ready' });
    return out;
  }

  get ready(): boolean {
    return this.stage === 'RUNNING' && this.unmetConditions().length === 0;
  }

  /** Why this node cannot come up, if it cannot: its boot failed, or its etcd would not start or exited. */
  get startFailure(): string | undefined {
    return this.failure ?? this.etcd?.failure ?? this.env.kubernetes?.failure(this);
  }

  /** What the Kubernetes API says of this node's Node object (real Kubernetes only), as Talos's node watch reports it. */
  observeKubernetesNode(status: { ready: boolean; cordoned: boolean }): void {
    this.kubernetes.kubeletReady = status.ready;
    this.kubernetes.cordoned = status.cordoned;
    if (this.stage === 'RUNNING' && this.ready !== this.reportedReady) this.setStage('RUNNING');
  }

  setStage(stage: MachineStage, actorId = ''): void {
    this.stage = stage;
    this.reportedReady = this.ready;
    this.events.publish('machine.MachineStatusEvent', { stage, status: { ready: this.ready, unmetConditions: this.unmetConditions() } }, actorId);
  }

  private phase(name: string, run: () => Promise<void>, actorId: string): Promise<void> {
    this.events.publish('machine.PhaseEvent', { phase: name, action: 'START' }, actorId);
    return run().then(() => void this.events.publish('machine.PhaseEvent', { phase: name, action: 'STOP' }, actorId));
  }

  /** Runs a named sequence alone; a node is busy while one runs, as machined's sequencer is. */
  private async runSequence(name: string, id: number, actorId: string, signal: AbortSignal, body: (signal: AbortSignal) => Promise<void>): Promise<void> {
    this.events.publish('machine.SequenceEvent', { sequence: name, action: 'START' }, actorId);
    try {
      signal.throwIfAborted();
      await body(signal);
      this.events.publish('machine.SequenceEvent', { sequence: name, action: 'STOP' }, actorId);
    } catch (err) {
      this.events.publish('machine.SequenceEvent', { sequence: name, action: 'STOP', error: { code: 'FATAL', message: (err as Error).message } }, actorId);
      this.log('machined', `sequence ${name} failed: ${(err as Error).message}`);
    } finally {
      // Only if no other sequence started since (a boot after the power came back, say).
      if (this.sequenceId === id) this.sequence = undefined;
    }
  }

  /** Refuses `what` unless the node is powered and running (not booting, rebooting or off). */
  assertRunning(what: string): void {
    if (!this.powered || this.stage !== 'RUNNING') {
      throw new GrpcError(Code.UNAVAILABLE, `${what} is not possible right now: node ${this.name} is ${this.powered ? this.stage.toLowerCase() : 'powered off'}`);
    }
  }

  /** Refuses a second sequence while one runs. */
  assertIdle(what: string): void {
    if (this.sequence) throw new GrpcError(Code.UNAVAILABLE, `${what} is not possible right now: the ${this.sequence} sequence is in progress`);
  }

  /**
   * Starts a sequence in the background after the API has replied (Talos replies first). It runs under the
   * current power cycle, taken now: a call that is answered just as the power goes must not act after it returns.
   */
  startSequence(name: string, actorId: string, body: (signal: AbortSignal) => Promise<void>): void {
    if (!this.powered) throw new GrpcError(Code.UNAVAILABLE, `node ${this.name} is powered off`);
    const signal = this.powerCycle.signal;
    const id = ++this.sequenceId;
    this.sequence = name;
    setImmediate(() => void this.runSequence(name, id, actorId, signal, body));
  }

  // --- Power ----------------------------------------------------------------------------------------
  //
  // Power changes are atomic with respect to everything else: `powered` and the power cycle's abort change
  // together, synchronously, and every resource a boot takes (the API server, the etcd process) is taken in a
  // synchronous step that first checks the cycle, or is released by whoever finds the cycle aborted. A power cut
  // therefore leaves nothing listening or running once its promise resolves, whatever the node was doing.

  /** Powers the machine on and runs its boot sequence in the background. */
  powerOn(): void {
    if (this.powered) return;
    this.powered = true;
    this.powerCycle = new AbortController();
    this.startBoot();
  }

  /**
   * Cuts the power: the API server closes (open calls fail), etcd dies at once; with `clean`, etcd is stopped
   * first, as on a shutdown. Whatever sequence was running stops at its next step, a reboot's own power-on included.
   * Resolves once nothing of the node runs any more (also when it was already off, once its last stop is done).
   */
  powerOff(clean: boolean): Promise<void> {
    if (this.powered) {
      this.powered = false;
      this.powerCycle.abort(abortError());
      void this.stopMachine(clean);
    }
    return this.stopped;
  }

  /** Arms a power cut for the next time the node reaches `point`, or cuts now when no point is given. */
  cutPower(at?: PowerCutPoint): Promise<void> {
    if (at === undefined) return this.powerOff(false);
    this.faults.powerCutAt = at;
    return Promise.resolve();
  }

  /** A point of a boot, reboot or upgrade has been reached: an armed power cut happens now, synchronously. */
  private reached(point: PowerCutPoint): void {
    if (this.faults.powerCutAt !== point) return;
    this.faults.powerCutAt = undefined;
    this.log('machined', `power lost at ${point}`);
    void this.powerOff(false);
  }

  /** Stops etcd and the API server (etcd killed unless `clean`); stops in progress are waited for too. */
  private stopMachine(clean: boolean): Promise<void> {
    const previous = this.stopped;
    const stopping = (async () => {
      await Promise.all([previous, clean ? this.etcd?.stop() : this.etcd?.kill(), this.closeServer(), this.env.kubernetes?.kubeletStopped(this, clean)]);
      this.services.clear();
      this.kubernetes.kubeletReady = false;
    })();
    this.stopped = stopping.catch((err: Error) => this.log('machined', `stopping failed: ${err.message}`));
    return this.stopped;
  }

  /** Closes the API server, including one still being started (its start must settle first). */
  private async closeServer(): Promise<void> {
    await this.serverStarting;
    const server = this.server;
    this.server = undefined;
    await server?.close();
  }

  /**
   * Starts the API server for this power cycle. A power cut while it starts closes it as soon as it listens;
   * `closeServer` waits for that, so a powered-off node never keeps a listening server.
   */
  private async listen(tls: TlsOptions, signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    let failure: Error | undefined;
    const starting = this.env.startServer(this, tls).then(
      async (server) => {
        if (signal.aborted) await server.close();
        else this.server = server;
      },
      (err: Error) => void (failure = err),
    );
    this.serverStarting = starting;
    this.reached('listen');
    await starting;
    if (this.serverStarting === starting) this.serverStarting = undefined;
    signal.throwIfAborted();
    if (failure) throw failure;
  }

  /** The boot sequence of this power cycle, once the previous stop has released the node's addresses. */
  private startBoot(): void {
    this.startSequence('boot', '', async (signal) => {
      await this.stopped;
      signal.throwIfAborted();
      this.failure = undefined;
      try {
        await this.bootWithRollbackCheck(signal);
      } catch (err) {
        // A boot that a power cut ended did not fail; one whose server could not start did, and says why.
        if (!signal.aborted) this.failure = `boot failed: ${(err as Error).message}`;
        throw err;
      }
    });
  }

  private async boot(signal: AbortSignal): Promise<void> {
    this.bootId = randomUUID();
    this.setStage('BOOTING');
    this.reached('boot');
    this.kmsg(`Linux version 6.12 (talos ${this.version}) boot id ${this.bootId}`);
    this.services.transition('machined', 'Running', 'Service started as goroutine');
    this.services.setHealth('machined', true);
    await this.env.clock.sleep(this.env.clock.timings.bootMs, this.faults.slowRebootFactor, signal);
    if (!this.installed || !this.config) {
      this.version = this.spec.isoVersion;
      await this.startMaintenanceServer(signal);
      this.setStage('MAINTENANCE');
      this.log('machined', 'entering maintenance mode: waiting for a machine configuration');
      return;
    }
    this.version = this.installed.current;
    if (this.unattended?.phase === 'WAITING_FOR_REBOOT') this.unattended.phase = 'INSTALLED';
    if (this.stagedConfig) {
      this.saveConfig(this.stagedConfig);
      this.stagedConfig = undefined;
    }
    await this.startApid(signal);
    for (const id of serviceIds(this.role).filter((s) => !['machined', 'etcd', 'kubelet', 'apid'].includes(s))) {
      this.services.transition(id, 'Running', 'Health check successful');
      this.services.setHealth(id, true);
    }
    // No await since startApid checked the power cycle: etcd starts only on a powered node, with the binaries of the
    // etcd line this Talos version ships (a boot into a new minor is an etcd upgrade on the same data directory).
    this.etcd?.process.useBinaries(this.env.etcdTools(this.profile.etcd.line));
    this.etcd?.start();
    this.reached('etcd-start');
    signal.throwIfAborted();
    this.setStage('RUNNING');
    this.services.transition('kubelet', 'Running', 'Service started as goroutine');
    this.reached('kubelet');
    await this.env.clock.sleep(this.env.clock.timings.kubeletReadyMs, 1, signal);
    this.services.setHealth('kubelet', true);
    if (this.env.kubernetes) {
      // Readiness and cordon come from the Node object in the real API (observeKubernetesNode).
      this.env.kubernetes.kubeletStarted(this);
    } else {
      this.kubernetes.kubeletReady = true;
      this.kubernetes.cordoned = false;
    }
    this.setStage('RUNNING');
  }

  /** Maintenance mode: a self-made CA and server certificate, no client certificates requested. */
  private async startMaintenanceServer(signal: AbortSignal): Promise<void> {
    const ca = await generateCertificateAuthority({ algorithm: 'ed25519', organization: 'talos', ttlMs: SERVER_CERT_TTL_MS });
    const leaf = await issueCertificate(ca, { commonName: 'maintenance-service', ipAddresses: [this.spec.address], dnsNames: [this.spec.name], usage: 'server', ttlMs: SERVER_CERT_TTL_MS });
    this.maintenanceCertificate = leaf.crt;
    await this.listen({ key: leaf.key, cert: leaf.crt + ca.crt }, signal);
  }

  /** apid: server certificate from the OS CA (own key on control planes, trustd on workers), client CAs from the config. */
  private async startApid(signal: AbortSignal): Promise<void> {
    const cfg = this.config!.parsed;
    const sans = { ipAddresses: [this.spec.address, ...cfg.machine.certSANs.filter((s) => isIP(s))], dnsNames: [this.hostname, ...cfg.machine.certSANs.filter((s) => !isIP(s))] };
    const serverOpts = { commonName: this.hostname, ...sans, usage: 'server' as const, ttlMs: SERVER_CERT_TTL_MS };
    const clientOpts = { commonName: this.hostname, organizations: ['os:impersonator'], usage: 'client' as const, ttlMs: IMPERSONATOR_TTL_MS };
    let serverCert: CertificateAndKey | undefined;
    for (let attempt = 0; ; attempt++) {
      if (decodePair(cfg.machine.ca).key) {
        const ca = machineCertificateAuthority(cfg);
        serverCert = await issueCertificate(ca, serverOpts);
        this.impersonator = await issueCertificate(ca, clientOpts);
      } else {
        serverCert = await this.env.issueFromClusterCa(this, serverOpts);
        this.impersonator = await this.env.issueFromClusterCa(this, clientOpts);
      }
      if (serverCert && this.impersonator) break;
      if (attempt === 0) this.log('apid', 'waiting for trustd on a control plane to issue the apid certificate');
      await this.env.clock.sleep(this.env.clock.timings.etcdJoinRetryMs, 1, signal);
    }
    await this.listen({ key: serverCert.key, cert: serverCert.crt, clientCa: decodePair(cfg.machine.ca).crt }, signal);
    this.services.transition('apid', 'Running', 'Health check successful');
    this.services.setHealth('apid', true);
  }

  /**
   * A reboot: services stop cleanly and the machine boots again (new boot id) with the power on throughout.
   * A power cut at any point of it leaves the node off: the reboot's own boot never starts.
   */
  private async rebootNow(signal: AbortSignal, actorId: string): Promise<void> {
    this.setStage('REBOOTING', actorId);
    this.reached('reboot');
    await this.env.clock.sleep(this.env.clock.timings.shutdownMs, 1, signal);
    await this.restart(signal);
  }

  /** The machine restarts: a clean stop, then a new boot in the same power cycle unless the power was cut meanwhile. */
  private async restart(signal: AbortSignal): Promise<void> {
    const stopping = this.stopMachine(true);
    this.reached('reboot-stop');
    await stopping;
    signal.throwIfAborted();
    this.startBoot();
  }

  // --- Operations (called by the API after validation and authorization) ---------------------------

  /** Records a mutating call as pending; the caller fills in the outcome when it ends. */
  recordCall(method: string, details: Record<string, unknown>): MutationRecord {
    const rec: MutationRecord = { method, at: new Date().toISOString(), outcome: 'pending', actorId: randomUUID(), details };
    this.record.push(rec);
    return rec;
  }

  /** Writes an installed image and a configuration to the disks of a powered-off node, as a past install would have. */
  preinstall(version: string, yaml: string): void {
    if (this.powered) throw new Error(`node ${this.name} must be off to pre-install it`);
    this.installed = { current: version };
    this.saveBoot();
    this.saveConfig(yaml);
  }

  /** ApplyConfiguration in maintenance mode: validate, reply, then install and reboot into the config. */
  installFromMaintenance(yaml: string): void {
    this.startSequence('install', '', async (signal) => {
      const cfg = parseMachineConfig(yaml, `machine config of ${this.name}`);
      const image = cfg.machine.install.image ?? '';
      const target = imageTag(image);
      // 1.14's UnattendedInstallConfig: a controller installs (the boot goes on, no INSTALLING stage) and reports its phases.
      const status: SimulatedNode['unattended'] = cfg.machine.install.unattended ? { image, phase: 'PENDING', error: '' } : undefined;
      if (status) this.unattended = status;
      this.setStage(status ? 'BOOTING' : 'INSTALLING');
      if (status) status.phase = 'INSTALLING';
      await this.env.clock.sleep(this.env.clock.timings.installMs, 1, signal);
      this.installed = { current: target && parseSemVer(target) ? target : this.spec.isoVersion };
      this.saveBoot();
      this.saveConfig(yaml);
      if (status) status.phase = 'WAITING_FOR_REBOOT';
      await this.rebootNow(signal, '');
    });
  }

  /** ApplyConfiguration on a configured node, in the mode already resolved by the API. */
  applyConfig(yaml: string, mode: 'REBOOT' | 'NO_REBOOT' | 'STAGED' | 'TRY', tryTimeoutMs: number): void {
    if (mode === 'STAGED') {
      this.stagedConfig = yaml;
      return;
    }
    const previous = this.config!.yaml;
    const previousParsed = this.config!.parsed;
    this.saveConfig(yaml);
    this.stagedConfig = undefined;
    if (mode !== 'REBOOT') this.env.kubernetes?.configApplied(this, previousParsed);
    if (mode === 'REBOOT') {
      this.startSequence('reboot', '', (signal) => this.rebootNow(signal, ''));
    } else if (mode === 'TRY') {
      const boot = this.bootId;
      setTimeout(() => {
        if (this.bootId === boot && this.config?.yaml === yaml) {
          const tried = this.config.parsed;
          this.saveConfig(previous);
          this.env.kubernetes?.configApplied(this, tried);
          this.log('machined', 'try mode timeout: configuration rolled back');
        }
      }, tryTimeoutMs).unref();
    }
  }

  /** Bootstrap: preconditions as upstream checks them, then etcd becomes a new (or recovered) cluster. */
  async bootstrap(recover: boolean, skipHashCheck: boolean): Promise<void> {
    const refusal = bootstrapRefusal(this);
    if (refusal) throw refusal;
    if (this.role !== 'controlplane' || !this.etcd) throw new GrpcError(Code.FAILED_PRECONDITION, 'bootstrap can only be performed on a control plane node');
    if (!this.powered || this.stage !== 'RUNNING' || this.etcd.state === 'stopped') throw new GrpcError(Code.FAILED_PRECONDITION, 'bootstrap is not available yet');
    if (this.etcd.hasData() || this.etcd.state !== 'preparing') throw new GrpcError(Code.ALREADY_EXISTS, 'etcd data directory is not empty');
    if (recover && !this.etcd.hasRecoverySnapshot()) throw new GrpcError(Code.FAILED_PRECONDITION, 'etcd snapshot for recovery was not uploaded, call EtcdRecover first');
    this.log('machined', 'bootstrap request received');
    // The data directory is created at once, so a second Bootstrap is refused even while the first is starting.
    mkdirSync(join(this.etcd.process.options.dataDir, 'member'), { recursive: true });
    await this.etcd.bootstrap({ recover, skipHashCheck });
  }

  /**
   * Upgrade pre-checks done before replying (image, etcd quorum on control planes unless forced), then the
   * asynchronous sequence: drain, stop services, install into the other slot, reboot into it.
   */
  async upgrade(image: string, force: boolean, stage: boolean, actorId: string): Promise<void> {
    const refusal = legacyUpgradeRefusal(this, image);
    if (refusal) throw refusal;
    const tag = imageTag(image);
    const target = tag ? parseSemVer(tag) : undefined;
    if (!target) throw new GrpcError(Code.UNKNOWN, `error validating installer image "${image}": image reference has no version tag such as :v1.10.9`);
    if (this.role === 'controlplane' && !force) await this.validateEtcdForUpgrade();
    this.startSequence(stage ? 'stageUpgrade' : 'upgrade', actorId, (signal) => this.upgradeSequence(tag!, stage, signal, actorId));
  }

  private async validateEtcdForUpgrade(): Promise<void> {
    const cluster = this.clusterId ?? '';
    if (!this.env.tryLockUpgrade(cluster, this.name)) throw new GrpcError(Code.UNKNOWN, 'failed to acquire upgrade mutex: another control plane node is upgrading');
    try {
      if (!this.etcd || this.etcd.state !== 'running') throw new GrpcError(Code.UNKNOWN, 'error validating etcd for upgrade: etcd is not running on this node');
      const client = this.etcd.client(5_000);
      let members;
      try {
        members = await client.memberList();
      } catch (err) {
        throw new GrpcError(Code.UNKNOWN, `error validating etcd for upgrade: ${(err as Error).message}`);
      } finally {
        client.close();
      }
      if (members.length === 2) throw new GrpcError(Code.UNKNOWN, 'error validating etcd for upgrade: etcd member count(2) is insufficient to maintain quorum if upgrade commences');
      for (const m of members) {
        if (!m.name) throw new GrpcError(Code.UNKNOWN, `error validating etcd for upgrade: etcd member ${m.ID} is not started, all members must be running to perform an upgrade`);
        const probe = new EtcdClient(m.clientURLs[0] ?? '', 2_000);
        try {
          await probe.quorumRead(2_000);
        } catch {
          throw new GrpcError(Code.UNKNOWN, `error validating etcd for upgrade: etcd member ${m.name} is not healthy; all members must be healthy to perform an upgrade`);
        } finally {
          probe.close();
        }
      }
    } finally {
      this.env.unlockUpgrade(cluster, this.name);
    }
  }

  private async upgradeSequence(tag: string, staged: boolean, signal: AbortSignal, actorId: string): Promise<void> {
    const clock = this.env.clock;
    this.setStage('UPGRADING', actorId);
    if (!staged) {
      await this.phase('drain', async () => {
        this.kubernetes.cordoned = true;
        this.reached('drain');
        if (this.env.kubernetes) await this.env.kubernetes.drain(this, signal);
        else await clock.sleep(clock.timings.drainMs, 1, signal);
      }, actorId);
    }
    await this.phase('stopServices', async () => {
      this.kubernetes.kubeletReady = false;
      this.services.transition('kubelet', 'Finished', 'Service finished successfully');
      const stopping = Promise.all([this.etcd?.stop(), this.env.kubernetes?.kubeletStopped(this, true)]);
      this.reached('upgrade-stop');
      await stopping;
      signal.throwIfAborted();
    }, actorId);
    let failure: string | undefined;
    await this.phase('upgrade', async () => {
      this.reached('install');
      await clock.sleep(clock.timings.upgradeInstallMs, 1, signal);
      failure = installerPreflightProblem(this.version, tag, imageTag(this.config?.parsed.machine.kubelet.image ?? ''));
      if (failure) {
        this.log('machined', `upgrade failed: ${failure}`);
        return;
      }
      if (this.faults.upgradeHangs) {
        this.faults.upgradeHangs = false;
        this.log('machined', 'installer stopped responding');
        await this.powerOff(false);
        throw abortError();
      }
      this.installed = { current: tag, previous: this.version };
      this.saveBoot();
    }, actorId);
    await this.phase('reboot', () => this.rebootNow(signal, actorId), actorId);
    // A fatal error of the installer reboots the node onto its current version; the sequence reports it.
    if (failure) throw new Error(`upgrade failed: ${failure}`);
  }

  /**
   * LifecycleService: the installer wrote `version` into the other boot slot; the next boot runs it. The running
   * slot stays the one to roll back to, however often the installer runs before the reboot.
   */
  writeBootSlot(version: string): void {
    this.installed = { current: version, previous: this.version };
    this.saveBoot();
  }

  /** Called by boot when the new image is broken: Talos reverts the bootloader and reboots onto the old image. */
  private failedBootCheck(): boolean {
    if (!this.faults.upgradeFailsToBoot || !this.installed?.previous) return false;
    this.faults.upgradeFailsToBoot = false;
    return true;
  }

  /** Boots, and if the freshly installed image is broken, rolls back to the previous slot after a fatal error. */
  private async bootWithRollbackCheck(signal: AbortSignal): Promise<void> {
    if (this.failedBootCheck()) {
      this.bootId = randomUUID();
      this.setStage('BOOTING');
      this.kmsg(`booting ${this.installed!.current} failed: rolling back to ${this.installed!.previous} in 10 seconds`);
      await this.env.clock.sleep(this.env.clock.timings.failedBootMs, this.faults.slowRebootFactor, signal);
      this.installed = { current: this.installed!.previous!, previous: this.installed!.current };
      this.saveBoot();
    }
    await this.boot(signal);
  }

  /** Rollback: flip the A/B slots and reboot. */
  rollback(): void {
    if (!this.installed?.previous) throw new GrpcError(Code.FAILED_PRECONDITION, 'cannot rollback: previous installation not found');
    this.installed = { current: this.installed.previous, previous: this.installed.current };
    this.saveBoot();
    this.startSequence('reboot', '', (signal) => this.rebootNow(signal, ''));
  }

  /** Reboot after replying. */
  reboot(actorId: string): void {
    this.startSequence('reboot', actorId, (signal) => this.rebootNow(signal, actorId));
  }

  /** Shutdown after replying; the node stays off until powered on again. */
  shutdown(actorId: string): void {
    this.startSequence('shutdown', actorId, async (signal) => {
      this.setStage('SHUTTING_DOWN', actorId);
      await this.env.clock.sleep(this.env.clock.timings.shutdownMs, 1, signal);
      await this.powerOff(true);
    });
  }

  /**
   * Reset: optionally leave etcd first (graceful), wipe the given system partitions (all of them when none
   * are named: the node returns to maintenance mode), then reboot or stay off.
   */
  reset(opts: { graceful: boolean; reboot: boolean; wipe: string[] }, actorId: string): void {
    this.startSequence('reset', actorId, async (signal) => {
      this.setStage('RESETTING', actorId);
      if (opts.graceful && this.etcd && this.etcd.state === 'running') {
        this.kubernetes.cordoned = true;
        await this.env.kubernetes?.drain(this, signal);
        await this.etcd.leave();
        signal.throwIfAborted();
      }
      await this.etcd?.stop();
      // A power cut while etcd stopped: the disks are left as they were.
      signal.throwIfAborted();
      const all = opts.wipe.length === 0;
      if (all || opts.wipe.includes('EPHEMERAL')) {
        if (this.etcd) this.etcd.process.wipe();
        rmSync(join(this.spec.dir, 'var'), { recursive: true, force: true });
      }
      if (all || opts.wipe.includes('STATE')) this.saveConfig(undefined);
      if (all) {
        this.installed = undefined;
        this.saveBoot();
      }
      await this.env.clock.sleep(this.env.clock.timings.shutdownMs, 1, signal);
      if (opts.reboot) await this.restart(signal);
      else await this.powerOff(true);
    });
  }

  /** Writes an uploaded etcd snapshot to /var/lib/etcd.snapshot. */
  recoveryPath(): string {
    if (!this.etcd) throw new GrpcError(Code.UNIMPLEMENTED, 'etcd recover is only available on control plane nodes');
    if (this.stage !== 'RUNNING') throw new GrpcError(Code.FAILED_PRECONDITION, 'etcd service is not ready for recovery yet');
    mkdirSync(join(this.spec.dir, 'var', 'lib'), { recursive: true });
    return this.etcd.recoverySnapshotPath;
  }
}
