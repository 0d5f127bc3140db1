// Running the commands of a build with their output in a log file: a build prints one line when it goes well,
// and the log's last lines when it fails.
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';

/** Appends each command's output to one log file; a failing command throws with the log's tail. */
export class CommandLog {
  constructor(readonly path: string) {}

  /** Runs `cmd args` to completion, its output into the log; rejects when it cannot start or fails. */
  async run(cmd: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<void> {
    await this.spawn(cmd, args, options, false);
  }

  /** Runs a command and returns its standard output (its standard error goes to the log). */
  async output(cmd: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
    return this.spawn(cmd, args, options, true);
  }

  private async spawn(cmd: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv }, capture: boolean): Promise<string> {
    const fd = openSync(this.path, 'a');
    writeSync(fd, `$ ${cmd} ${args.join(' ')}${options.cwd ? `   (in ${options.cwd})` : ''}\n`);
    try {
      return await new Promise<string>((resolve, reject) => {
        const child = spawn(cmd, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', capture ? 'pipe' : fd, fd] });
        const out: Buffer[] = [];
        child.stdout?.on('data', (chunk: Buffer) => out.push(chunk));
        let failedToStart = false;
        child.once('error', (e: NodeJS.ErrnoException) => {
          failedToStart = true;
          reject(new Error(e.code === 'ENOENT' ? `${cmd} is not installed (not found on PATH)` : `${cmd} could not run: ${e.message}`));
        });
        // 'close' follows 'error' too; the error has said it all.
        child.once('close', (code, signal) => {
          if (failedToStart) return;
          if (code === 0) resolve(Buffer.concat(out).toString('utf8'));
          else reject(new Error(`\`${cmd} ${args.join(' ')}\` failed (${signal ?? `exit ${code}`}); last lines of ${this.path}:\n${this.tail()}`));
        });
      });
    } finally {
      closeSync(fd);
    }
  }

  /** The last lines of the log, indented, for an error message. */
  tail(lines = 15): string {
    return readFileSync(this.path, 'utf8').trimEnd().split('\n').slice(-lines).map((l) => `    ${l}`).join('\n');
  }
}
