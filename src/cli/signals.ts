import { FleetError } from '../errors';

/** What a long-running command does on SIGINT/SIGTERM; installed before anything starts, so no signal is lost. */
export interface StopSignals {
  /** Aborted by the first signal, with the error a start-up it interrupts ends with. */
  signal: AbortSignal;
  /** Resolves with the first signal's name. */
  received: Promise<NodeJS.Signals>;
  dispose(): void;
}

/**
 * The first SIGINT or SIGTERM asks for a clean stop (`stopping` says what stops, when given); a second one exits at
 * once (130 for SIGINT, 143 for SIGTERM), after `onForcedExit` (which must be synchronous), so a stop that hangs can
 * always be cut short. Children die with us either way (see src/tools/children.ts).
 */
export function stopOnSignals(opts: { stopping?: string; onForcedExit?: () => void } = {}): StopSignals {
  const controller = new AbortController();
  let resolveReceived!: (signal: NodeJS.Signals) => void;
  const received = new Promise<NodeJS.Signals>((r) => (resolveReceived = r));
  const handler = (signal: NodeJS.Signals) => {
    if (!controller.signal.aborted) {
      if (opts.stopping) process.stderr.write(`${signal}: stopping ${opts.stopping} (send it again to exit at once)\n`);
      controller.abort(new FleetError('interrupted', `${signal} during start-up: ${opts.stopping ?? 'the command'} was stopped before it was up`));
      resolveReceived(signal);
      return;
    }
    process.stderr.write(`${signal} again: exiting at once\n`);
    opts.onForcedExit?.();
    // The one exit outside main(): waiting for main would mean waiting for the clean stop this signal cuts short.
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    signal: controller.signal,
    received,
    dispose: () => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}

/** Resolves with the first SIGINT or SIGTERM; a second one exits at once (see stopOnSignals). */
export function untilSignal(): Promise<NodeJS.Signals> {
  return stopOnSignals().received;
}
