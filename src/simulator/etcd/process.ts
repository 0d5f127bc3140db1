import type { ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readSync, rmSync, statSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { describeExit, runGuarded, spawnGuarded } from '../../tools/children';
import { EtcdClient } from './client';
import { delay } from '../../time';

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
  /** etcdutl: restores snapshots (etcd 3.6 dropped `etcdctl snapshot restore`); etcdctl restores when absent. */
  etcdutlBin?: string;
  /** `cluster.etcd.extraArgs` of the node's machine config, read at each start; flags the node manages are left out. */
  extraArgs?: () => Record<string, string>;
}

/** Flags Talos sets itself and does not let `extraArgs` replace. */
const MANAGED_FLAGS = new Set(['name', 'data-dir', 'listen-client-urls', 'advertise-client-urls', 'listen-peer-urls', 'initial-advertise-peer-urls', 'initial-cluster', 'initial-cluster-state', 'initial-cluster-token', 'logger', 'log-outputs']);

/**
 * The user's `extraArgs` as the simulated node passes them, kept on loopback: a URL flag (`listen-metrics-urls`)
 * naming the unspecified address (`0.0.0.0`, `[::]`: every interface of a real node) listens on the node's own
 * loopback address instead, and one naming an address off loopback is left out, with a line in etcd's log saying so.
 * The simulated fleet never listens beyond 127.0.0.0/8.
 */
export function loopbackExtraArgs(extra: Record<string, string>, address: string): { args: string[]; dropped: string[] } {
  const args: string[] = [];
  const dropped: string[] = [];
  for (const [flag, value] of Object.entries(extra)) {
    if (MANAGED_FLAGS.has(flag)) continue;
    if (!flag.endsWith('-urls')) {
      args.push(`--${flag}=${value}`);
      continue;
    }
    const urls = value.split(',').map((u) => u.trim().replace(/^(\w+:\/\/)(0\.0\.0\.0|\[::\])(?=[:/]|$)/, `$1${address}`));
    const offLoopback = urls.filter((u) => !/^\w+:\/\/127\.\d+\.\d+\.\d+(?=[:/]|$)/.test(u));
    if (offLoopback.length) dropped.push(`--${flag}=${value} (${offLoopback.join(', ')} is not on loopback)`);
    else args.push(`--${flag}=${urls.join(',')}`);
  }
  return { args, dropped };
}

/** Raised when etcd does not come up; says why (etcd's own fatal error when it logged one). */
export class EtcdStartError extends Error {}

/** How much of the log's end is searched for etcd's last words. */
const LOG_TAIL_BYTES = 64 * 1024;

/**
 * Why etcd stopped, from what it logged since `fromOffset`: the error of its last fatal (or "failed to start")
 * line, e.g. `listen tcp 127.0.0.11:2379: bind: address already in use`; undefined when it logged none.
 */
function lastWords(logFile: string, fromOffset: number): string | undefined {
  let text: string;
  try {
    const size = statSync(logFile).size;
    const start = Math.max(fromOffset, size - LOG_TAIL_BYTES);
    const buffer = Buffer.alloc(size - start);
    const fd = openSync(logFile, 'r');
    try {
      readSync(fd, buffer, 0, buffer.length, start);
    } finally {
      closeSync(fd);
    }
    text = buffer.toString('utf8');
  } catch {
    return undefined;
  }
  let found: string | undefined;
  for (const line of text.split('\n')) {
    try {
      const entry = JSON.parse(line) as { level?: string; msg?: string; error?: string };
      if (entry.level === 'fatal' || entry.level === 'panic' || entry.msg === 'failed to start etcd') found = entry.error ?? entry.msg;
    } catch {
      // not one of etcd's JSON log lines
    }
  }
  return found;
}

/** Runs one real etcd member process: start, stop, freeze (SIGSTOP) and wipe, like the etcd service of a Talos node. */
export class EtcdProcess {
  private child?: ChildProcess;
  /** Resolves with why the current child ended, once it has. */
  private exit?: Promise<string>;
  /** The start in progress: a second start waits for it instead of reporting a member that is not up yet. */
  private starting?: Promise<void>;
  private frozen = false;
  readonly clientUrl: string;
  readonly peerUrl: string;

  constructor(readonly options: EtcdProcessOptions) {
    this.clientUrl = `http://${options.address}:2379`;
    this.peerUrl = `http://${options.address}:2380`;
  }

  /** Switches to another etcd release's binaries for the next start (a node booted a Talos that ships another etcd). */
  useBinaries(tools: { etcd: string; etcdctl: string; etcdutl?: string }): void {
    this.options.etcdBin = tools.etcd;
    this.options.etcdctlBin = tools.etcdctl;
    this.options.etcdutlBin = tools.etcdutl;
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

  /** Resolves with why the last child started ended, once it has (undefined when none was ever started). */
  async exited(): Promise<string | undefined> {
    return this.exit;
  }

  /**
   * Starts etcd with the given initial cluster; resolves once it serves its status endpoint. The process is
   * spawned before this returns its promise (callers rely on that to start it only while the node is up).
   * Rejects with {@link EtcdStartError} when etcd exits or is not up within `readyTimeoutMs` (it is killed then).
   */
  start(init: { state: 'new' | 'existing'; initialCluster: string; clusterToken: string }, readyTimeoutMs = 30_000): Promise<void> {
    if (this.starting) return this.starting;
    if (this.child) return Promise.resolve();
    const starting = this.launch(init, readyTimeoutMs).finally(() => {
      if (this.starting === starting) this.starting = undefined;
    });
    this.starting = starting;
    return starting;
  }

  private async launch(init: { state: 'new' | 'existing'; initialCluster: string; clusterToken: string }, readyTimeoutMs: number): Promise<void> {
    const o = this.options;
    mkdirSync(dirname(o.dataDir), { recursive: true });
    mkdirSync(dirname(o.logFile), { recursive: true });
    const logOffset = existsSync(o.logFile) ? statSync(o.logFile).size : 0;
    const log = openSync(o.logFile, 'a');
    const extra = loopbackExtraArgs(o.extraArgs?.() ?? {}, o.address);
    for (const d of extra.dropped) writeSync(log, `talos-fleet simulator: left out etcd extraArgs ${d}: the simulated fleet listens on loopback only\n`);
    let guarded;
    try {
      guarded = spawnGuarded(
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
          ...extra.args,
        ],
        { stdio: ['ignore', log, log] },
      );
    } finally {
      closeSync(log);
    }
    const { child } = guarded;
    this.child = child;
    this.frozen = false;
    this.exit = guarded.exited.then((exit) => {
      if (this.child === child) {
        this.child = undefined;
        this.frozen = false;
      }
      const words = lastWords(o.logFile, logOffset);
      return words ? `${words} (${describeExit(exit)})` : describeExit(exit);
    });
    const exit = this.exit;
    const client = new EtcdClient(this.clientUrl, 1000);
    const deadline = Date.now() + readyTimeoutMs;
    try {
      for (;;) {
        if (this.child !== child) throw new EtcdStartError(`etcd member ${o.name} exited during start: ${await exit}; see ${o.logFile}`);
        try {
          await client.status(1000);
          return;
        } catch {
          if (Date.now() > deadline) {
            // A member that never came up must not stay behind, half-started, as if it had.
            await this.kill();
            throw new EtcdStartError(`etcd member ${o.name} did not start within ${readyTimeoutMs} ms; see ${o.logFile}`);
          }
          await delay(100);
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
    await this.exit;
    clearTimeout(timer);
  }

  /** Kills the process at once (power loss); data stays as it was on disk. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill('SIGKILL');
    this.frozen = false;
    await this.exit;
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

  /** Restores a snapshot file into an empty data directory as a new single-member cluster (`etcdutl snapshot restore`). */
  async restore(snapshotFile: string, opts: { clusterToken: string; skipHashCheck: boolean }): Promise<void> {
    const o = this.options;
    rmSync(o.dataDir, { recursive: true, force: true });
    mkdirSync(dirname(o.dataDir), { recursive: true });
    await runGuarded(
      o.etcdutlBin ?? o.etcdctlBin,
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
