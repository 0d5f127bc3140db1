import { existsSync, rmSync } from 'node:fs';
import type { SimClock } from '../timing';
import type { ServiceTable } from '../services';
import { EtcdClient, type EtcdMemberInfo } from './client';
import { EtcdProcess, type EtcdProcessOptions } from './process';
import { delay } from '../../time';

/** Finds the client URLs of running etcd members of the same cluster on other control planes. */
export type JoinTargets = () => string[];

/** Upstream probes etcd health with a quorum read every 20 s, with a 15 s timeout. */
const HEALTH_INTERVAL_MS = 20_000;
const HEALTH_TIMEOUT_MS = 15_000;

/** Where the etcd service of a simulated control plane stands. */
export type EtcdPhase = 'stopped' | 'preparing' | 'starting' | 'running';

/**
 * The etcd service of one simulated control plane, following Talos's rules: with data it restarts as the
 * same member; without data it waits in Preparing, trying to join an existing cluster as a learner (and
 * getting promoted), until Bootstrap makes it a new single-member cluster, or recovers one from a snapshot.
 */
export class EtcdService {
  readonly process: EtcdProcess;
  private phase: EtcdPhase = 'stopped';
  private generation = 0;
  private lastHealthy = false;
  memberId?: string;
  /** Why the service last failed (etcd would not start, or exited on its own), until it is started again. */
  failure?: string;

  constructor(
    options: EtcdProcessOptions,
    private readonly services: ServiceTable,
    private readonly clock: SimClock,
    private readonly joinTargets: JoinTargets,
    private readonly clusterToken: () => string,
    /** Path of the snapshot uploaded by EtcdRecover (the node's /var/lib/etcd.snapshot). */
    readonly recoverySnapshotPath: string,
    private readonly log: (line: string) => void,
  ) {
    this.process = new EtcdProcess(options);
  }

  get name(): string {
    return this.process.options.name;
  }

  get state(): EtcdPhase {
    return this.phase;
  }

  /** Result of the last health probe (quorum read through this member). */
  get healthy(): boolean {
    return this.phase === 'running' && this.lastHealthy && !this.process.isFrozen;
  }

  /** A client for this node's own member. Caller closes it. */
  client(timeoutMs?: number): EtcdClient {
    return new EtcdClient(this.process.clientUrl, timeoutMs);
  }

  /** True once etcd has data: Bootstrap is refused from then on ("etcd data directory is not empty"). */
  hasData(): boolean {
    return this.process.hasData();
  }

  /** Starts the service at boot. */
  start(): void {
    const generation = ++this.generation;
    this.failure = undefined;
    this.services.transition('etcd', 'Waiting', 'Waiting for time sync, network, etcd spec, cri');
    this.services.transition('etcd', 'Preparing', 'Running pre state');
    this.phase = 'preparing';
    if (this.hasData()) {
      void this.run(generation, () => this.spawn(generation, { state: 'existing', initialCluster: `${this.name}=${this.process.peerUrl}`, clusterToken: this.clusterToken() }));
    } else {
      this.log('etcd is waiting to join the cluster, if this node is the first node in the cluster, please run `talosctl bootstrap` against one of the following IPs');
      void this.joinLoop(generation);
    }
  }

  private async joinLoop(generation: number): Promise<void> {
    while (generation === this.generation && this.phase === 'preparing') {
      for (const url of this.joinTargets()) {
        if (generation !== this.generation || this.phase !== 'preparing') return;
        const joined = await this.tryJoin(url, generation).catch((err: Error) => {
          this.log(`etcd join via ${url} failed: ${err.message}`);
          return false;
        });
        if (joined) return;
      }
      await this.clock.sleep(this.clock.timings.etcdJoinRetryMs);
    }
  }

  private async tryJoin(url: string, generation: number): Promise<boolean> {
    const peer = new EtcdClient(url, 5_000);
    try {
      const members = await peer.memberList();
      // The data directory is empty, so a member with our name is a stale one of ours: remove it first, as Talos does.
      for (const stale of members.filter((m) => m.name === this.name || m.peerURLs.includes(this.process.peerUrl))) {
        this.log(`removing stale etcd member ${stale.ID} (${stale.name || 'unstarted'}) before joining`);
        await peer.memberRemove(stale.ID);
      }
      if (generation !== this.generation || this.phase !== 'preparing') return true;
      const added = await peer.memberAddAsLearner(this.process.peerUrl);
      this.memberId = added.member.ID;
      const initialCluster = added.members
        .map((m: EtcdMemberInfo) => `${m.ID === added.member.ID ? this.name : m.name}=${m.peerURLs[0]}`)
        .filter((entry) => !entry.startsWith('='))
        .join(',');
      this.log(`joining etcd cluster as learner ${added.member.ID}`);
      await this.run(generation, async () => {
        await this.spawn(generation, { state: 'existing', initialCluster, clusterToken: this.clusterToken() });
        await this.promote(peer, added.member.ID, generation);
      });
      return true;
    } finally {
      peer.close();
    }
  }

  /** A learner is promoted once it has caught up with the leader; etcd refuses until then. */
  private async promote(peer: EtcdClient, id: string, generation: number): Promise<void> {
    for (let attempt = 0; generation === this.generation; attempt++) {
      try {
        await peer.memberPromote(id);
        this.log(`etcd member ${id} promoted from learner`);
        return;
      } catch (err) {
        if (/not a learner/i.test((err as Error).message)) return;
        if (attempt > 600) throw err;
        await delay(100);
      }
    }
  }

  /**
   * Starts the process for `generation` only: a stop or power loss since (a newer generation) means the node no
   * longer wants it, and nothing is spawned. The check and the spawn happen in one synchronous step.
   */
  private spawn(generation: number, init: Parameters<EtcdProcess['start']>[0]): Promise<void> {
    if (generation !== this.generation) return Promise.reject(new Error('etcd was stopped before it started'));
    return this.process.start(init);
  }

  /** Marks the service failed with `reason`, as machined's service runner reports a service that died. */
  private fail(reason: string): void {
    this.phase = 'stopped';
    this.lastHealthy = false;
    this.failure = reason;
    this.services.transition('etcd', 'Failed', `Failed to run service: ${reason}`);
  }

  /** Starts the process through `starter`, then reports Running and probes health until the next stop. */
  private async run(generation: number, starter: () => Promise<void>): Promise<void> {
    if (generation !== this.generation) return;
    this.phase = 'starting';
    this.services.transition('etcd', 'Starting', 'Starting service');
    try {
      await starter();
    } catch (err) {
      if (generation === this.generation) this.fail((err as Error).message);
      return;
    }
    if (generation !== this.generation) return;
    this.phase = 'running';
    // An exit nobody asked for (no stop, kill or restart since) is a failure with etcd's own reason.
    void this.process.exited().then((reason) => {
      if (generation === this.generation && this.phase === 'running') this.fail(`etcd member ${this.name} exited: ${reason ?? 'unknown reason'}`);
    });
    const client = this.client();
    try {
      this.memberId = (await client.status(5_000).catch(() => undefined))?.header.member_id ?? this.memberId;
    } finally {
      client.close();
    }
    if (generation !== this.generation || this.phase !== 'running') return;
    this.services.transition('etcd', 'Running', 'Service started as goroutine');
    void this.healthLoop(generation);
  }

  /** Probes now (quorum read) and records the result on the service. */
  async probe(timeoutMs = HEALTH_TIMEOUT_MS): Promise<boolean> {
    if (this.phase !== 'running') return false;
    const client = this.client(timeoutMs);
    try {
      await client.quorumRead(this.clock.real(timeoutMs) || timeoutMs);
      this.lastHealthy = true;
      this.services.setHealth('etcd', true);
    } catch (err) {
      this.lastHealthy = false;
      this.services.setHealth('etcd', false, (err as Error).message);
    } finally {
      client.close();
    }
    return this.lastHealthy;
  }

  private async healthLoop(generation: number): Promise<void> {
    while (generation === this.generation && this.phase === 'running') {
      await this.probe();
      await this.clock.sleep(HEALTH_INTERVAL_MS);
    }
  }

  /**
   * Bootstrap: stop waiting to join and start a new single-member cluster, or, with `recover`, restore the
   * uploaded snapshot first. The caller has checked the preconditions (control plane, no data).
   */
  async bootstrap(opts: { recover: boolean; skipHashCheck: boolean }): Promise<void> {
    const generation = ++this.generation;
    this.failure = undefined;
    this.services.transition('etcd', 'Finished', 'Bootstrap requested');
    this.phase = 'preparing';
    await this.run(generation, async () => {
      if (opts.recover) {
        this.log('recovering etcd from snapshot');
        await this.process.restore(this.recoverySnapshotPath, { clusterToken: this.clusterToken(), skipHashCheck: opts.skipHashCheck });
        rmSync(this.recoverySnapshotPath, { force: true });
      }
      await this.spawn(generation, { state: opts.recover ? 'existing' : 'new', initialCluster: `${this.name}=${this.process.peerUrl}`, clusterToken: this.clusterToken() });
    });
  }

  /** True when a snapshot has been uploaded for recovery. */
  hasRecoverySnapshot(): boolean {
    return existsSync(this.recoverySnapshotPath);
  }

  /** Stops the service (reboot, shutdown, upgrade): the member keeps its data and stays in the cluster. */
  async stop(): Promise<void> {
    this.generation++;
    if (this.phase !== 'stopped') this.services.transition('etcd', 'Stopping', 'Stopping service');
    this.phase = 'stopped';
    this.lastHealthy = false;
    await this.process.stop();
    this.services.transition('etcd', 'Finished', 'Service finished successfully');
  }

  /** Power loss: the process dies at once. */
  async kill(): Promise<void> {
    this.generation++;
    this.phase = 'stopped';
    this.lastHealthy = false;
    await this.process.kill();
  }

  /** Leaves the cluster gracefully (removes our member through our own etcd), then stops and deletes the data. */
  async leave(): Promise<void> {
    if (this.phase !== 'running') throw new Error('etcd is not running on this node');
    // A generation of its own: the member may exit once it has removed itself, and that exit is no failure.
    const generation = ++this.generation;
    const client = this.client(10_000);
    try {
      const status = await client.status();
      // etcd refuses reconfiguration while a member joined less than 5 s ago ("unhealthy cluster"); Talos keeps
      // retrying for up to 5 minutes, so do we (in real time: etcd's own clock does not scale).
      const deadline = Date.now() + Math.max(this.clock.real(5 * 60_000), 30_000);
      for (;;) {
        try {
          await client.memberRemove(status.header.member_id);
          break;
        } catch (err) {
          // Removing itself stops the member, which may cut off the reply: the removal has happened.
          if (/server stopped|member not found/.test((err as Error).message)) break;
          if (!/unhealthy cluster/.test((err as Error).message) || Date.now() > deadline) throw err;
          await delay(500);
        }
      }
    } finally {
      client.close();
    }
    // Power lost (or etcd restarted) meanwhile: the member is gone from the cluster, but its disk stays untouched.
    if (generation !== this.generation) throw new Error('etcd was stopped while leaving the cluster');
    await this.stop();
    this.process.wipe();
    this.memberId = undefined;
  }
}
