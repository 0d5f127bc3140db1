import type { ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { describeExit, spawnGuarded } from '../../tools/children';
import { delay } from '../../time';

/** How one control-plane component runs: its binary, flags, log, and how to tell it is ready. */
export interface ComponentProcessOptions {
  /** `kube-apiserver`, ... */
  name: string;
  binary: string;
  args: string[];
  logFile: string;
  /** Resolves true once the component answers its readiness probe. */
  ready: () => Promise<boolean>;
  readyTimeoutMs: number;
}

/** Raised when a component does not come up; names the log to read. */
export class ComponentStartError extends Error {}

/** The last line a component logged since `offset` that reads like an error (klog's `E`/`F` lines, Go flag errors). */
function lastError(logFile: string, offset: number): string | undefined {
  try {
    const size = statSync(logFile).size;
    const text = readFileSync(logFile).subarray(Math.max(offset, size - 64 * 1024)).toString('utf8');
    const lines = text.split('\n').filter((l) => /^[EF]\d{4} |^Error: |error: |^unknown flag/i.test(l));
    return lines.at(-1)?.trim().slice(0, 300);
  } catch {
    return undefined;
  }
}

/**
 * One real control-plane process (what a static pod's container is on a Talos node), started so it never outlives
 * the simulator, with its output in `logFile`.
 */
export class ComponentProcess {
  private child?: ChildProcess;
  private exit?: Promise<string>;

  constructor(readonly options: ComponentProcessOptions) {}

  get running(): boolean {
    return this.child !== undefined;
  }

  /** The pid of the running process, for measurements. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /**
   * Spawns the process (synchronously, before the returned promise settles) and resolves once it is ready.
   * Rejects with {@link ComponentStartError} naming the log when it exits first or is not ready in time (it is killed then).
   */
  start(signal?: AbortSignal): Promise<void> {
    const o = this.options;
    mkdirSync(dirname(o.logFile), { recursive: true });
    const offset = existsSync(o.logFile) ? statSync(o.logFile).size : 0;
    const log = openSync(o.logFile, 'a');
    let guarded;
    try {
      guarded = spawnGuarded(o.binary, o.args, { stdio: ['ignore', log, log] });
    } finally {
      closeSync(log);
    }
    const { child } = guarded;
    this.child = child;
    this.exit = guarded.exited.then((exit) => {
      if (this.child === child) this.child = undefined;
      const words = lastError(o.logFile, offset);
      return words ? `${describeExit(exit)}: ${words}` : describeExit(exit);
    });
    return this.waitReady(child, signal);
  }

  private async waitReady(child: ChildProcess, signal?: AbortSignal): Promise<void> {
    const o = this.options;
    const deadline = Date.now() + o.readyTimeoutMs;
    for (;;) {
      if (this.child !== child) throw new ComponentStartError(`${o.name} exited during start (${await this.exit}); see ${o.logFile}`);
      if (signal?.aborted) {
        await this.kill();
        throw signal.reason as Error;
      }
      if (await o.ready()) return;
      if (Date.now() > deadline) {
        await this.kill();
        throw new ComponentStartError(`${o.name} did not become ready within ${Math.round(o.readyTimeoutMs / 1000)} s; see ${o.logFile}`);
      }
      await delay(200);
    }
  }

  /** Resolves with why the process ended, once it has (undefined when none was started). */
  exited(): Promise<string> | undefined {
    return this.exit;
  }

  /** SIGTERM, then SIGKILL after `graceMs`, as the kubelet stops a container. */
  async stop(graceMs = 5_000): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await this.exit;
    clearTimeout(timer);
  }

  /** The pid of the process while it runs, for messages. */
  describe(): string {
    return `${this.options.name}${this.child?.pid ? ` (pid ${this.child.pid})` : ''}`;
  }

  /** Kills the process at once (power loss). */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill('SIGKILL');
    await this.exit;
  }
}
