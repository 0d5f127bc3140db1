// Running the commands of a build with their output in a log file: a build prints one line when it goes well,
// and the log's last lines when it fails.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';

/** Appends each command's output to one log file; a failing command throws with the log's tail. */
export class CommandLog {
  constructor(readonly path: string) {}

  /** Runs `cmd args` to completion (output into the log) and returns nothing; throws when it fails. */
  run(cmd: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): void {
    const fd = openSync(this.path, 'a');
    try {
      writeSync(fd, `$ ${cmd} ${args.join(' ')}${options.cwd ? `   (in ${options.cwd})` : ''}\n`);
      const r = spawnSync(cmd, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', fd, fd] });
      this.check(cmd, args, r);
    } finally {
      closeSync(fd);
    }
  }

  /** Runs a command and returns its standard output (its standard error goes to the log). */
  output(cmd: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): string {
    const fd = openSync(this.path, 'a');
    try {
      writeSync(fd, `$ ${cmd} ${args.join(' ')}\n`);
      const r = spawnSync(cmd, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', fd], encoding: 'utf8', maxBuffer: 64 << 20 });
      this.check(cmd, args, r);
      return r.stdout;
    } finally {
      closeSync(fd);
    }
  }

  private check(cmd: string, args: string[], r: SpawnSyncReturns<unknown>): void {
    if (r.error) {
      const missing = (r.error as NodeJS.ErrnoException).code === 'ENOENT';
      throw new Error(missing ? `${cmd} is not installed (not found on PATH)` : `${cmd} could not run: ${r.error.message}`);
    }
    if (r.status !== 0) throw new Error(`\`${cmd} ${args.join(' ')}\` failed (${r.signal ?? `exit ${r.status}`}); last lines of ${this.path}:\n${this.tail()}`);
  }

  /** The last lines of the log, indented, for an error message. */
  tail(lines = 15): string {
    return readFileSync(this.path, 'utf8').trimEnd().split('\n').slice(-lines).map((l) => `    ${l}`).join('\n');
  }
}
