/**
 * Durations of simulated node work, in simulated milliseconds (what a real machine would take).
 * A fleet's time scale multiplies them: 1 is realistic (a demo), 0.01 turns a 15 s boot into 150 ms (tests).
 * Defaults follow the timings in talos-ops.md §5 for a VM.
 */
export interface Timings {
  /** Installer run after ApplyConfiguration in maintenance mode, before the first reboot. */
  installMs: number;
  /** Power-on (or kexec) to the end of the boot sequence. */
  bootMs: number;
  /** Stopping services before a reboot or power-off. */
  shutdownMs: number;
  /** Cordon and drain at the start of an upgrade. */
  drainMs: number;
  /** The installer writing the new image during an upgrade. */
  upgradeInstallMs: number;
  /** A boot of a broken image until machined gives up and rolls back (Talos counts down 10 s). */
  failedBootMs: number;
  /** Pause between attempts of etcd's join loop while it waits in Preparing. */
  etcdJoinRetryMs: number;
  /** kubelet start to the node reporting Ready. */
  kubeletReadyMs: number;
}

export const DEFAULT_TIMINGS: Timings = {
  installMs: 30_000,
  bootMs: 15_000,
  shutdownMs: 5_000,
  drainMs: 10_000,
  upgradeInstallMs: 20_000,
  failedBootMs: 20_000,
  etcdJoinRetryMs: 5_000,
  kubeletReadyMs: 5_000,
};

/** Turns simulated durations into real waits. */
export class SimClock {
  constructor(
    readonly timeScale: number,
    readonly timings: Timings = DEFAULT_TIMINGS,
  ) {
    if (!(timeScale > 0)) throw new RangeError(`time scale must be a positive number, got ${timeScale}`);
  }

  /** Real milliseconds for a simulated duration. */
  real(simulatedMs: number): number {
    return Math.round(simulatedMs * this.timeScale);
  }

  /** Waits a simulated duration (scaled), optionally multiplied (a slow-reboot fault), abortable. */
  sleep(simulatedMs: number, factor = 1, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason as Error);
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, this.real(simulatedMs * factor));
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal!.reason as Error);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}
