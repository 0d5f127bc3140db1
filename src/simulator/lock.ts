import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { FleetError } from '../errors';

/** What the lock file of a fleet directory holds: who runs the fleet there. */
interface LockOwner {
  pid: number;
  startedAt: string;
}

/** True when a process with this pid exists (EPERM: it exists, but belongs to someone else). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readOwner(path: string): LockOwner | undefined {
  try {
    const owner = JSON.parse(readFileSync(path, 'utf8')) as Partial<LockOwner>;
    return typeof owner.pid === 'number' && Number.isInteger(owner.pid) && owner.pid > 0 ? { pid: owner.pid, startedAt: String(owner.startedAt ?? '') } : undefined;
  } catch {
    return undefined;
  }
}

/** Creates the lock file, failing with EEXIST when there is one. */
function create(path: string, owner: LockOwner): void {
  const fd = openSync(path, 'wx', 0o644);
  try {
    writeSync(fd, JSON.stringify(owner));
  } finally {
    closeSync(fd);
  }
}

/**
 * One fleet per directory: an exclusive lock file (`DIR/sim.lock`) holding the owner's pid. A second fleet on the
 * same directory is refused with the running one named; a lock left by a process that has died (SIGKILL, a crash)
 * is stale and taken over. Two processes taking over the same stale lock at the same instant is the one race left:
 * the loser sees the winner's pid on its re-read and is refused.
 */
export class FleetDirLock {
  private held = true;

  private constructor(readonly path: string) {}

  /** Takes the lock of `dir`, or throws `fleet_running` naming the process that holds it. */
  static acquire(dir: string): FleetDirLock {
    mkdirSync(dir, { recursive: true });
    const path = join(dir, 'sim.lock');
    const me: LockOwner = { pid: process.pid, startedAt: new Date().toISOString() };
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        create(path, me);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new FleetError('lock_failed', `cannot create the lock file ${path}: ${(err as Error).message}`);
        const owner = readOwner(path);
        if (owner && alive(owner.pid)) {
          const who = owner.pid === process.pid ? 'this process' : `process ${owner.pid}`;
          throw new FleetError(
            'fleet_running',
            `a simulated fleet already runs in ${dir} (${who}, since ${owner.startedAt || 'an unknown time'}): stop it first (Ctrl-C where it runs, or kill ${owner.pid}), or use another --dir`,
          );
        }
        // Stale: its owner died without cleaning up (or the file is not ours to read). Take it over.
        rmSync(path, { force: true });
        continue;
      }
      if (readOwner(path)?.pid === process.pid) return new FleetDirLock(path);
    }
    throw new FleetError('fleet_running', `another process is starting a simulated fleet in ${dir} at the same time; try again`);
  }

  /** Releases the lock (idempotent); only while it still holds our pid, never another fleet's. */
  release(): void {
    if (!this.held) return;
    this.held = false;
    if (readOwner(this.path)?.pid === process.pid) rmSync(this.path, { force: true });
  }
}
