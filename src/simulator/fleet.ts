import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { issueCertificate } from '../config/certs';
import { generateMachineConfigs } from '../config/generate';
import type { SecretsBundle } from '../config/secrets';
import { decodePair, machineCertificateAuthority } from '../config/machineconfig';
import { renderNodeConfig } from '../config/node';
import { FleetError } from '../errors';
import { requireEtcd, requireKubernetes, requireKwok, requireTool } from '../tools/binaries';
import type { EtcdLine } from '../tools/catalog';
import { compareSemVer, parseSemVer } from '../releases/versions';
import { defaultInstallerImage } from '../releases/images';
import { TalosClient } from '../talos/client';
import { spkiFingerprint } from '../talos/credentials';
import { allValues } from '../talos/replies';
import { contextIdentity, type Talosconfig } from '../config/talosconfig';
import { ApidProxy, defaultTargetAddress } from './api/proxy';
import { nodeRouter } from './api/router';
import type { FleetView } from './api/types';
import type { SimManifest } from './control';
import { parseFault, type NodeFaults } from './faults';
import { GrpcServer } from './grpc/server';
import { FleetDirLock } from './lock';
import { SimulatedKubernetes } from './kubernetes/hooks';
import type { KubernetesCluster, KubernetesTools } from './kubernetes/cluster';
import { SimulatedNode, type NodeEnvironment, type NodeRole, type MachineStage } from './node';
import { DEFAULT_TIMINGS, SimClock, type Timings } from './timing';
import { hostOf } from '../address';
import { delay } from '../time';

/** One node of a fleet to simulate. */
export interface FleetNodeSpec {
  name: string;
  role: NodeRole;
  address: string;
  port?: number;
  /** Talos version of this node's ISO (and of its install when pre-provisioned); default: the fleet's. A fleet may mix versions. */
  version?: string;
}

export interface SimulatedFleetOptions {
  /** Directory for the nodes' disks, etcd data and logs. */
  dir: string;
  nodes: FleetNodeSpec[];
  /** Talos version the nodes boot in maintenance mode (and are installed with when pre-provisioned). */
  version?: string;
  /** Multiplies every simulated duration: 1 is realistic, 0.01 makes a 15 s boot take 150 ms. */
  timeScale?: number;
  timings?: Partial<Timings>;
  /** etcd and etcdctl binaries for every node whatever its version; by default each node runs its Talos version's etcd line ({@link requireEtcd}). */
  tools?: { etcd: string; etcdctl: string };
  /**
   * `real`: each control plane runs a real kube-apiserver, controller manager and scheduler, and kwok simulates the
   * kubelets (about 0.5 GiB per control plane); `none` (the default here; `sim up` defaults to real): the lightweight
   * in-process model of node readiness and cordons, for fleets of many clusters and tests that need no Kubernetes.
   */
  kubernetes?: 'real' | 'none';
  /** The Kubernetes binaries and kwok; found with requireKubernetes and requireKwok by default. */
  kubernetesTools?: KubernetesTools;
}

/** What `sim status` reports per node. */
export interface NodeStatus {
  name: string;
  role: NodeRole;
  address: string;
  port: number;
  powered: boolean;
  stage: MachineStage | 'OFF';
  ready: boolean;
  version: string;
  bootId: string;
  sequence?: string;
  etcd?: { state: string; memberId?: string; memberIdHex?: string; healthy: boolean };
  faults: NodeFaults & { etcdFrozen: boolean };
  /** Why the node cannot come up (its API server or etcd could not start), when it cannot. */
  failure?: string;
  /** SPKI fingerprint of the maintenance-mode certificate, as the console shows it (talosctl --cert-fingerprint). */
  maintenanceFingerprint?: string;
  record: SimulatedNode['record'];
}

/** One recorded call, with its node: see {@link SimulatedFleet.calls}. */
export interface FleetCall {
  node: string;
  /** When the node received it, ms since the epoch. */
  at: number;
  outcome: string;
  details: Record<string, unknown>;
}

export const DEFAULT_TALOS_VERSION = 'v1.10.9';

/** kube-apiserver, kube-controller-manager, kube-scheduler and kwok as provisioned (or the user's own). */
function kubernetesToolsFound(): KubernetesTools {
  const k8s = requireKubernetes();
  const kwok = requireKwok();
  return { kubeApiserver: k8s.kubeApiserver, kubeControllerManager: k8s.kubeControllerManager, kubeScheduler: k8s.kubeScheduler, kwok: kwok.kwok, kwokStages: kwok.stages };
}

/** `3cp,2w` → node specs named cp-1..3 and w-1..2 on consecutive addresses from `baseAddress`. */
export function parseNodeCounts(spec: string, baseAddress = '127.0.0.11', port?: number): FleetNodeSpec[] {
  const parts = spec.split(',').map((p) => p.trim()).filter(Boolean);
  const counts = { controlplane: 0, worker: 0 };
  for (const p of parts) {
    const m = /^(\d+)(cp|w)$/.exec(p);
    if (!m) throw new FleetError('invalid_nodes', `"${p}" in --nodes ${spec} is not a count followed by cp or w (for example 3cp,2w)`);
    counts[m[2] === 'cp' ? 'controlplane' : 'worker'] += Number(m[1]);
  }
  if (counts.controlplane + counts.worker === 0) throw new FleetError('invalid_nodes', `--nodes ${spec} names no nodes`);
  const base = baseAddress.split('.').map(Number);
  if (base.length !== 4 || base[0] !== 127 || base.some((b) => !(b >= 0 && b <= 255))) {
    throw new FleetError('invalid_nodes', `base address ${baseAddress} must be a loopback IPv4 address (127.x.y.z)`);
  }
  const specs: FleetNodeSpec[] = [];
  const add = (role: NodeRole, prefix: string, n: number) => {
    for (let i = 1; i <= n; i++) {
      const offset = base[3]! + specs.length;
      if (offset > 254) throw new FleetError('invalid_nodes', `too many nodes for base address ${baseAddress}`);
      specs.push({ name: `${prefix}-${i}`, role, address: `${base[0]}.${base[1]}.${base[2]}.${offset}`, ...(port ? { port } : {}) });
    }
  };
  add('controlplane', 'cp', counts.controlplane);
  add('worker', 'w', counts.worker);
  return specs;
}

/** How long a start-up step may take, and a signal that gives up on it (a Ctrl-C during `sim up`). */
export interface StartOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** Waits for `condition`, checking `failed` first on every round: a node that cannot come up ends the wait at once. */
async function waitFor(what: string, opts: StartOptions & { timeoutMs: number }, failed: () => string | undefined, condition: () => boolean): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    opts.signal?.throwIfAborted();
    const failure = failed();
    if (failure) throw new FleetError('node_failed', failure);
    if (condition()) return;
    if (Date.now() > deadline) throw new FleetError('timeout', `timed out after ${opts.timeoutMs} ms waiting for ${what}`);
    await delay(50);
  }
}

/**
 * A simulated Talos fleet: nodes on their own loopback addresses speaking the Talos API over real gRPC and
 * mutual TLS, control planes with real etcd members, a shared clock with a time scale, and fault injection.
 */
export class SimulatedFleet implements FleetView {
  readonly clock: SimClock;
  private readonly byName = new Map<string, SimulatedNode>();
  private readonly upgradeLocks = new Map<string, string>();
  private readonly proxies = new Map<SimulatedNode, ApidProxy>();
  private readonly lock: FleetDirLock;
  private readonly etcdTools: NodeEnvironment['etcdTools'];
  /** The real Kubernetes of the fleet's clusters, when `kubernetes: 'real'`. */
  readonly kubernetes?: SimulatedKubernetes;

  /**
   * Reads the nodes' disks under `options.dir`, after taking the directory's lock: one fleet per directory, so a
   * second one is refused (`fleet_running`) before it touches anything. {@link stop} releases it.
   */
  constructor(readonly options: SimulatedFleetOptions) {
    this.clock = new SimClock(options.timeScale ?? 1, { ...DEFAULT_TIMINGS, ...options.timings });
    const tools = options.tools ?? { etcd: requireTool('etcd'), etcdctl: requireTool('etcdctl') };
    // Found before anything starts: a missing binary is one message saying how to provide it.
    const kubernetesTools = options.kubernetes === 'real' ? (options.kubernetesTools ?? kubernetesToolsFound()) : undefined;
    const lines = new Map<EtcdLine, { etcd: string; etcdctl: string; etcdutl?: string }>();
    this.etcdTools = (line) => {
      if (options.tools) return options.tools;
      let found = lines.get(line);
      if (!found) lines.set(line, (found = requireEtcd(line)));
      return found;
    };
    const seen = new Set<string>();
    for (const spec of options.nodes) {
      for (const key of [spec.name, spec.address]) {
        if (seen.has(key)) throw new FleetError('invalid_nodes', `node name or address ${key} is used twice`);
        seen.add(key);
      }
    }
    this.lock = FleetDirLock.acquire(options.dir);
    if (kubernetesTools) this.kubernetes = new SimulatedKubernetes(options.dir, kubernetesTools, this.clock, () => this.nodes());
    try {
      for (const spec of options.nodes) this.addNode(spec, tools);
    } catch (err) {
      this.lock.release();
      throw err;
    }
  }

  private addNode(spec: FleetNodeSpec, tools: { etcd: string; etcdctl: string }): void {
    const env: NodeEnvironment = {
      clock: this.clock,
      etcdBin: tools.etcd,
      etcdctlBin: tools.etcdctl,
      etcdTools: (line) => this.etcdTools(line),
      startServer: (node, tls) => this.startServer(node, tls),
      issueFromClusterCa: (node, opts) => this.trustd(node, opts),
      etcdJoinTargets: (node) => this.etcdJoinTargets(node),
      tryLockUpgrade: (cluster, holder) => {
        const current = this.upgradeLocks.get(cluster);
        if (current && current !== holder) return false;
        this.upgradeLocks.set(cluster, holder);
        return true;
      },
      unlockUpgrade: (cluster, holder) => {
        if (this.upgradeLocks.get(cluster) === holder) this.upgradeLocks.delete(cluster);
      },
      ...(this.kubernetes ? { kubernetes: this.kubernetes } : {}),
    };
    const dir = join(this.options.dir, 'nodes', spec.name);
    const node = new SimulatedNode({ name: spec.name, role: spec.role, address: spec.address, port: spec.port ?? 50000, isoVersion: spec.version ?? this.options.version ?? DEFAULT_TALOS_VERSION, dir }, env);
    this.byName.set(spec.name, node);
  }

  nodes(): SimulatedNode[] {
    return [...this.byName.values()];
  }

  /**
   * Every node's recorded calls of `method` received at or after `since` (ms since the epoch), oldest first: what
   * exactly-once and ordering claims are checked against.
   */
  calls(method: string, since = 0): FleetCall[] {
    return this.nodes()
      .flatMap((n) => n.record.filter((r) => r.method === method && Date.parse(r.at) >= since).map((r) => ({ node: n.name, at: Date.parse(r.at), outcome: r.outcome, details: r.details })))
      .sort((a, b) => a.at - b.at);
  }

  /** A node by name, address or hostname. */
  find(target: string): SimulatedNode | undefined {
    const host = hostOf(target);
    return this.byName.get(host) ?? this.nodes().find((n) => n.spec.address === host || n.hostname === host);
  }

  /** The real Kubernetes of a node's cluster (undefined with `kubernetes: 'none'`, or before the node has a config). */
  kubernetesOf(node: SimulatedNode): KubernetesCluster | undefined {
    return this.kubernetes?.clusterOf(node);
  }

  node(name: string): SimulatedNode {
    const node = this.find(name);
    if (!node) throw new FleetError('unknown_node', `no simulated node named ${name}; nodes: ${this.nodes().map((n) => n.name).join(', ')}`);
    return node;
  }

  private async startServer(node: SimulatedNode, tls: ConstructorParameters<typeof GrpcServer>[0]): Promise<GrpcServer> {
    this.proxies.get(node)?.close();
    const proxy = new ApidProxy(node, (target) => {
      const found = this.find(target);
      return found ? `${found.spec.address}:${found.spec.port}` : defaultTargetAddress(target);
    });
    this.proxies.set(node, proxy);
    const server = new GrpcServer(tls, nodeRouter(node, this, this.clock, proxy));
    try {
      await server.listen(node.spec.address, node.spec.port);
    } catch (err) {
      const where = `${node.spec.address}:${node.spec.port}`;
      const code = (err as NodeJS.ErrnoException).code;
      const why =
        code === 'EADDRINUSE'
          ? 'the address is already in use (another program or another fleet listens there: stop it, or choose another --base-address or --port)'
          : code === 'EADDRNOTAVAIL'
            ? 'the address is not available on this machine'
            : (err as Error).message;
      throw new FleetError('listen_failed', `cannot listen on ${where}: ${why}`, { cause: err });
    }
    return server;
  }

  /** trustd: a running control plane of the same cluster (same OS CA and machine token) signs for the node. */
  private async trustd(node: SimulatedNode, opts: Parameters<typeof issueCertificate>[1]) {
    const cfg = node.config?.parsed;
    if (!cfg) return undefined;
    const signer = this.nodes().find(
      (n) =>
        n !== node &&
        n.powered &&
        n.stage === 'RUNNING' &&
        n.config?.parsed.machine.token === cfg.machine.token &&
        n.config.parsed.machine.ca.crt === cfg.machine.ca.crt &&
        !!decodePair(n.config.parsed.machine.ca).key,
    );
    return signer ? issueCertificate(machineCertificateAuthority(signer.config!.parsed), opts) : undefined;
  }

  private etcdJoinTargets(node: SimulatedNode): string[] {
    return this.nodes()
      .filter((n) => n !== node && n.clusterId === node.clusterId && n.etcd?.state === 'running' && !n.etcd.process.isFrozen)
      .map((n) => n.etcd!.process.clientUrl);
  }

  /** The first node that cannot come up, and why, as one sentence. */
  private firstFailure(): string | undefined {
    const failed = this.nodes().find((n) => n.startFailure);
    return failed && `node ${failed.name}: ${failed.startFailure}`;
  }

  /**
   * Powers every node on and waits until each one's API listens. Fails at once, naming the node and the cause,
   * when a node cannot start its API server or etcd (a port in use, an etcd that exited).
   */
  async start(opts: StartOptions = {}): Promise<void> {
    mkdirSync(this.options.dir, { recursive: true });
    for (const n of this.nodes()) n.powerOn();
    await waitFor('every node to serve its API', { timeoutMs: 60_000, ...opts }, () => this.firstFailure(), () =>
      this.nodes().every((n) => n.stage === 'MAINTENANCE' || n.services.isUp('apid')),
    );
  }

  /**
   * Pre-provisions the nodes' disks as an installed, configured cluster (what `gen config` + `apply-config`
   * would have left on them), so `start()` boots them straight into it. Returns the admin talosconfig.
   */
  async provisionCluster(opts: { clusterName: string; endpoint?: string; secrets?: SecretsBundle; kubernetesVersion?: string }): Promise<Talosconfig> {
    const controlPlanes = this.nodes().filter((n) => n.spec.role === 'controlplane');
    if (!controlPlanes.length) throw new FleetError('invalid_nodes', 'a bootstrapped cluster needs at least one control plane node');
    // One config for a mixed fleet, for the contract of its oldest node: a node rejects documents it does not know.
    const version = this.nodes().map((n) => n.spec.isoVersion).sort((a, b) => compareSemVer(parseSemVer(a)!, parseSemVer(b)!))[0]!;
    const generated = await generateMachineConfigs({
      clusterName: opts.clusterName,
      endpoint: opts.endpoint ?? `https://${controlPlanes[0]!.spec.address}:6443`,
      talosVersion: version,
      installImage: defaultInstallerImage(version),
      talosconfigEndpoints: controlPlanes.map((n) => n.spec.address),
      ...(opts.secrets ? { secrets: opts.secrets } : {}),
      ...(opts.kubernetesVersion ? { kubernetesVersion: opts.kubernetesVersion } : {}),
    });
    for (const node of this.nodes()) {
      const base = node.spec.role === 'controlplane' ? generated.controlplane : generated.worker;
      node.preinstall(node.spec.isoVersion, renderNodeConfig(base, { hostname: node.name }, [], `config of ${node.name}`));
    }
    return generated.talosconfig;
  }

  /**
   * Bootstraps etcd on the first control plane with a real Bootstrap call (as `talosctl bootstrap` would) and
   * waits for every control plane to join and every node to be ready (with real Kubernetes, also for the static pods,
   * the bootstrap manifests and the `default` ServiceAccount, so that workloads can be created at once).
   */
  async bootstrapCluster(talosconfig: Talosconfig, opts: StartOptions = {}): Promise<void> {
    const controlPlanes = this.nodes().filter((n) => n.role === 'controlplane');
    const first = controlPlanes[0]!;
    const wait = { timeoutMs: 120_000, ...opts };
    const failed = () => this.firstFailure();
    // A resumed fleet's etcd restarts from its data; a fresh one waits in Preparing for Bootstrap.
    await waitFor(`${first.name} to start etcd`, wait, failed, () => first.stage === 'RUNNING' && (first.etcd?.state === 'preparing' || first.etcd?.hasData() === true));
    if (!first.etcd!.hasData()) {
      const { identity } = contextIdentity(talosconfig);
      const client = TalosClient.withIdentity(identity!, { endpoints: [`${first.spec.address}:${first.spec.port}`] });
      try {
        allValues(await client.bootstrap({}));
      } finally {
        client.close();
      }
    }
    await waitFor('every control plane to join etcd', wait, failed, () => controlPlanes.every((n) => n.etcd?.healthy));
    await waitFor('every node to be ready', wait, failed, () => this.nodes().every((n) => n.ready));
    if (this.kubernetes) await waitFor('Kubernetes to be ready for workloads', wait, failed, () => this.kubernetes!.settled(first));
  }

  /**
   * Injects a fault into a node: `down` (resolves once nothing of the node runs), `down@POINT` (the power goes when
   * the node next reaches POINT), `up`, `slow-reboot=FACTOR`, ... (see {@link parseFault}).
   */
  async fault(nodeName: string, fault: string): Promise<void> {
    const node = this.node(nodeName);
    const spec = parseFault(fault);
    switch (spec.name) {
      case 'down':
        return node.cutPower(spec.at);
      case 'up':
        return node.powerOn();
      case 'upgrade-fails-to-boot':
        node.faults.upgradeFailsToBoot = true;
        return;
      case 'upgrade-hangs':
        node.faults.upgradeHangs = true;
        return;
      case 'installer-fails':
        node.faults.installerFails = true;
        return;
      case 'etcd-unhealthy':
        if (!node.etcd?.process.running) throw new FleetError('invalid_fault', `node ${node.name} runs no etcd member to make unhealthy`);
        node.etcd.process.freeze();
        return;
      case 'etcd-healthy':
        node.etcd?.process.thaw();
        return;
      case 'slow-reboot':
        node.faults.slowRebootFactor = spec.factor ?? 10;
        return;
      case 'clear':
        Object.assign(node.faults, { upgradeFailsToBoot: false, upgradeHangs: false, installerFails: false, slowRebootFactor: 1, powerCutAt: undefined });
        node.etcd?.process.thaw();
        return;
    }
  }

  status(): NodeStatus[] {
    return this.nodes().map((n) => ({
      name: n.name,
      role: n.role,
      address: n.spec.address,
      port: n.spec.port,
      powered: n.powered,
      stage: n.powered ? n.stage : 'OFF',
      ready: n.powered && n.ready,
      version: n.version,
      bootId: n.bootId,
      ...(n.sequence ? { sequence: n.sequence } : {}),
      ...(n.etcd
        ? { etcd: { state: n.etcd.state, ...(n.etcd.memberId ? { memberId: n.etcd.memberId, memberIdHex: BigInt(n.etcd.memberId).toString(16) } : {}), healthy: n.etcd.healthy } }
        : {}),
      faults: { ...n.faults, etcdFrozen: !!n.etcd?.process.isFrozen },
      ...(n.startFailure ? { failure: n.startFailure } : {}),
      ...(n.inMaintenance && n.maintenanceCertificate ? { maintenanceFingerprint: spkiFingerprint(n.maintenanceCertificate) } : {}),
      record: n.record,
    }));
  }

  /**
   * Powers every node off (etcd stopped cleanly), whatever each is doing (booting, rebooting, upgrading), waits
   * until none has a server or process left, and releases the directory.
   */
  async stop(): Promise<void> {
    try {
      for (const p of this.proxies.values()) p.close();
      await Promise.all(this.nodes().map((n) => n.powerOff(true)));
      await this.kubernetes?.stop();
    } finally {
      this.lock.release();
    }
  }

  /** True when every node's disks hold an installed configuration (a fleet directory being reused). */
  isProvisioned(): boolean {
    return this.nodes().every((n) => n.config !== undefined && n.installed !== undefined);
  }

  /** Writes `sim.json` describing the fleet for other processes (CLI, tests, the demo); atomically. */
  writeManifest(extra: { control: string; talosconfig?: string }): string {
    const path = join(this.options.dir, 'sim.json');
    const manifest: SimManifest = {
      nodes: this.nodes().map((n) => ({
        name: n.name,
        role: n.spec.role,
        address: n.spec.address,
        port: n.spec.port,
        ...(n.etcd ? { etcdClientUrl: n.etcd.process.clientUrl } : {}),
      })),
      timeScale: this.clock.timeScale,
      ...extra,
    };
    writeFileSync(`${path}.tmp`, JSON.stringify(manifest, null, 2));
    renameSync(`${path}.tmp`, path);
    return path;
  }
}
