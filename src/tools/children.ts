import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { FleetError } from '../errors';

/**
 * Child processes that never outlive us. Every long-running helper program (etcd members now; the Temporal dev
 * server and kube-apiserver later) is started through {@link spawnGuarded}, so none is left running when the
 * simulator stops, crashes or is killed with SIGKILL.
 *
 * On Linux, `setpriv --pdeathsig SIGKILL` sets PR_SET_PDEATHSIG before it execs the program: the kernel kills
 * the child when we die, however we die. Without setpriv the children are killed from our `exit` handler, which
 * covers every exit but SIGKILL. Either way each child gets a process group of its own, so a Ctrl-C in the
 * terminal reaches only us, and we stop the children in order instead of them dying half-way through a stop.
 */

/** How a guarded child ended: its exit code or signal, or the error that kept it from starting. */
export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  error?: Error;
}

/** A child started by {@link spawnGuarded}. */
export interface GuardedChild {
  readonly child: ChildProcess;
  /** Resolves (never rejects) once the child has exited or failed to start. */
  readonly exited: Promise<ChildExit>;
  /** `pdeathsig`: the kernel kills it when we die; `exit-handler`: killed when we exit, but not on SIGKILL. */
  readonly guard: 'pdeathsig' | 'exit-handler';
}

const SETPRIV_CANDIDATES = ['/usr/bin/setpriv', '/bin/setpriv'];

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The program's path: as given when it names a file, else the first match on PATH. */
function resolveExecutable(command: string, env: NodeJS.ProcessEnv): string {
  if (command.includes('/')) {
    if (isExecutable(command)) return command;
    throw new FleetError('spawn_failed', `cannot run ${command}: it does not exist or is not executable`);
  }
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir && isExecutable(join(dir, command))) return join(dir, command);
  }
  throw new FleetError('spawn_failed', `cannot run ${command}: not found on PATH`);
}

let setprivPath: string | null | undefined;

/** setpriv, when it is there and knows --pdeathsig (util-linux 2.33 and later); checked once per process. */
function deathSignalWrapper(): string | undefined {
  if (setprivPath === undefined) {
    setprivPath = null;
    const found = process.platform === 'linux' ? SETPRIV_CANDIDATES.find(isExecutable) : undefined;
    if (found) {
      try {
        execFileSync(found, ['--pdeathsig', 'SIGKILL', '--', 'true'], { stdio: 'ignore', timeout: 5_000 });
        setprivPath = found;
      } catch {
        // An old setpriv without --pdeathsig: fall back to the exit handler.
      }
    }
  }
  return setprivPath ?? undefined;
}

/** Children still running; killed from the exit handler (the only guard where setpriv is missing). */
const live = new Set<ChildProcess>();
let exitHandlerInstalled = false;

function killGroup(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    // The child leads its own process group: this also reaches anything it started.
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
}

function installExitHandler(): void {
  if (exitHandlerInstalled) return;
  exitHandlerInstalled = true;
  process.on('exit', () => {
    for (const child of live) killGroup(child);
  });
}

/**
 * Spawns `command` so that it cannot outlive this process (see the file comment). `command` is a path or a name
 * on PATH; a missing program is refused here with a FleetError rather than reported later as an exit code.
 * The child always has an `'error'` listener; `exited` tells how it ended. `options.detached` is always set.
 */
export function spawnGuarded(command: string, args: readonly string[], options: SpawnOptions = {}): GuardedChild {
  const program = resolveExecutable(command, options.env ?? process.env);
  const setpriv = deathSignalWrapper();
  const [file, argv] = setpriv ? [setpriv, ['--pdeathsig', 'SIGKILL', '--', program, ...args]] : [program, [...args]];
  installExitHandler();
  const child = spawn(file, argv, { ...options, detached: true });
  live.add(child);
  const exited = new Promise<ChildExit>((resolve) => {
    child.once('error', (error) => {
      live.delete(child);
      resolve({ code: null, signal: null, error });
    });
    child.once('exit', (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    });
  });
  return { child, exited, guard: setpriv ? 'pdeathsig' : 'exit-handler' };
}

/** "exit code 1", "killed by SIGKILL", or why it could not start: for error messages. */
export function describeExit(exit: ChildExit): string {
  if (exit.error) return `could not start: ${exit.error.message}`;
  if (exit.signal) return `killed by ${exit.signal}`;
  return `exit code ${exit.code}`;
}

/**
 * Runs a short-lived program through {@link spawnGuarded} to completion. Rejects with a FleetError naming the
 * program, how it ended and the last line it wrote to stderr.
 */
export async function runGuarded(command: string, args: readonly string[], options: Omit<SpawnOptions, 'stdio'> = {}): Promise<{ stdout: string; stderr: string }> {
  const { child, exited } = spawnGuarded(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  // 'exit' can come before the pipes are drained; 'close' comes after both.
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const exit = await exited;
  if (!exit.error) await closed;
  if (exit.error || exit.code !== 0) {
    const last = stderr.trim().split('\n').pop();
    throw new FleetError('command_failed', `${command} ${args[0] ?? ''} failed (${describeExit(exit)})${last ? `: ${last}` : ''}`);
  }
  return { stdout, stderr };
}
