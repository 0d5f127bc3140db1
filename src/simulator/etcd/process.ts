import { spawn, type ChildProcess, execFile } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
import { EtcdClient } from './client';

const execFileAsync = promisify(execFile);

/** Where and how one simulated control plane runs its etcd member. */
export interface EtcdProcessOptions {
  /** Member name: the node's hostname, as Talos names members. */
  name: string;
  /** Loopback address of the node; etcd listens on :2379 (clients) and :2380 (peers) there. */
  address: string;
  /** The node's /var/lib/etcd (inside its EPHEMERAL partition directory). */
  dataDir: string;
  logFile: string;
  etcdBin: string;
  etcdctlBin: string;
}

/** Every etcd child still running, so that they die with us even when we exit without stopping them. */
const liveChildren = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of liveChildren) child.kill('SIGKILL');
});

/** Raised when etcd does not come up; carries the tail of its log. */
export class EtcdStartError extends Error {}

/** Runs one real etcd member process: start, stop, freeze (SIGSTOP) and wipe, like the etcd service of a Talos node. */
export class EtcdProcess {
  private child?: ChildProcess;
  private exited?: Promise<void>;
  private frozen = false;
  readonly clientUrl: string;
  readonly peerUrl: string;

  constructor(readonly options: EtcdProcessOptions) {
    this.clientUrl = `http://${options.address}:2379`;
    this.peerUrl = `http://${options.address}:2380`;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  get isFrozen(): boolean {
    return this.frozen;
  }

  /** True when the data directory holds a member (what Talos checks before Bootstrap). */
  hasData(): boolean {
    return existsSync(this.options.dataDir) && readdirSync(this.options.dataDir).length > 0;
  }

  /** Starts etcd with the given initial cluster; resolves once it serves its status endpoint. */
  async start(init: { state: 'new' | 'existing'; initialCluster: string; clusterToken: string }, readyTimeoutMs = 30_000): Promise<void> {
    if (this.child) return;
    const o = this.options;
    mkdirSync(dirname(o.dataDir), { recursive: true });
    mkdirSync(dirname(o.logFile), { recursive: true });
    const log = openSync(o.logFile, 'a');
    const child = spawn(
      o.etcdBin,
      [
        `--name=${o.name}`,
        `--data-dir=${o.dataDir}`,
        `--listen-client-urls=${this.clientUrl}`,
        `--advertise-client-urls=${this.clientUrl}`,
        `--listen-peer-urls=${this.peerUrl}`,
        `--initial-advertise-peer-urls=${this.peerUrl}`,
        `--initial-cluster=${init.initialCluster}`,
        `--initial-cluster-state=${init.state}`,
        `--initial-cluster-token=${init.clusterToken}`,
        '--logger=zap',
        '--log-outputs=stderr',
      ],
      { stdio: ['ignore', log, log] },
    );
    closeSync(log);
    this.child = child;
    liveChildren.add(child);
    this.frozen = false;
    this.exited = new Promise<void>((resolve) => {
      child.once('exit', () => {
        liveChildren.delete(child);
        if (this.child === child) this.child = undefined;
        resolve();
      });
    });
    const client = new EtcdClient(this.clientUrl, 1000);
    const deadline = Date.now() + readyTimeoutMs;
    try {
      for (;;) {
        if (!this.child) throw new EtcdStartError(`etcd member ${o.name} exited during start; see ${o.logFile}`);
        try {
          await client.status(1000);
          return;
        } catch {
          if (Date.now() > deadline) throw new EtcdStartError(`etcd member ${o.name} did not start within ${readyTimeoutMs} ms; see ${o.logFile}`);
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    } finally {
      client.close();
    }
  }

  /** Stops etcd (SIGTERM, then SIGKILL after a grace period); data stays. */
  async stop(graceMs = 5_000): Promise<void> {
    const child = this.child;
    if (!child) return;
    if (this.frozen) child.kill('SIGCONT');
    this.frozen = false;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** Kills the process at once (power loss); data stays as it was on disk. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill('SIGKILL');
    this.frozen = false;
    await this.exited;
  }

  /** Freezes the process: it stops answering peers and clients, as a hung or partitioned member does. */
  freeze(): void {
    if (this.child && !this.frozen) {
      this.child.kill('SIGSTOP');
      this.frozen = true;
    }
  }

  thaw(): void {
    if (this.child && this.frozen) {
      this.child.kill('SIGCONT');
      this.frozen = false;
    }
  }

  /** Deletes the data directory (Reset of EPHEMERAL, or leaving the cluster). Only while stopped. */
  wipe(): void {
    if (this.child) throw new Error(`cannot wipe the data of etcd member ${this.options.name} while it runs`);
    rmSync(this.options.dataDir, { recursive: true, force: true });
  }

  /** Restores a snapshot file into an empty data directory as a new single-member cluster (`etcdctl snapshot restore`). */
  async restore(snapshotFile: string, opts: { clusterToken: string; skipHashCheck: boolean }): Promise<void> {
    const o = this.options;
    rmSync(o.dataDir, { recursive: true, force: true });
    mkdirSync(dirname(o.dataDir), { recursive: true });
    await execFileAsync(
      o.etcdctlBin,
      [
        'snapshot',
        'restore',
        snapshotFile,
        `--name=${o.name}`,
        `--data-dir=${o.dataDir}`,
        `--initial-cluster=${o.name}=${this.peerUrl}`,
        `--initial-advertise-peer-urls=${this.peerUrl}`,
        `--initial-cluster-token=${opts.clusterToken}`,
        `--skip-hash-check=${opts.skipHashCheck}`,
      ],
      { env: { ...process.env, ETCDCTL_API: '3' } },
    );
  }
}
