import { FleetError } from '../errors';

/**
 * The installer's exit codes as Talos 1.14 classifies them (1.13 has no classes: every failure is 1). A non-zero
 * code arrives inside a LifecycleService stream that itself ends with status OK, so the client turns it into an
 * {@link InstallerFailedError}; `retryable` says whether running the same installer again can succeed.
 */
export const INSTALLER_EXIT_CLASSES: Readonly<Record<number, { name: string; retryable: boolean }>> = {
  1: { name: 'unknown', retryable: false },
  2: { name: 'invalid input', retryable: false },
  3: { name: 'unsupported', retryable: false },
  4: { name: 'environment', retryable: false },
  // A pull or another dependency that failed, and I/O: both can clear up.
  5: { name: 'dependency', retryable: true },
  6: { name: 'I/O', retryable: true },
  7: { name: 'install', retryable: false },
};

/** How many of the installer's last lines an {@link InstallerFailedError} keeps (its message shows the last one). */
const KEPT_LINES = 20;

/** The installer exited with a non-zero code (LifecycleService Install/Upgrade): code `installer_failed`. */
export class InstallerFailedError extends FleetError {
  constructor(
    readonly node: string,
    readonly exitCode: number,
    /** The installer's last output lines, oldest first. */
    readonly lines: string[],
  ) {
    const cls = INSTALLER_EXIT_CLASSES[exitCode] ?? { name: 'unclassified', retryable: false };
    const last = lines[lines.length - 1];
    super('installer_failed', `installer on node ${node} exited with code ${exitCode} (${cls.name})${last ? `: ${last}` : ''}`, { retryable: cls.retryable });
  }
}

/** One item of {@link TalosClient.lifecycleUpgrade}: an installer output line, then (last) the exit code 0. */
export type InstallerProgress = { line: string; exitCode?: undefined } | { exitCode: 0; line?: undefined };

/**
 * Turns the raw progress stream into lines, ending with `{ exitCode: 0 }`; a non-zero exit code throws
 * {@link InstallerFailedError}, and a stream that ends without an exit code is an `unexpected_reply`.
 */
export async function* installerProgress(node: string, progress: AsyncIterable<{ message?: string; exitCode?: number; response?: string } | null | undefined>): AsyncGenerator<InstallerProgress> {
  const recent: string[] = [];
  for await (const p of progress) {
    if (p?.response === 'message') {
      const line = (p.message ?? '').replace(/\n$/, '');
      recent.push(line);
      if (recent.length > KEPT_LINES) recent.shift();
      yield { line };
    } else if (p?.response === 'exitCode') {
      if (p.exitCode === 0) {
        yield { exitCode: 0 };
        return;
      }
      throw new InstallerFailedError(node, p.exitCode ?? 1, recent);
    }
  }
  throw new FleetError('unexpected_reply', `the installer stream of node ${node} ended without an exit code${recent.length ? ` (last line: ${recent[recent.length - 1]})` : ''}`);
}
